/**
 * Command-line helpers for training scripts: typed flag parsers, declared flags with generated
 * `--help`, a `main()` runner that turns errors into exit codes, and the config block that
 * opens every run's log.
 *
 * Errors follow one rule. An error that the user can fix (a bad flag, a missing data file)
 * extends `UserError`, and `runMain` prints it as one `error:` line plus an optional hint, with no
 * stack trace. Any other error is a bug, so `runMain` prints its stack.
 *
 * @example
 * ```ts
 * const COMMAND = {
 *   usage: "deno task hw1 [flags]",
 *   description: "Train a two-layer MLP on MNIST and write a report.",
 *   flags: {
 *     epochs: flag.positiveInt("Passes over the training set", 20),
 *     hidden: flag.intList("Hidden layer sizes, comma-separated, or none", [512, 512]),
 *     targetAcc: flag.probability("Fail unless test accuracy reaches this fraction", undefined),
 *   },
 * };
 *
 * if (import.meta.main) {
 *   runMain(async () => {
 *     const options = parseFlags(COMMAND, Deno.args);
 *     console.error(configBlock(options));
 *     // ...
 *   });
 * }
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";

// ---------------------------------------------------------------------------------------------
// Errors

/** Options of `UserError` and its subclasses. */
export interface UserErrorOptions {
  /** Sentence printed after the message, telling the user what to do next. */
  hint?: string;
  /** The underlying error, such as the `Deno.errors.NotFound` behind a missing data file. */
  cause?: unknown;
}

/**
 * An error that the user caused and can fix, such as a bad flag or a missing data file.
 *
 * `runMain` prints it as `error: <message>`, then the hint if there is one, and exits with
 * `exitCode` without a stack trace. Modules report such problems by throwing a subclass, for
 * example `class DataError extends UserError {}`. `name` is set to the subclass name.
 */
export class UserError extends Error {
  /** Sentence printed after the message, or undefined. */
  readonly hint: string | undefined;
  /** Process exit code that `runMain` uses for this error. */
  readonly exitCode: number = 1;

  constructor(message: string, options: UserErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
  }
}

/** A bad command line: an unknown flag, a missing value or an invalid value. Exit code 2. */
export class UsageError extends UserError {
  override readonly exitCode: number = 2;

  /** Create a usage error whose hint defaults to "Run with --help to list the flags." */
  constructor(message: string, options: UserErrorOptions = {}) {
    super(message, { hint: "Run with --help to list the flags.", ...options });
  }
}

/**
 * Thrown by `parseFlags` when the arguments contain `--help` or `-h`. `runMain` prints `text` to
 * stdout and exits with code 0.
 */
export class HelpRequested extends Error {
  constructor(readonly text: string) {
    super("Help was requested");
    this.name = "HelpRequested";
  }
}

// ---------------------------------------------------------------------------------------------
// Flag value parsers

// A decimal number such as 12, 0.5, .5, 1e-3 or +2. Hexadecimal and Infinity do not match.
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;
const UNSIGNED_INTEGER = /^\+?\d+$/;

function displayFlag(flag: string): string {
  return flag.startsWith("-") ? flag : `--${flag}`;
}

function invalidValue(flag: string, value: string, expected: string): UsageError {
  return new UsageError(
    `Invalid ${displayFlag(flag)} ${JSON.stringify(value)}: expected ${expected}`,
  );
}

function parseDecimal(flag: string, value: string, expected: string): number {
  const text = value.trim();
  const number = DECIMAL.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(number)) throw invalidValue(flag, value, expected);
  return number;
}

function parseUnsignedInteger(flag: string, value: string, expected: string): number {
  const text = value.trim();
  const number = UNSIGNED_INTEGER.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(number)) throw invalidValue(flag, value, expected);
  return number;
}

/**
 * Parse an integer >= 1, such as an epoch count.
 *
 * @param flag flag name, with or without the leading `--`, for the message
 * @throws {UsageError} naming the flag, the value and what was expected
 */
export function parsePositiveInt(flag: string, value: string): number {
  const number = parseUnsignedInteger(flag, value, "a positive integer");
  if (number < 1) throw invalidValue(flag, value, "a positive integer");
  return number;
}

/**
 * Parse an integer >= 0, such as a seed.
 *
 * @throws {UsageError} naming the flag, the value and what was expected
 */
export function parseNonNegativeInt(flag: string, value: string): number {
  return parseUnsignedInteger(flag, value, "a non-negative integer");
}

/**
 * Parse a finite decimal number >= 0, such as a weight decay.
 *
 * @throws {UsageError} naming the flag, the value and what was expected
 */
export function parseNonNegativeNumber(flag: string, value: string): number {
  const number = parseDecimal(flag, value, "a non-negative number");
  if (number < 0) throw invalidValue(flag, value, "a non-negative number");
  return number === 0 ? 0 : number;
}

/**
 * Parse a finite decimal number > 0, such as a learning rate.
 *
 * @throws {UsageError} naming the flag, the value and what was expected
 */
export function parsePositiveNumber(flag: string, value: string): number {
  const number = parseDecimal(flag, value, "a positive number");
  if (!(number > 0)) throw invalidValue(flag, value, "a positive number");
  return number;
}

/**
 * Parse a probability in [0, 1], such as a dropout rate or a target accuracy.
 *
 * @throws {UsageError} naming the flag, the value and what was expected
 */
export function parseProbability(flag: string, value: string): number {
  const expected = "a probability between 0 and 1";
  const number = parseDecimal(flag, value, expected);
  if (number < 0 || number > 1) throw invalidValue(flag, value, expected);
  return number === 0 ? 0 : number;
}

/**
 * Parse comma-separated positive integers, such as hidden layer sizes: "512,256" gives
 * [512, 256]. Spaces around items are allowed. An empty string or "none" gives an empty list,
 * so `--hidden none` builds a model without hidden layers.
 *
 * @throws {UsageError} naming the flag, the value and what was expected
 */
export function parseIntList(flag: string, value: string): number[] {
  const text = value.trim();
  if (text === "" || text.toLowerCase() === "none") return [];
  const expected = 'comma-separated positive integers, or "none" for an empty list';
  return text.split(",").map((item) => {
    const number = UNSIGNED_INTEGER.test(item.trim()) ? Number(item.trim()) : NaN;
    if (!Number.isSafeInteger(number) || number < 1) throw invalidValue(flag, value, expected);
    return number;
  });
}

/**
 * Return `value` if it is one of `choices`, compared exactly.
 *
 * @throws {UsageError} naming the flag, the value and the choices
 */
export function parseChoice<const C extends string>(
  flag: string,
  value: string,
  choices: readonly C[],
): C {
  const match = choices.find((choice) => choice === value);
  if (match === undefined) throw invalidValue(flag, value, `one of ${choices.join(", ")}`);
  return match;
}

// ---------------------------------------------------------------------------------------------
// Declared flags

/** One flag of a command: how to parse it and how `--help` describes it. */
export interface FlagSpec<T> {
  /** Description of what the flag sets, shown in `--help`. */
  readonly help: string;
  /** Value when the flag is absent. With undefined, `--help` shows no default. */
  readonly default: T;
  /** Parser of the text after the flag. Absent for switches, which take no value. */
  readonly parse?: (flag: string, value: string) => T;
  /** Placeholder for the value in `--help`, such as N or LIST. */
  readonly valueName?: string;
  /** Unit of the value, shown after the default in `--help`, such as "s". */
  readonly unit?: string;
  /** One-letter alias, used as `-x`. */
  readonly short?: string;
}

/** Optional parts of a flag made with the `flag` helpers. */
export interface FlagOptions {
  valueName?: string;
  unit?: string;
  short?: string;
}

/** A command's flags, keyed by camelCase name. The key `targetAcc` is the flag `--target-acc`. */
export type FlagSpecs = Record<string, FlagSpec<unknown>>;

/** Parsed values of `S`, one per flag. */
export type FlagValues<S extends FlagSpecs> = {
  -readonly [K in keyof S]: S[K] extends FlagSpec<infer T> ? T : never;
};

/** A command for `parseFlags` and `formatHelp`. */
export interface CommandSpec<S extends FlagSpecs> {
  /** Usage line without the "Usage:" prefix, such as "deno task hw1 [flags]". */
  usage: string;
  /** One or two sentences printed under the usage line. */
  description?: string;
  flags: S;
}

function valueFlag<T>(
  parse: (flag: string, value: string) => T,
  valueName: string,
  help: string,
  defaultValue: T,
  options: FlagOptions,
): FlagSpec<T> {
  return { help, default: defaultValue, parse, valueName, ...options };
}

/**
 * Builders of `FlagSpec`s. Pass `undefined` as the default for a flag that may be left unset;
 * its value type then includes undefined.
 */
export const flag = {
  /** Make a switch that is false unless given. */
  boolean(help: string, options: Omit<FlagOptions, "valueName" | "unit"> = {}): FlagSpec<boolean> {
    return { help, default: false, ...options };
  },
  /** Make a flag that takes any text. */
  string<D extends string | undefined>(
    help: string,
    defaultValue: D,
    options: FlagOptions = {},
  ): FlagSpec<string | D> {
    return valueFlag<string | D>((_flag, value) => value, "TEXT", help, defaultValue, options);
  },
  /** Make a flag that takes an integer >= 1. */
  positiveInt<D extends number | undefined>(
    help: string,
    defaultValue: D,
    options: FlagOptions = {},
  ): FlagSpec<number | D> {
    return valueFlag<number | D>(parsePositiveInt, "N", help, defaultValue, options);
  },
  /** Make a flag that takes an integer >= 0. */
  nonNegativeInt<D extends number | undefined>(
    help: string,
    defaultValue: D,
    options: FlagOptions = {},
  ): FlagSpec<number | D> {
    return valueFlag<number | D>(parseNonNegativeInt, "N", help, defaultValue, options);
  },
  /** Make a flag that takes a number > 0. */
  positiveNumber<D extends number | undefined>(
    help: string,
    defaultValue: D,
    options: FlagOptions = {},
  ): FlagSpec<number | D> {
    return valueFlag<number | D>(parsePositiveNumber, "X", help, defaultValue, options);
  },
  /** Make a flag that takes a number >= 0. */
  nonNegativeNumber<D extends number | undefined>(
    help: string,
    defaultValue: D,
    options: FlagOptions = {},
  ): FlagSpec<number | D> {
    return valueFlag<number | D>(parseNonNegativeNumber, "X", help, defaultValue, options);
  },
  /** Make a flag that takes a number in [0, 1]. */
  probability<D extends number | undefined>(
    help: string,
    defaultValue: D,
    options: FlagOptions = {},
  ): FlagSpec<number | D> {
    return valueFlag<number | D>(parseProbability, "P", help, defaultValue, options);
  },
  /** Make a flag that takes comma-separated positive integers, or "none" for an empty list. */
  intList<D extends readonly number[] | undefined>(
    help: string,
    defaultValue: D,
    options: FlagOptions = {},
  ): FlagSpec<number[] | D> {
    return valueFlag<number[] | D>(parseIntList, "LIST", help, defaultValue, options);
  },
  /** Make a flag that takes one of `choices`, shown in `--help` as the placeholder `a|b|c`. */
  choice<const C extends string, D extends C | undefined>(
    help: string,
    choices: readonly C[],
    defaultValue: D,
    options: FlagOptions = {},
  ): FlagSpec<C | D> {
    const parse = (name: string, value: string) => parseChoice(name, value, choices);
    return valueFlag<C | D>(parse, choices.join("|"), help, defaultValue, options);
  },
};

/** Return the command-line name of a flag key: `targetAcc` gives `--target-acc`. */
export function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

// Check the spec itself, so that a mistake in a script fails on every run, not only with some
// flags. These are programming errors, hence TypeError rather than UsageError.
function checkSpecs(flags: FlagSpecs): void {
  const shorts = new Set<string>(["h"]);
  for (const [key, spec] of Object.entries(flags)) {
    if (!/^[a-z][a-zA-Z0-9]*$/.test(key)) {
      throw new TypeError(`Invalid flag key "${key}": expected a camelCase name such as targetAcc`);
    }
    if (key === "help") throw new TypeError('Invalid flag key "help": --help is built in');
    checkDefault(key, spec);
    if (spec.short !== undefined) {
      if (!/^[a-zA-Z]$/.test(spec.short) || shorts.has(spec.short)) {
        throw new TypeError(
          `Invalid short name "${spec.short}" of ${
            flagName(key)
          }: expected an unused single letter other than h`,
        );
      }
      shorts.add(spec.short);
    }
  }
}

// Check that the default of a flag that takes a value would pass its own parser.
function checkDefault(key: string, spec: FlagSpec<unknown>): void {
  if (spec.parse === undefined || spec.default === undefined) return;
  try {
    spec.parse(flagName(key), formatConfigValue(spec.default as ConfigValue));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    throw new TypeError(`Invalid default of ${flagName(key)}: ${error.message}`);
  }
}

/**
 * Parse `args` against the command's flags and return one value per flag, using defaults for
 * flags not given. A flag given twice keeps its last value. Flags take their value as
 * `--lr 0.1` or `--lr=0.1`, and switches take none.
 *
 * @throws {HelpRequested} when `args` contain `--help` or `-h`, even beside bad flags
 * @throws {UsageError} for an unknown flag (the message lists the known ones), a missing or
 *   invalid value, a value given to a switch, or a positional argument
 * @throws {TypeError} when the spec has an invalid key, short name or default
 */
export function parseFlags<S extends FlagSpecs>(
  command: CommandSpec<S>,
  args: readonly string[],
): FlagValues<S> {
  checkSpecs(command.flags);
  const byName = new Map<string, [string, FlagSpec<unknown>]>();
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const [key, spec] of Object.entries(command.flags)) {
    const name = flagName(key).slice(2);
    byName.set(name, [key, spec]);
    options[name] = { type: spec.parse ? "string" : "boolean" };
    if (spec.short !== undefined) options[name].short = spec.short;
  }

  // Non-strict mode turns every argument into a token, so that the checks below can phrase the
  // messages instead of passing on parseArgs' own.
  const { tokens } = parseArgs({
    args: [...args],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  if (tokens.some((token) => token.kind === "option" && token.name === "help")) {
    throw new HelpRequested(formatHelp(command));
  }

  const given: Record<string, unknown> = {};
  for (const token of tokens) {
    if (token.kind === "option-terminator") continue;
    if (token.kind === "positional") {
      throw new UsageError(
        `Unexpected argument ${JSON.stringify(token.value)}: this command takes only flags`,
      );
    }
    const entry = byName.get(token.name);
    if (entry === undefined) {
      const known = [...byName.keys()].map((name) => `--${name}`).concat("--help").join(", ");
      throw new UsageError(`Unknown flag ${token.rawName}. Known flags: ${known}`);
    }
    const [key, spec] = entry;
    const name = flagName(key);
    if (spec.parse === undefined) {
      if (token.value !== undefined) {
        throw new UsageError(
          `Invalid ${name}=${token.value}: ${name} is a switch that takes no value, ` +
            "so leave it out for false",
        );
      }
      given[key] = true;
      continue;
    }
    if (token.value === undefined) {
      throw new UsageError(`Missing value for ${name}: write ${name} ${spec.valueName ?? "VALUE"}`);
    }
    // A negative number such as `--lr -1` is a value for the flag's parser to judge.
    const negativeNumber = /^-(\d|\.\d)/.test(token.value);
    if (
      !token.inlineValue && token.value.startsWith("-") && token.value.length > 1 && !negativeNumber
    ) {
      // parseArgs takes the next argument as the value even when it is the next flag.
      throw new UsageError(
        `Missing value for ${name} before ${token.value}. ` +
          `Write ${name}=VALUE if the value starts with "-"`,
      );
    }
    given[key] = spec.parse(name, token.value);
  }

  // Build the result in spec order, which configBlock() keeps.
  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(command.flags)) {
    // Copy list defaults so that a caller who changes the result cannot change the spec.
    if (key in given) {
      values[key] = given[key];
    } else {
      values[key] = Array.isArray(spec.default) ? [...spec.default] : spec.default;
    }
  }
  return values as FlagValues<S>;
}

/** Format the `--help` text: usage line, description and one line per flag with its default. */
export function formatHelp<S extends FlagSpecs>(command: CommandSpec<S>): string {
  const rows: [string, string][] = Object.entries(command.flags).map(([key, spec]) => {
    const short = spec.short ? `-${spec.short}, ` : "    ";
    const value = spec.parse ? ` ${spec.valueName ?? "VALUE"}` : "";
    const defaultText = formatDefault(spec);
    const description = defaultText === "" ? spec.help : `${spec.help} ${defaultText}`;
    return [`${short}${flagName(key)}${value}`, description];
  });
  rows.push(["-h, --help", "Show this help and exit"]);

  const width = Math.max(...rows.map(([left]) => left.length));
  const lines = [`Usage: ${command.usage}`, ""];
  if (command.description) lines.push(command.description, "");
  lines.push("Flags:");
  for (const [left, right] of rows) lines.push(`  ${left.padEnd(width)}  ${right}`);
  return lines.join("\n") + "\n";
}

function formatDefault(spec: FlagSpec<unknown>): string {
  const value = spec.default;
  const unit = spec.unit ? ` ${spec.unit}` : "";
  if (value === undefined || value === null) return spec.unit ? `(in ${spec.unit})` : "";
  if (spec.parse === undefined) return value === true ? "(default: on)" : "";
  return `(default: ${formatConfigValue(value as ConfigValue)}${unit})`;
}

// ---------------------------------------------------------------------------------------------
// Config block

/** A value in `configBlock`. Lists print comma-separated, as `parseIntList` reads them. */
export type ConfigValue =
  | string
  | number
  | boolean
  | readonly (string | number)[]
  | undefined
  | null;

/**
 * Format a run's configuration as `key: value` lines with the values aligned, without a final
 * line break. Empty lists print as "none", undefined and null as "(not set)", and strings that
 * are empty or contain line breaks as JSON strings.
 */
export function configBlock(entries: Readonly<Record<string, ConfigValue>>): string {
  const keys = Object.keys(entries);
  const width = Math.max(0, ...keys.map((key) => key.length)) + 1;
  return keys.map((key) => `${`${key}:`.padEnd(width)} ${formatConfigValue(entries[key])}`)
    .join("\n");
}

function formatConfigValue(value: ConfigValue): string {
  if (value === undefined || value === null) return "(not set)";
  if (Array.isArray(value)) return value.length === 0 ? "none" : value.join(",");
  if (typeof value === "string") {
    return value === "" || /[\r\n]/.test(value) ? JSON.stringify(value) : value;
  }
  return String(value);
}

// ---------------------------------------------------------------------------------------------
// main() runner

/** Output and exit hooks of `runMain`, replaced in tests. */
export interface MainIo {
  /** Write text to stdout. Default: `Deno.stdout`. */
  stdout?: (text: string) => void;
  /** Write text to stderr. Default: `Deno.stderr`. */
  stderr?: (text: string) => void;
  /** End the process. Default: `Deno.exit`. */
  exit?: (code: number) => void;
}

/**
 * Run a script's `main` and exit with its result: the number it returns, or 0.
 *
 * - `HelpRequested`: prints the help text to stdout and exits with 0.
 * - `UserError`, including `UsageError`: prints `error: <message>` and the hint to stderr, then
 *   exits with the error's `exitCode` (2 for `UsageError`, 1 otherwise).
 * - Any other thrown value is a bug: prints it with its stack and cause to stderr and exits with 1.
 *
 * A returned value that is not an integer in [0, 255] is reported and gives exit code 1.
 * Returns the exit code, which only matters when `io.exit` does not end the process.
 */
export async function runMain(
  main: () => Promise<number | void> | number | void,
  io: MainIo = {},
): Promise<number> {
  const stdout = io.stdout ?? ((text: string) => writeAll(Deno.stdout, text));
  const stderr = io.stderr ?? ((text: string) => writeAll(Deno.stderr, text));
  const exit = io.exit ?? ((code: number) => Deno.exit(code));

  let code: number;
  try {
    const result = await main();
    code = result ?? 0;
    if (!Number.isInteger(code) || code < 0 || code > 255) {
      stderr(`error: main() returned ${code}, expected an exit code in [0, 255]\n`);
      code = 1;
    }
  } catch (error) {
    code = reportError(error, stdout, stderr);
  }
  exit(code);
  return code;
}

function reportError(
  error: unknown,
  stdout: (text: string) => void,
  stderr: (text: string) => void,
): number {
  if (error instanceof HelpRequested) {
    stdout(error.text);
    return 0;
  }
  if (error instanceof UserError) {
    // One line, so that logs and shells show the whole message with its hint.
    const hint = error.hint ? ` ${error.hint}` : "";
    const stop = error.hint && !/[.!?]$/.test(error.message) ? "." : "";
    stderr(`error: ${error.message}${stop}${hint}\n`);
    return error.exitCode;
  }
  stderr(`error: ${Deno.inspect(error)}\n`);
  return 1;
}

function writeAll(stream: { writeSync(data: Uint8Array): number }, text: string): void {
  const bytes = new TextEncoder().encode(text);
  let written = 0;
  while (written < bytes.length) written += stream.writeSync(bytes.subarray(written));
}
