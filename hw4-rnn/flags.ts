/**
 * The settings of `deno task hw4` in the flags' terms: parsers of the flags whose range the core
 * parsers do not cover, and the merge of the flags requested with a resumed checkpoint's settings.
 *
 * @module
 */

import {
  flag,
  flagName,
  type FlagSpec,
  parsePositiveInt,
  parseProbability,
  UsageError,
} from "@nn/core";
import { DEFAULT_CONFIG, type Hw4Config } from "./run.ts";

/** Values of `--train-on`: the training examples a run reads. */
export const TRAINING_SETS = ["phrases", "sentences"] as const;

/** Features of random embeddings when `--embedding-size` is unset. */
export const DEFAULT_EMBEDDING_SIZE = 100;

/** Default cap of the vocabulary, `_PAD` and `_UNK` included. */
export const DEFAULT_VOCAB_SIZE = 20000;

/** A run's settings keyed like the flags that set them, e.g. `direction` for `--direction`. */
export type RunSettings = Omit<Hw4Config, "bidirectional" | "trainPhrases"> & {
  direction: "bi" | "uni";
  trainOn: typeof TRAINING_SETS[number];
};

/** Return `config` in the flags' terms. */
export function settingsOf(config: Hw4Config): RunSettings {
  return {
    cell: config.cell,
    hidden: config.hidden,
    layers: config.layers,
    direction: config.bidirectional ? "bi" : "uni",
    pooling: config.pooling,
    attentionHidden: config.attentionHidden,
    attentionHops: config.attentionHops,
    penalty: config.penalty,
    dropout: config.dropout,
    epochs: config.epochs,
    lr: config.lr,
    lrDecay: config.lrDecay,
    momentum: config.momentum,
    clipNorm: config.clipNorm,
    batchSize: config.batchSize,
    seed: config.seed,
    freezeEmbeddings: config.freezeEmbeddings,
    dispFreq: config.dispFreq,
    trainOn: config.trainPhrases ? "phrases" : "sentences",
  };
}

/** Return the config that `settings` describe. */
export function configOf(settings: RunSettings): Hw4Config {
  return {
    cell: settings.cell,
    hidden: settings.hidden,
    layers: settings.layers,
    bidirectional: settings.direction === "bi",
    pooling: settings.pooling,
    attentionHidden: settings.attentionHidden,
    attentionHops: settings.attentionHops,
    penalty: settings.penalty,
    dropout: settings.dropout,
    epochs: settings.epochs,
    lr: settings.lr,
    lrDecay: settings.lrDecay,
    momentum: settings.momentum,
    clipNorm: settings.clipNorm,
    batchSize: settings.batchSize,
    seed: settings.seed,
    freezeEmbeddings: settings.freezeEmbeddings,
    dispFreq: settings.dispFreq,
    trainPhrases: settings.trainOn === "phrases",
  };
}

/**
 * Return the run's config: the `requested` settings, and for the others those of `saved` (a resumed
 * checkpoint's), else the defaults. With `saved`, `differences` lists every requested setting
 * other than `epochs` that differs from the checkpoint's, as
 * `hidden is 8 in the checkpoint but 16 here`.
 */
export function resolveConfig(
  requested: Partial<RunSettings>,
  saved?: Hw4Config,
): { config: Hw4Config; differences: string[] } {
  const base = settingsOf(saved ?? DEFAULT_CONFIG);
  const settings: RunSettings = { ...base };
  const differences: string[] = [];
  for (const key of Object.keys(base) as (keyof RunSettings)[]) {
    const value = requested[key];
    if (value === undefined) continue;
    if (saved !== undefined && key !== "epochs" && value !== base[key]) {
      differences.push(
        `${flagName(key).slice(2)} is ${base[key]} in the checkpoint but ${value} here`,
      );
    }
    (settings as unknown as Record<string, unknown>)[key] = value;
  }
  return { config: configOf(settings), differences };
}

/** Make the `--vocab-size` flag: an integer of at least 3, room for `_PAD`, `_UNK` and a word. */
export function vocabSizeFlag(
  help: string,
  defaultValue: number | undefined,
): FlagSpec<number | undefined> {
  return {
    ...flag.positiveInt(help, defaultValue),
    parse: (name, value) => {
      const size = parsePositiveInt(name, value);
      if (size < 3) {
        throw new UsageError(
          `Invalid ${name} ${JSON.stringify(value)}: expected an integer of at least 3, ` +
            "room for _PAD, _UNK and one word",
        );
      }
      return size;
    },
  };
}

/** Make a flag that takes a number in [0, 1), such as a dropout rate, and is unset by default. */
export function belowOneFlag(help: string): FlagSpec<number | undefined> {
  return { ...flag.probability(help, undefined), parse: parseBelowOne };
}

/**
 * Parse a number in [0, 1), such as a dropout rate or a momentum.
 *
 * @throws {UsageError} naming the flag, the value and the range
 */
export function parseBelowOne(name: string, value: string): number {
  const number = parseUnitInterval(name, value);
  if (!(number >= 0 && number < 1)) {
    throw new UsageError(`Invalid ${name} ${JSON.stringify(value)}: expected a value in [0, 1)`);
  }
  return number === 0 ? 0 : number;
}

/**
 * Parse a factor in (0, 1], such as a learning-rate decay.
 *
 * @throws {UsageError} naming the flag, the value and the range
 */
export function parseDecayFactor(name: string, value: string): number {
  const number = parseUnitInterval(name, value);
  if (!(number > 0 && number <= 1)) {
    throw new UsageError(
      `Invalid ${name} ${JSON.stringify(value)}: expected a factor in (0, 1]`,
    );
  }
  return number;
}

/** Return `value` as a number in [0, 1], or NaN when it is not one, for the caller's message. */
function parseUnitInterval(name: string, value: string): number {
  try {
    return parseProbability(name, value);
  } catch (err) {
    if (err instanceof UsageError) return NaN;
    throw err;
  }
}
