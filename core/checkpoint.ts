/**
 * Checkpoints: a network's parameters by name, extra named tensors (optimizer velocities, for
 * instance) and JSON metadata in one file, written atomically.
 *
 * File layout, all little-endian:
 *
 * | bytes         | contents                                                              |
 * | ------------- | --------------------------------------------------------------------- |
 * | 0–7           | magic `NNCKPT01`                                                      |
 * | 8–11          | uint32 length L of the header                                         |
 * | 12 … 12+L     | UTF-8 JSON header: metadata, each tensor's group, name, shape, offset |
 * | 12+L … end    | float32 data of every tensor, in header order                         |
 *
 * The header records the data's length and SHA-256, so a truncated or damaged file is rejected
 * when it is read instead of loading wrong numbers.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { UserError } from "./cli.ts";
import { writeFileAtomic } from "./io.ts";
import type { Param } from "./layer.ts";
import { formatShape, sameShape, shapeSize, type Tensor } from "./tensor.ts";

/** A JSON value, as checkpoint metadata stores it. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/** Contents of a checkpoint, as {@linkcode saveCheckpoint} takes them. */
export interface CheckpointContents {
  /** Parameters, stored under `Param.name`; names must be unique. */
  params: readonly Param[];
  /** Other tensors by name, such as optimizer velocities. Names are separate from params'. */
  state?: Readonly<Record<string, Tensor>>;
  /** JSON metadata such as the architecture, the epoch and the training history. */
  meta?: Readonly<Record<string, JsonValue>>;
}

/** A tensor read from a checkpoint. */
export interface StoredTensor {
  shape: readonly number[];
  data: Float32Array;
}

/** A checkpoint read by {@linkcode loadCheckpoint} or {@linkcode decodeCheckpoint}. */
export interface Checkpoint {
  /** Path or name of the file, for messages. */
  path: string;
  meta: Record<string, JsonValue>;
  /** Parameters by name, in the order they were saved. */
  params: Map<string, StoredTensor>;
  /** Extra tensors by name, in the order they were saved. */
  state: Map<string, StoredTensor>;
}

/** A checkpoint that cannot be read or does not fit the network: one line, no stack trace. */
export class CheckpointError extends UserError {}

/** The 8 bytes that open every checkpoint file. */
export const CHECKPOINT_MAGIC = "NNCKPT01";

type Group = "params" | "state";

interface HeaderTensor {
  group: Group;
  name: string;
  shape: number[];
  /** Offset of the tensor's first element in the data section, in float32 elements. */
  offset: number;
}

interface Header {
  meta: Record<string, JsonValue>;
  tensors: HeaderTensor[];
  /** Length of the data section in bytes. */
  dataBytes: number;
  /** Hex SHA-256 of the data section. */
  sha256: string;
}

const PREFIX_BYTES = 12;

/**
 * Encode a checkpoint into bytes; {@linkcode saveCheckpoint} writes them to a file.
 *
 * @throws {RangeError} when two params, or two state tensors, share a name
 * @throws {TypeError} when the metadata cannot be written as JSON (e.g. NaN or a cycle)
 */
export function encodeCheckpoint(contents: CheckpointContents): Uint8Array {
  assertLittleEndian();
  const entries: [Group, string, Tensor][] = [];
  const seen: Record<Group, Set<string>> = { params: new Set(), state: new Set() };
  const add = (group: Group, name: string, tensor: Tensor) => {
    if (seen[group].has(name)) {
      throw new RangeError(`Cannot save checkpoint: two ${group} tensors are named ${name}`);
    }
    seen[group].add(name);
    entries.push([group, name, tensor]);
  };
  for (const param of contents.params) add("params", param.name, param.value);
  for (const [name, tensor] of Object.entries(contents.state ?? {})) add("state", name, tensor);

  const meta = { ...(contents.meta ?? {}) };
  assertJson(meta, "meta");

  let floats = 0;
  const tensors: HeaderTensor[] = entries.map(([group, name, tensor]) => {
    const entry = { group, name, shape: [...tensor.shape], offset: floats };
    floats += tensor.size;
    return entry;
  });
  const data = new Float32Array(floats);
  for (const [i, [, , tensor]] of entries.entries()) data.set(tensor.data, tensors[i].offset);
  const dataBytes = new Uint8Array(data.buffer);

  const header: Header = {
    meta,
    tensors,
    dataBytes: dataBytes.length,
    sha256: sha256Hex(dataBytes),
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(PREFIX_BYTES + headerBytes.length + dataBytes.length);
  out.set(new TextEncoder().encode(CHECKPOINT_MAGIC), 0);
  new DataView(out.buffer).setUint32(8, headerBytes.length, true);
  out.set(headerBytes, PREFIX_BYTES);
  out.set(dataBytes, PREFIX_BYTES + headerBytes.length);
  return out;
}

/**
 * Write a checkpoint to `path` through a temporary file and a rename, so that a crash leaves
 * the previous checkpoint intact. Missing parent directories are created.
 *
 * @throws {RangeError} and {@linkcode TypeError} as {@linkcode encodeCheckpoint} does
 */
export async function saveCheckpoint(path: string, contents: CheckpointContents): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(contents));
}

/**
 * Read the checkpoint at `path`.
 *
 * @throws {CheckpointError} when the file does not exist or is a folder, or as
 *   {@linkcode decodeCheckpoint}
 */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new CheckpointError(`Checkpoint ${path} not found`, { cause: err });
    }
    if (err instanceof Deno.errors.IsADirectory) {
      throw new CheckpointError(
        `Checkpoint ${path} is a folder, expected a checkpoint file such as ${path}/best.ckpt`,
        { cause: err },
      );
    }
    throw err;
  }
  return decodeCheckpoint(bytes, path);
}

/**
 * Decode checkpoint bytes.
 *
 * @param path file name for messages
 * @throws {CheckpointError} naming the file when it is not a checkpoint, is truncated or has
 *   extra bytes, has an invalid header, or its data fails the SHA-256 check
 */
export function decodeCheckpoint(bytes: Uint8Array, path: string): Checkpoint {
  assertLittleEndian();
  const fail = (problem: string): never => {
    throw new CheckpointError(`Invalid checkpoint ${path}: ${problem}`);
  };
  if (bytes.length < PREFIX_BYTES) {
    return fail(`the file has ${bytes.length} bytes, fewer than the ${PREFIX_BYTES}-byte prefix`);
  }
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== CHECKPOINT_MAGIC) {
    return fail(`it starts with ${JSON.stringify(magic)}, expected ${CHECKPOINT_MAGIC}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(8, true);
  const dataStart = PREFIX_BYTES + headerLength;
  if (dataStart > bytes.length) {
    return fail(
      `truncated: the header needs bytes ${PREFIX_BYTES}..${dataStart}, the file has ` +
        `${bytes.length}`,
    );
  }

  let header: Header;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(PREFIX_BYTES, dataStart)));
  } catch (err) {
    return fail(`its header is not valid JSON (${err instanceof Error ? err.message : err})`);
  }
  if (
    !isRecord(header) || !isRecord(header.meta) || !Array.isArray(header.tensors) ||
    !Number.isInteger(header.dataBytes) || typeof header.sha256 !== "string"
  ) {
    return fail("its header lacks meta, tensors, dataBytes or sha256");
  }

  const expectedLength = dataStart + header.dataBytes;
  if (bytes.length < expectedLength) {
    return fail(`truncated: ${bytes.length} bytes, expected ${expectedLength}`);
  }
  if (bytes.length > expectedLength) {
    return fail(`${bytes.length - expectedLength} unexpected bytes after the data`);
  }
  const dataBytes = bytes.subarray(dataStart);
  const actual = sha256Hex(dataBytes);
  if (actual !== header.sha256) {
    return fail(`SHA-256 of the data is ${actual}, expected ${header.sha256} (damaged file?)`);
  }

  const data = new Float32Array(dataBytes.slice().buffer);
  const checkpoint: Checkpoint = {
    path,
    meta: header.meta,
    params: new Map(),
    state: new Map(),
  };
  for (const entry of header.tensors) {
    const valid = isRecord(entry) && (entry.group === "params" || entry.group === "state") &&
      typeof entry.name === "string" && Array.isArray(entry.shape) &&
      entry.shape.every((d: unknown) => Number.isInteger(d) && (d as number) >= 0) &&
      Number.isInteger(entry.offset) && entry.offset >= 0;
    if (!valid) return fail(`invalid tensor entry ${JSON.stringify(entry)} in the header`);
    const size = shapeSize(entry.shape);
    if (entry.offset + size > data.length) {
      return fail(`tensor ${entry.name} ${formatShape(entry.shape)} lies beyond the data`);
    }
    const tensors = checkpoint[entry.group];
    if (tensors.has(entry.name)) return fail(`two ${entry.group} tensors named ${entry.name}`);
    tensors.set(entry.name, {
      shape: entry.shape,
      data: data.subarray(entry.offset, entry.offset + size),
    });
  }
  return checkpoint;
}

/**
 * Copy the checkpoint's parameters into `params`, matched by name.
 *
 * Nothing is copied unless the two sets of names are equal and every shape matches, so a failed
 * restore leaves the network unchanged.
 *
 * @throws {CheckpointError} listing every missing name (in the network, not in the file), every
 *   unexpected name (in the file, not in the network) and every shape mismatch
 */
export function restoreParams(checkpoint: Checkpoint, params: readonly Param[]): void {
  assignTensors(checkpoint, "params", params.map((p) => [p.name, p.value]));
}

/**
 * Copy the checkpoint's state tensors into `tensors`, matched by name, with the same checks as
 * {@linkcode restoreParams}.
 *
 * @throws {CheckpointError} listing missing and unexpected names and shape mismatches
 */
export function restoreState(
  checkpoint: Checkpoint,
  tensors: Readonly<Record<string, Tensor>>,
): void {
  assignTensors(checkpoint, "state", Object.entries(tensors));
}

function assignTensors(
  checkpoint: Checkpoint,
  group: Group,
  targets: readonly (readonly [string, Tensor])[],
): void {
  const stored = checkpoint[group];
  const wanted = new Map(targets);
  const missing = [...wanted.keys()].filter((name) => !stored.has(name));
  const unexpected = [...stored.keys()].filter((name) => !wanted.has(name));
  const mismatched: string[] = [];
  for (const [name, tensor] of wanted) {
    const saved = stored.get(name);
    if (saved !== undefined && !sameShape(saved.shape, tensor.shape)) {
      mismatched.push(
        `${name} is ${formatShape(saved.shape)} in the file but ${formatShape(tensor.shape)} ` +
          "in the network",
      );
    }
  }

  const problems: string[] = [];
  const what = group === "params" ? "parameters" : "state tensors";
  if (missing.length > 0) problems.push(`missing ${what} ${missing.join(", ")}`);
  if (unexpected.length > 0) problems.push(`unexpected ${what} ${unexpected.join(", ")}`);
  if (mismatched.length > 0) problems.push(`shape mismatch: ${mismatched.join("; ")}`);
  if (problems.length > 0) {
    throw new CheckpointError(
      `Checkpoint ${checkpoint.path} does not fit the network: ${problems.join("; ")}`,
      { hint: "Build the network with the architecture the checkpoint was saved with." },
    );
  }
  for (const [name, tensor] of wanted) tensor.data.set(stored.get(name)!.data);
}

function assertJson(value: unknown, where: string): void {
  if (value === null || typeof value === "string" || typeof value === "boolean") return;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      throw new TypeError(`Cannot save checkpoint: ${where} is ${value}, which JSON cannot store`);
    }
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => assertJson(item, `${where}[${i}]`));
    return;
  }
  if (isRecord(value)) {
    for (const [key, item] of Object.entries(value)) assertJson(item, `${where}.${key}`);
    return;
  }
  throw new TypeError(`Cannot save checkpoint: ${where} is a ${typeof value}, not a JSON value`);
}

// deno-lint-ignore no-explicit-any
function isRecord(value: unknown): value is Record<string, any> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

// The data section is the raw bytes of a Float32Array, which are little-endian only on a
// little-endian host.
function assertLittleEndian(): void {
  if (new Uint8Array(Float32Array.of(1).buffer)[3] !== 0x3f) {
    throw new Error("Checkpoints need a little-endian host");
  }
}
