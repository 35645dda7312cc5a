/**
 * Reading ZIP archives in memory: the central directory, then each member, stored or deflated.
 *
 * Enough of the ZIP format (PKWARE APPNOTE 6.3) to read data-set archives such as the Stanford
 * Sentiment Treebank's `trainDevTestTrees_PTB.zip`. Deflated members are inflated with
 * `node:zlib`'s `inflateRawSync`, and every member is checked against the CRC-32 that the
 * archive records for it.
 *
 * NOTE: ZIP64 archives (members or archives of 4 GiB and more), encryption and compression
 * methods other than stored (0) and deflate (8) are rejected, not read.
 *
 * @module
 */

import { deflateRawSync, inflateRawSync } from "node:zlib";
import { DataError } from "./idx.ts";

/** One member of a ZIP archive, as its central directory describes it. */
export interface ZipEntry {
  /** Path inside the archive, e.g. `trees/train.txt`; folders end with `/`. */
  name: string;
  /** Compression method: 0 stored, 8 deflate. */
  method: number;
  /** Size of the member's data in the archive, in bytes. */
  compressedSize: number;
  /** Size after decompression, in bytes. */
  uncompressedSize: number;
  /** CRC-32 of the uncompressed data. */
  crc32: number;
  /** Byte offset of the member's local header in the archive. */
  localHeaderOffset: number;
}

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_DIRECTORY_HEADER = 0x02014b50;
const LOCAL_FILE_HEADER = 0x04034b50;
/** Size of the end-of-central-directory record without its trailing comment. */
const EOCD_SIZE = 22;
/** The comment after the end record is at most 65,535 bytes long. */
const MAX_COMMENT = 0xffff;

/**
 * List the members of the ZIP archive `bytes`, in central-directory order.
 *
 * @param fileName path or URL of the archive, for error messages
 * @throws {DataError} naming the file when the archive is truncated, is not a ZIP file, or uses
 *   ZIP64
 */
export function listZipEntries(bytes: Uint8Array, fileName: string): ZipEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (problem: string): never => {
    throw new DataError(`${fileName}: invalid ZIP archive: ${problem}`);
  };

  // The end record is the last thing in the file, followed only by its comment, so search
  // backwards for its signature.
  let end = -1;
  const lowest = Math.max(0, bytes.length - EOCD_SIZE - MAX_COMMENT);
  for (let at = bytes.length - EOCD_SIZE; at >= lowest; at--) {
    if (view.getUint32(at, true) === END_OF_CENTRAL_DIRECTORY) {
      end = at;
      break;
    }
  }
  if (end < 0) {
    return fail(`no end-of-central-directory record in ${bytes.length} bytes (truncated?)`);
  }

  const count = view.getUint16(end + 10, true);
  const directorySize = view.getUint32(end + 12, true);
  const directoryOffset = view.getUint32(end + 16, true);
  if (count === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) {
    return fail("ZIP64 archives are not supported");
  }
  if (directoryOffset + directorySize > end) {
    return fail(
      `central directory at bytes ${directoryOffset}..${directoryOffset + directorySize} ` +
        `overlaps the end record at byte ${end} (truncated?)`,
    );
  }

  const entries: ZipEntry[] = [];
  const decoder = new TextDecoder();
  let at = directoryOffset;
  for (let i = 0; i < count; i++) {
    if (at + 46 > end || view.getUint32(at, true) !== CENTRAL_DIRECTORY_HEADER) {
      return fail(`central directory entry ${i} at byte ${at} has no valid header`);
    }
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    const entry: ZipEntry = {
      name: decoder.decode(bytes.subarray(at + 46, at + 46 + nameLength)),
      method: view.getUint16(at + 10, true),
      crc32: view.getUint32(at + 16, true),
      compressedSize: view.getUint32(at + 20, true),
      uncompressedSize: view.getUint32(at + 24, true),
      localHeaderOffset: view.getUint32(at + 42, true),
    };
    if (entry.compressedSize === 0xffffffff || entry.localHeaderOffset === 0xffffffff) {
      return fail(`member ${entry.name} uses ZIP64, which is not supported`);
    }
    entries.push(entry);
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/**
 * Return the uncompressed data of `entry` from the archive `bytes`.
 *
 * @param fileName path or URL of the archive, for error messages
 * @throws {DataError} naming the archive and the member when its data is truncated, corrupt,
 *   encrypted, compressed with an unsupported method, or fails the CRC-32 check
 */
export function readZipEntry(bytes: Uint8Array, entry: ZipEntry, fileName: string): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const where = `${fileName}: member ${entry.name}`;
  const at = entry.localHeaderOffset;
  if (at + 30 > bytes.length || view.getUint32(at, true) !== LOCAL_FILE_HEADER) {
    throw new DataError(`${where}: no local file header at byte ${at}`);
  }
  const flags = view.getUint16(at + 6, true);
  if (flags & 1) throw new DataError(`${where}: encrypted members are not supported`);
  // The local header repeats the name and may carry its own extra field, so skip both lengths.
  const start = at + 30 + view.getUint16(at + 26, true) + view.getUint16(at + 28, true);
  const stop = start + entry.compressedSize;
  if (stop > bytes.length) {
    throw new DataError(
      `${where}: data ends at byte ${stop}, after the end of the ${bytes.length}-byte archive ` +
        "(truncated?)",
    );
  }
  const raw = bytes.subarray(start, stop);

  let data: Uint8Array;
  if (entry.method === 0) {
    data = raw;
  } else if (entry.method === 8) {
    try {
      const out = inflateRawSync(raw);
      data = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      throw new DataError(`${where}: corrupt deflate data: ${detail}`, { cause: err });
    }
  } else {
    throw new DataError(
      `${where}: compression method ${entry.method} is not supported (only 0 stored, 8 deflate)`,
    );
  }

  if (data.length !== entry.uncompressedSize) {
    throw new DataError(
      `${where}: ${data.length} bytes after decompression, expected ${entry.uncompressedSize}`,
    );
  }
  const crc = crc32(data);
  if (crc !== entry.crc32) {
    throw new DataError(
      `${where}: CRC-32 mismatch: expected ${hex(entry.crc32)}, got ${hex(crc)} (corrupt file?)`,
    );
  }
  return data;
}

/**
 * Return every file member of the ZIP archive `bytes` by name, uncompressed. Folder entries
 * (names ending in `/`) are left out.
 *
 * @throws {DataError} as {@linkcode listZipEntries} and {@linkcode readZipEntry} do
 */
export function readZip(bytes: Uint8Array, fileName: string): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  for (const entry of listZipEntries(bytes, fileName)) {
    if (entry.name.endsWith("/")) continue;
    files.set(entry.name, readZipEntry(bytes, entry, fileName));
  }
  return files;
}

/** A file to store in a ZIP archive by {@linkcode encodeZip}. */
export interface ZipMember {
  name: string;
  data: Uint8Array;
  /** Compression method: 0 stored, 8 deflate. */
  method: 0 | 8;
}

/**
 * Build a ZIP archive in memory, laid out as the `zip` tool writes one: each member's local
 * header and data, then the central directory, then the end record with `comment`. Dates are
 * left at zero. Data sets are read, not written, by this repository, so this serves tests that
 * need an archive.
 */
export function encodeZip(
  members: readonly ZipMember[],
  comment = "",
): Uint8Array<ArrayBuffer> {
  const encoder = new TextEncoder();
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const member of members) {
    const name = encoder.encode(member.name);
    const body = member.method === 8 ? new Uint8Array(deflateRawSync(member.data)) : member.data;
    const crc = crc32(member.data);

    const local = new Uint8Array(30 + name.length + body.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, member.method, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, body.length, true);
    lv.setUint32(22, member.data.length, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    local.set(body, 30 + name.length);

    const central = new Uint8Array(46 + name.length);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(10, member.method, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, body.length, true);
    cv.setUint32(24, member.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    central.set(name, 46);

    locals.push(local);
    centrals.push(central);
    offset += local.length;
  }
  const directorySize = centrals.reduce((sum, c) => sum + c.length, 0);
  const commentBytes = encoder.encode(comment);
  const end = new Uint8Array(22 + commentBytes.length);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, members.length, true);
  ev.setUint16(10, members.length, true);
  ev.setUint32(12, directorySize, true);
  ev.setUint32(16, offset, true);
  ev.setUint16(20, commentBytes.length, true);
  end.set(commentBytes, 22);

  const parts = [...locals, ...centrals, end];
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

let crcTable: Uint32Array | null = null;

/** Return the CRC-32 (IEEE 802.3 polynomial, as ZIP and gzip use) of `data`. */
export function crc32(data: Uint8Array): number {
  if (crcTable === null) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function hex(n: number): string {
  return "0x" + (n >>> 0).toString(16).padStart(8, "0");
}
