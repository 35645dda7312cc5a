/**
 * Reading HW4 checkpoints: the file, then every metadata field that rebuilds the network and
 * resumes its training, so that an edited or foreign file stops with one line naming the field.
 *
 * @module
 */

import { type Checkpoint, CheckpointError, type JsonValue, loadCheckpoint } from "@nn/core";
import { type NetworkSpec, POOLINGS } from "./model.ts";
import { CELLS } from "./recurrent.ts";
import { CLASSES, type EpochRecord, type Hw4Config, type WindowRecord } from "./run.ts";
import { SPECIAL_TOKENS, Vocabulary } from "./vocab.ts";

/** Value of `meta.format` in the checkpoints that `--predict` and `--resume` accept. */
export const CHECKPOINT_FORMAT = "hw4-sst-classifier";

/** An HW4 checkpoint with its metadata checked. */
export interface Hw4Checkpoint {
  checkpoint: Checkpoint;
  /** Epochs trained when the file was written. */
  epoch: number;
  spec: NetworkSpec;
  vocab: Vocabulary;
  /** The run's settings, or undefined in a checkpoint that lacks them. */
  config: Hw4Config | undefined;
  /** Records of the epochs trained so far, or undefined in a checkpoint that lacks them. */
  history: { epochs: EpochRecord[]; windows: WindowRecord[] } | undefined;
}

/**
 * Load an HW4 checkpoint and check its metadata.
 *
 * @throws {CheckpointError} as `loadCheckpoint` for a folder, a missing or a damaged file, and
 *   naming the field, its value and what was expected for invalid metadata
 */
export async function readHw4Checkpoint(path: string): Promise<Hw4Checkpoint> {
  return parseHw4Checkpoint(await loadCheckpoint(path));
}

/**
 * Check the metadata of a loaded checkpoint and return it typed.
 *
 * @throws {CheckpointError} naming the file, the first invalid field, its value and what was
 *   expected
 */
export function parseHw4Checkpoint(checkpoint: Checkpoint): Hw4Checkpoint {
  const path = checkpoint.path;
  const meta = checkpoint.meta;
  const fail = (field: string, value: unknown, expected: string): never => {
    throw new CheckpointError(
      `Checkpoint ${path} has invalid metadata: ${field} is ${show(value)}, expected ${expected}`,
    );
  };
  const invalid = (problem: string): never => {
    throw new CheckpointError(`Checkpoint ${path} has invalid metadata: ${problem}`);
  };
  if (meta.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(
      `Checkpoint ${path} was not written by hw4: format is ${show(meta.format)}, expected ` +
        `"${CHECKPOINT_FORMAT}"`,
    );
  }
  if (!isPositiveInt(meta.epoch)) fail("epoch", meta.epoch, "a positive integer");

  const vocab = meta.vocab;
  if (!Array.isArray(vocab) || !vocab.every((word) => typeof word === "string")) {
    return fail("vocab", vocab, "a list of words");
  }
  for (const [id, token] of SPECIAL_TOKENS.entries()) {
    if (vocab[id] !== token) fail(`vocab[${id}]`, vocab[id], `"${token}"`);
  }
  const duplicate = vocab.find((word, i) => vocab.indexOf(word) !== i);
  if (duplicate !== undefined) invalid(`vocab contains ${show(duplicate)} twice`);

  const spec = checkSpec(meta.spec, vocab.length, fail);
  const config = meta.config === undefined || meta.config === null
    ? undefined
    : checkConfig(meta.config, fail);
  const history = meta.history === undefined || meta.history === null
    ? undefined
    : checkHistory(meta.history, meta.epoch as number, fail, invalid);
  return {
    checkpoint,
    epoch: meta.epoch as number,
    spec,
    vocab: new Vocabulary(vocab as string[]),
    config,
    history,
  };
}

type Fail = (field: string, value: unknown, expected: string) => never;

function checkSpec(spec: JsonValue | undefined, vocabSize: number, fail: Fail): NetworkSpec {
  if (!isRecord(spec)) return fail("spec", spec, "an object");
  const checks: [string, boolean, string][] = [
    ["vocabSize", spec.vocabSize === vocabSize, `${vocabSize}, the length of vocab`],
    ["embeddingSize", isPositiveInt(spec.embeddingSize), "a positive integer"],
    ["cell", CELLS.includes(spec.cell as never), `one of ${CELLS.join(", ")}`],
    ["hiddenSize", isPositiveInt(spec.hiddenSize), "a positive integer"],
    ["layers", isPositiveInt(spec.layers), "a positive integer"],
    ["bidirectional", typeof spec.bidirectional === "boolean", "true or false"],
    ["pooling", POOLINGS.includes(spec.pooling as never), `one of ${POOLINGS.join(", ")}`],
    ["attentionHidden", isPositiveInt(spec.attentionHidden), "a positive integer"],
    ["attentionHops", isPositiveInt(spec.attentionHops), "a positive integer"],
    ["classes", spec.classes === CLASSES, `${CLASSES}`],
    ["dropout", isInRange(spec.dropout, 0, 1, false), "a number in [0, 1)"],
  ];
  for (const [key, ok, expected] of checks) {
    if (!ok) fail(`spec.${key}`, spec[key], expected);
  }
  return spec as unknown as NetworkSpec;
}

function checkConfig(config: JsonValue, fail: Fail): Hw4Config {
  if (!isRecord(config)) return fail("config", config, "an object");
  const checks: [string, boolean, string][] = [
    ["cell", CELLS.includes(config.cell as never), `one of ${CELLS.join(", ")}`],
    ["hidden", isPositiveInt(config.hidden), "a positive integer"],
    ["layers", isPositiveInt(config.layers), "a positive integer"],
    ["bidirectional", typeof config.bidirectional === "boolean", "true or false"],
    ["pooling", POOLINGS.includes(config.pooling as never), `one of ${POOLINGS.join(", ")}`],
    ["attentionHidden", isPositiveInt(config.attentionHidden), "a positive integer"],
    ["attentionHops", isPositiveInt(config.attentionHops), "a positive integer"],
    ["penalty", isInRange(config.penalty, 0, Infinity, false), "a non-negative number"],
    ["dropout", isInRange(config.dropout, 0, 1, false), "a number in [0, 1)"],
    ["epochs", isPositiveInt(config.epochs), "a positive integer"],
    ["lr", isInRange(config.lr, 0, Infinity, false) && config.lr !== 0, "a positive number"],
    [
      "lrDecay",
      isInRange(config.lrDecay, 0, 1, true) && config.lrDecay !== 0,
      "a number in (0, 1]",
    ],
    ["momentum", isInRange(config.momentum, 0, 1, false), "a number in [0, 1)"],
    ["clipNorm", isInRange(config.clipNorm, 0, Infinity, false), "a non-negative number"],
    ["batchSize", isPositiveInt(config.batchSize), "a positive integer"],
    ["seed", Number.isSafeInteger(config.seed) && (config.seed as number) >= 0, "an integer >= 0"],
    ["freezeEmbeddings", typeof config.freezeEmbeddings === "boolean", "true or false"],
    ["dispFreq", isPositiveInt(config.dispFreq), "a positive integer"],
    [
      "trainPhrases",
      config.trainPhrases === undefined || typeof config.trainPhrases === "boolean",
      "true, false or absent",
    ],
  ];
  for (const [key, ok, expected] of checks) {
    if (!ok) fail(`config.${key}`, config[key], expected);
  }
  // Checkpoints written before phrase training existed lack the field, and those runs trained
  // on sentences.
  return { ...config, trainPhrases: config.trainPhrases ?? false } as unknown as Hw4Config;
}

function checkHistory(
  history: JsonValue,
  epoch: number,
  fail: Fail,
  invalid: (problem: string) => never,
): { epochs: EpochRecord[]; windows: WindowRecord[] } {
  if (!isRecord(history)) return fail("history", history, "an object");
  const { epochs, windows } = history;
  if (!Array.isArray(epochs)) return fail("history.epochs", epochs, "a list");
  if (epochs.length !== epoch) {
    invalid(
      `history.epochs has ${epochs.length} records, expected one per epoch trained, ${epoch}`,
    );
  }
  for (const [i, record] of epochs.entries()) {
    if (!isRecord(record) || record.epoch !== i + 1 || typeof record.devAcc !== "number") {
      fail(`history.epochs[${i}]`, record, `the record of epoch ${i + 1} with its devAcc`);
    }
  }
  if (!Array.isArray(windows)) return fail("history.windows", windows, "a list");
  return history as unknown as { epochs: EpochRecord[]; windows: WindowRecord[] };
}

function isRecord(value: unknown): value is Record<string, JsonValue> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isPositiveInt(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 1;
}

/** Return whether `value` is a number in `[low, high)`, or in `[low, high]` when `closed`. */
function isInRange(value: unknown, low: number, high: number, closed: boolean): boolean {
  if (typeof value !== "number" || !(value >= low)) return false;
  return closed ? value <= high : value < high;
}

/** Return `value` as JSON, shortened to 60 characters, for a message. */
function show(value: unknown): string {
  const text = JSON.stringify(value) ?? "absent";
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
