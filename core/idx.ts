/**
 * IDX files, the format of MNIST: a big-endian header followed by the raw array.
 *
 * Layout: a 4-byte magic number `0x0000TTNN`, where `TT` is the element type (`0x08` for
 * unsigned bytes, the only type supported here) and `NN` the number of dimensions. Then one
 * big-endian uint32 size per dimension, outermost first. Then the elements in row-major order.
 * MNIST images are `0x00000803` `[N, rows, cols]` and labels are `0x00000801` `[N]`.
 *
 * @module
 */

import { UserError } from "./cli.ts";
import { gunzipSync } from "node:zlib";

/** Magic number of an IDX file of uint8 images `[N, rows, cols]`. */
export const IDX_IMAGES_MAGIC = 0x00000803;
/** Magic number of an IDX file of uint8 labels `[N]`. */
export const IDX_LABELS_MAGIC = 0x00000801;

/** IDX element type code of unsigned bytes. */
const IDX_TYPE_UBYTE = 0x08;

/** A data file that is missing, corrupt or inconsistent with the other files. */
export class DataError extends UserError {
  /** Create the error, keeping an underlying error, if any, in `options.cause`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, { cause: options?.cause });
  }
}

/** An array read from an IDX file. */
export interface IdxArray {
  /** Sizes of the dimensions, outermost first, e.g. `[60000, 28, 28]`. */
  dims: number[];
  /** Elements in row-major order. This is a view into the parsed bytes, not a copy. */
  data: Uint8Array;
}

/**
 * Parse the uncompressed IDX file `bytes` into its dimensions and a view of its elements.
 *
 * @param fileName path or name of the file, used only in error messages
 * @param expectedMagic the required magic number, e.g. {@linkcode IDX_IMAGES_MAGIC}. When it is
 *   omitted, any uint8 IDX file with at least one dimension is accepted.
 * @throws {DataError} on a wrong magic number, a file shorter than its header or its data, or
 *   bytes after the data; the message names the file, the value found and the value expected
 * @throws {RangeError} when `expectedMagic` is not a uint8 IDX magic number
 */
export function parseIdx(bytes: Uint8Array, fileName: string, expectedMagic?: number): IdxArray {
  if (expectedMagic !== undefined && !isUbyteMagic(expectedMagic)) {
    throw new RangeError(
      `parseIdx: invalid expectedMagic ${hex(expectedMagic)}, expected 0x000008NN (uint8 data)`,
    );
  }
  if (bytes.length < 4) {
    throw new DataError(
      `${fileName}: truncated: file has ${bytes.length} bytes, ` +
        "shorter than the 4-byte IDX magic number",
    );
  }

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  if (expectedMagic !== undefined ? magic !== expectedMagic : !isUbyteMagic(magic)) {
    const expected = expectedMagic === undefined
      ? "0x000008NN (uint8 data)"
      : `${hex(expectedMagic)} (${describeMagic(expectedMagic)})`;
    throw new DataError(`${fileName}: invalid IDX magic ${hex(magic)}, expected ${expected}`);
  }

  const rank = magic & 0xff;
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    throw new DataError(
      `${fileName}: truncated: file has ${bytes.length} bytes, ` +
        `shorter than the ${headerBytes}-byte IDX header`,
    );
  }
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i));

  // The product can exceed 2^53 only for a corrupt header, and then it exceeds the file size too.
  const size = dims.reduce((a, b) => a * b, 1);
  const dataBytes = bytes.length - headerBytes;
  if (dataBytes !== size) {
    const what = dataBytes < size ? "truncated" : `${dataBytes - size} trailing bytes`;
    const unit = magic === IDX_IMAGES_MAGIC
      ? "pixel bytes"
      : magic === IDX_LABELS_MAGIC
      ? "label bytes"
      : "data bytes";
    throw new DataError(
      `${fileName}: ${what}: header says ${dims.join("x")} = ${size} ${unit}, ` +
        `file has ${dataBytes} after the ${headerBytes}-byte header`,
    );
  }

  return { dims, data: bytes.subarray(headerBytes) };
}

/**
 * Encode `data` as an uncompressed uint8 IDX file with dimensions `dims`, outermost first.
 *
 * @throws {RangeError} when `dims` is empty or longer than 255, a dimension is not an integer in
 *   `[0, 2^32)`, or `data.length` differs from the product of `dims`
 */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  if (dims.length < 1 || dims.length > 255) {
    throw new RangeError(`encodeIdx: invalid rank ${dims.length}, expected 1 to 255 dimensions`);
  }
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) {
      throw new RangeError(`encodeIdx: invalid dimension ${d} in [${dims}], expected a uint32`);
    }
  }
  const size = dims.reduce((a, b) => a * b, 1);
  if (data.length !== size) {
    throw new RangeError(
      `encodeIdx: dims [${dims}] need ${size} elements, got ${data.length}`,
    );
  }

  const headerBytes = 4 + 4 * dims.length;
  const out = new Uint8Array(headerBytes + size);
  const view = new DataView(out.buffer);
  view.setUint32(0, (IDX_TYPE_UBYTE << 8) | dims.length);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(data, headerBytes);
  return out;
}

/**
 * Decompress `bytes` when they start with the gzip magic bytes `1f 8b`, else return them as is.
 *
 * An IDX file always starts with `00 00`, so the two cases cannot be confused.
 *
 * @param fileName path or name of the file, used only in error messages
 * @throws {DataError} naming the file when the gzip data is corrupt or truncated
 */
export function gunzipIfCompressed(bytes: Uint8Array, fileName: string): Uint8Array {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  let out: Uint8Array;
  try {
    out = gunzipSync(bytes);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new DataError(`${fileName}: corrupt gzip data: ${detail}`, { cause: err });
  }
  // gunzipSync returns a Node Buffer, so wrap its memory in a plain Uint8Array for callers.
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * Read the IDX file at `path`, raw or gzip-compressed, and parse it.
 *
 * @param expectedMagic the required magic number, as in {@linkcode parseIdx}
 * @throws {Deno.errors.NotFound} when the file does not exist
 * @throws {DataError} on corrupt gzip data or an invalid IDX file, as in {@linkcode parseIdx}
 */
export async function readIdxFile(path: string, expectedMagic?: number): Promise<IdxArray> {
  const bytes = gunzipIfCompressed(await Deno.readFile(path), path);
  return parseIdx(bytes, path, expectedMagic);
}

function isUbyteMagic(magic: number): boolean {
  return Number.isInteger(magic) && Math.floor(magic / 256) === IDX_TYPE_UBYTE && magic % 256 > 0;
}

function describeMagic(magic: number): string {
  if (magic === IDX_IMAGES_MAGIC) return "images";
  if (magic === IDX_LABELS_MAGIC) return "labels";
  return `uint8, ${magic & 0xff} dimensions`;
}

function hex(n: number): string {
  return "0x" + (n >>> 0).toString(16).padStart(8, "0");
}
