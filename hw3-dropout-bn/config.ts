/**
 * The configuration of an HW3 run, its defaults, and the comparison that decides whether a
 * checkpoint fits a resumed run.
 *
 * @module
 */

import type { ModelKind, ModelSpec, Padding } from "./model.ts";

/** Everything that decides the numbers of a run: the architecture and the training. */
export interface Hw3Config extends ModelSpec {
  /**
   * Largest random translation of a training image, in pixels along each axis; 0 turns the
   * augmentation off. Validation and test images are never moved.
   */
  shift: number;
  /** Epochs to train in total, counting those before a resume. */
  epochs: number;
  /** Initial learning rate of Adam. */
  lr: number;
  /**
   * Factor applied to the learning rate after an epoch whose training loss exceeds the largest
   * of the previous three, the course's rule.
   */
  lrDecay: number;
  batchSize: number;
  /** Seed of the initialization, the shuffles, the dropout masks and the shifts. */
  seed: number;
  /** Log the mean training loss and accuracy every this many iterations. */
  dispFreq: number;
  /**
   * Training images held out for validation: the last `validation` of MNIST's 60,000 validate
   * and the others train.
   */
  validation: number;
}

/** Largest `shift`: one pixel of a 28×28 image still stays inside after a move of 27. */
export const MAX_SHIFT = 27;

/** Default number of MNIST training images kept for validation: the last 10,000 of the 60,000. */
export const VALIDATION_SIZE = 10_000;

/** Defaults that differ between the MLP and the CNN. */
export interface KindDefaults {
  epochs: number;
  dropRate: number;
  shift: number;
}

/** Defaults of each network kind. */
export const KIND_DEFAULTS: Readonly<Record<ModelKind, Readonly<KindDefaults>>> = Object.freeze({
  mlp: { epochs: 20, dropRate: 0.3, shift: 0 },
  cnn: { epochs: 25, dropRate: 0.1, shift: 1 },
});

/**
 * Defaults shared by both kinds, with the architecture settings that only one kind reads.
 * `lr`, `lrDecay` and `batchSize` are the course's.
 */
export const SHARED_DEFAULTS = Object.freeze({
  hidden: 1024,
  channels: [64, 128] as readonly [number, number],
  kernelSize: 5,
  padding: "valid" as Padding,
  batchNorm: true,
  lr: 1e-3,
  lrDecay: 0.9995,
  batchSize: 100,
  seed: 1,
  dispFreq: 50,
  validation: VALIDATION_SIZE,
});

/** Return the default configuration of `kind`. */
export function defaultConfig(kind: ModelKind): Hw3Config {
  return {
    kind,
    ...SHARED_DEFAULTS,
    channels: [...SHARED_DEFAULTS.channels],
    ...KIND_DEFAULTS[kind],
  };
}

/** Keys of {@linkcode Hw3Config} in a fixed order, for comparisons and messages. */
export const CONFIG_KEYS: readonly (keyof Hw3Config)[] = [
  "kind",
  "hidden",
  "channels",
  "kernelSize",
  "padding",
  "dropRate",
  "batchNorm",
  "shift",
  "epochs",
  "lr",
  "lrDecay",
  "batchSize",
  "seed",
  "dispFreq",
  "validation",
];

/** Command-line flag of each setting, as `train` takes it. */
const FLAG_NAMES: Readonly<Record<keyof Hw3Config, string>> = {
  kind: "--model",
  hidden: "--hidden",
  channels: "--channels",
  kernelSize: "--kernel-size",
  padding: "--padding",
  dropRate: "--drop-rate",
  batchNorm: "--bn",
  shift: "--shift",
  epochs: "--epochs",
  lr: "--lr",
  lrDecay: "--lr-decay",
  batchSize: "--batch-size",
  seed: "--seed",
  dispFreq: "--disp-freq",
  validation: "--validation",
};

/** Return the value of setting `key` as its flag takes it: `on`, `64,128`, `cnn`. */
function flagValue(config: Hw3Config, key: keyof Hw3Config): string {
  const value = config[key];
  if (typeof value === "boolean") return value ? "on" : "off";
  if (Array.isArray(value)) return value.join(",");
  return String(value);
}

/**
 * List the settings in which `saved` and `requested` differ, by flag and in the flag's own
 * values, as `--hidden is 512 in the checkpoint but 1024 here`. Settings in `ignore`, and the
 * architecture field that the kind does not use (`channels`, `kernelSize` and `padding` for the
 * MLP, `hidden` for the CNN), are skipped. When the kinds differ, only the kind is listed,
 * because the other settings then come from the defaults of the other kind, not from the
 * user's flags.
 */
export function configDifferences(
  saved: Hw3Config,
  requested: Hw3Config,
  ignore: readonly (keyof Hw3Config)[] = [],
): string[] {
  const describe = (key: keyof Hw3Config) =>
    `${FLAG_NAMES[key]} is ${flagValue(saved, key)} in the checkpoint but ` +
    `${flagValue(requested, key)} here`;
  if (saved.kind !== requested.kind && !ignore.includes("kind")) return [describe("kind")];
  const unused: (keyof Hw3Config)[] = saved.kind === "mlp"
    ? ["channels", "kernelSize", "padding"]
    : ["hidden"];
  const differences: string[] = [];
  for (const key of CONFIG_KEYS) {
    if (ignore.includes(key) || (unused.includes(key) && saved.kind === requested.kind)) continue;
    if (JSON.stringify(saved[key]) !== JSON.stringify(requested[key])) {
      differences.push(describe(key));
    }
  }
  return differences;
}
