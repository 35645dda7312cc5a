import { deepEqual, equal, match, ok, throws } from "node:assert/strict";
import {
  configBlock,
  flag,
  flagName,
  formatHelp,
  HelpRequested,
  parseChoice,
  parseFlags,
  parseIntList,
  parseNonNegativeInt,
  parseNonNegativeNumber,
  parsePositiveInt,
  parsePositiveNumber,
  parseProbability,
  runMain,
  UsageError,
  UserError,
} from "./cli.ts";

type Parser = (flag: string, value: string) => unknown;

async function acceptTable(
  t: Deno.TestContext,
  parse: Parser,
  cases: [string, unknown][],
): Promise<void> {
  for (const [value, expected] of cases) {
    await t.step(`accepts ${JSON.stringify(value)}`, () => deepEqual(parse("x", value), expected));
  }
}

async function rejectTable(
  t: Deno.TestContext,
  parse: Parser,
  values: string[],
  expected: string,
): Promise<void> {
  for (const value of values) {
    await t.step(`rejects ${JSON.stringify(value)}`, () => {
      throws(() => parse("--x", value), {
        name: "UsageError",
        message: `Invalid --x ${JSON.stringify(value)}: expected ${expected}`,
      });
    });
  }
}

Deno.test("parsePositiveInt() parses integers >= 1", async (t) => {
  await acceptTable(t, parsePositiveInt, [["1", 1], ["20", 20], [" 7 ", 7], ["+3", 3], ["007", 7]]);
  await rejectTable(
    t,
    parsePositiveInt,
    ["0", "-1", "1.5", "1e3", "0x10", "", "abc", "12abc", "99999999999999999"],
    "a positive integer",
  );
});

Deno.test("parseNonNegativeInt() accepts zero", async (t) => {
  await acceptTable(t, parseNonNegativeInt, [["0", 0], ["42", 42]]);
  await rejectTable(t, parseNonNegativeInt, ["-1", "2.5", "seed"], "a non-negative integer");
});

Deno.test("parsePositiveNumber() parses decimals > 0", async (t) => {
  await acceptTable(t, parsePositiveNumber, [
    ["0.1", 0.1],
    [".5", 0.5],
    ["3", 3],
    ["1e-3", 0.001],
    ["2.5E2", 250],
  ]);
  await rejectTable(
    t,
    parsePositiveNumber,
    ["0", "-0.1", "Infinity", "NaN", "1e999", "0x1", "", "1,5", "0.1.2"],
    "a positive number",
  );
});

Deno.test("parseNonNegativeNumber() accepts zero", async (t) => {
  await acceptTable(t, parseNonNegativeNumber, [["0", 0], ["-0", 0], ["5e-4", 0.0005]]);
  await rejectTable(t, parseNonNegativeNumber, ["-1e-9", "none"], "a non-negative number");
});

Deno.test("parseProbability() accepts [0, 1]", async (t) => {
  await acceptTable(t, parseProbability, [["0", 0], ["0.5", 0.5], ["1", 1], ["1.0", 1]]);
  await rejectTable(
    t,
    parseProbability,
    ["1.01", "-0.1", "50%", "half"],
    "a probability between 0 and 1",
  );
});

Deno.test("parseIntList() parses comma-separated sizes", async (t) => {
  await acceptTable(t, parseIntList, [
    ["512,512", [512, 512]],
    ["784", [784]],
    [" 256 , 128 ", [256, 128]],
    ["", []],
    ["none", []],
    ["NONE", []],
  ]);
  await rejectTable(
    t,
    parseIntList,
    ["512,abc", "512,,256", "512,", ",512", "0,10", "-5", "1.5"],
    'comma-separated positive integers, or "none" for an empty list',
  );
});

Deno.test("parseIntList() rejects a non-numeric item", () => {
  throws(() => parseIntList("hidden", "512,abc"), {
    name: "UsageError",
    message: 'Invalid --hidden "512,abc": expected comma-separated positive integers, ' +
      'or "none" for an empty list',
  });
});

Deno.test("parseChoice() accepts only listed values", () => {
  equal(parseChoice("optimizer", "adam", ["sgd", "adam"]), "adam");
  throws(() => parseChoice("--optimizer", "Adam", ["sgd", "adam"]), {
    name: "UsageError",
    message: 'Invalid --optimizer "Adam": expected one of sgd, adam',
  });
});

Deno.test("UserError subclasses keep their fields", () => {
  class DataError extends UserError {}
  const cause = new Error("ENOENT");
  const error = new DataError("MNIST files not found in data/", {
    hint: "Run deno task fetch",
    cause,
  });
  ok(error instanceof UserError);
  equal(error.name, "DataError");
  equal(error.hint, "Run deno task fetch");
  equal(error.exitCode, 1);
  equal(error.cause, cause);

  const usage = new UsageError("Unknown flag --x");
  equal(usage.name, "UsageError");
  equal(usage.exitCode, 2);
  equal(usage.hint, "Run with --help to list the flags.");
  ok(!("cause" in usage), "no cause property unless one is given");
});

const COMMAND = {
  usage: "deno task hw1 [flags]",
  description: "Train a two-layer MLP on MNIST.",
  flags: {
    epochs: flag.positiveInt("Passes over the training set", 20, { short: "e" }),
    lr: flag.positiveNumber("Learning rate", 0.1, { valueName: "RATE" }),
    hidden: flag.intList("Hidden layer sizes, or none", [512, 512]),
    optimizer: flag.choice("Update rule", ["sgd", "momentum", "adam"], "sgd"),
    seed: flag.nonNegativeInt("Seed of the random generator", 1),
    dropout: flag.probability("Drop probability of hidden units", 0),
    targetAcc: flag.probability("Fail unless test accuracy reaches this fraction", undefined),
    timeLimit: flag.positiveNumber("Stop training after this time", 600, { unit: "s" }),
    out: flag.string("Report directory", "reports/hw1"),
    grid: flag.boolean("Run the learning-rate grid"),
  },
};

Deno.test("parseFlags() returns defaults without arguments", () => {
  const values = parseFlags(COMMAND, []);
  deepEqual(values, {
    epochs: 20,
    lr: 0.1,
    hidden: [512, 512],
    optimizer: "sgd",
    seed: 1,
    dropout: 0,
    targetAcc: undefined,
    timeLimit: 600,
    out: "reports/hw1",
    grid: false,
  });
  values.hidden.push(10);
  deepEqual(parseFlags(COMMAND, []).hidden, [512, 512], "defaults are copied");
});

Deno.test("parseFlags() infers value types", () => {
  const values = parseFlags(COMMAND, []);
  const epochs: number = values.epochs;
  const hidden: number[] = values.hidden;
  const optimizer: "sgd" | "momentum" | "adam" = values.optimizer;
  const targetAcc: number | undefined = values.targetAcc;
  const grid: boolean = values.grid;
  // @ts-expect-error targetAcc may be undefined
  const notOptional: number = values.targetAcc;
  deepEqual([epochs, hidden, optimizer, targetAcc, grid, notOptional], [
    20,
    [512, 512],
    "sgd",
    undefined,
    false,
    undefined,
  ]);
});

Deno.test("parseFlags() parses given flags", async (t) => {
  const cases: [string, string[], Record<string, unknown>][] = [
    ["separate value", ["--epochs", "5"], { epochs: 5 }],
    ["inline value", ["--lr=0.01"], { lr: 0.01 }],
    ["short name", ["-e", "3"], { epochs: 3 }],
    ["kebab-case name", ["--target-acc", "0.97"], { targetAcc: 0.97 }],
    ["empty list", ["--hidden", "none"], { hidden: [] }],
    ["empty inline list", ["--hidden="], { hidden: [] }],
    ["choice", ["--optimizer", "adam"], { optimizer: "adam" }],
    ["switch", ["--grid"], { grid: true }],
    ["last value wins", ["--epochs", "5", "--epochs", "7"], { epochs: 7 }],
    ["inline value starting with a dash", ["--out=-tmp"], { out: "-tmp" }],
    ["terminator alone", ["--grid", "--"], { grid: true }],
  ];
  const defaults = parseFlags(COMMAND, []);
  for (const [name, args, changed] of cases) {
    await t.step(name, () => deepEqual(parseFlags(COMMAND, args), { ...defaults, ...changed }));
  }
});

Deno.test("parseFlags() rejects bad command lines", async (t) => {
  const known = "--epochs, --lr, --hidden, --optimizer, --seed, --dropout, --target-acc, " +
    "--time-limit, --out, --grid, --help";
  const cases: [string, string[], string][] = [
    ["unknown flag", ["--epoch", "5"], `Unknown flag --epoch. Known flags: ${known}`],
    ["unknown short flag", ["-x"], `Unknown flag -x. Known flags: ${known}`],
    [
      "camelCase spelling",
      ["--targetAcc", "0.9"],
      `Unknown flag --targetAcc. Known flags: ${known}`,
    ],
    [
      "invalid value",
      ["--hidden", "512,abc"],
      'Invalid --hidden "512,abc": expected ' +
      'comma-separated positive integers, or "none" for an empty list',
    ],
    ["missing value at the end", ["--epochs"], "Missing value for --epochs: write --epochs N"],
    ["negative number", ["--lr", "-1"], 'Invalid --lr "-1": expected a positive number'],
    [
      "missing value before a flag",
      ["--lr", "--grid"],
      'Missing value for --lr before --grid. Write --lr=VALUE if the value starts with "-"',
    ],
    [
      "value for a switch",
      ["--grid=false"],
      "Invalid --grid=false: --grid is a switch that takes no value, so leave it out for false",
    ],
    [
      "positional argument",
      ["train"],
      'Unexpected argument "train": this command takes only flags',
    ],
    [
      "argument after the terminator",
      ["--", "--epochs"],
      'Unexpected argument "--epochs": ' +
      "this command takes only flags",
    ],
  ];
  for (const [name, args, message] of cases) {
    await t.step(
      name,
      () => throws(() => parseFlags(COMMAND, args), { name: "UsageError", message }),
    );
  }
});

Deno.test("parseFlags() throws HelpRequested for --help and -h", async (t) => {
  for (const args of [["--help"], ["-h"], ["--epochs", "oops", "--help"], ["--nope", "-h"]]) {
    await t.step(args.join(" "), () => {
      throws(() => parseFlags(COMMAND, args), (error: unknown) => {
        ok(error instanceof HelpRequested);
        equal(error.text, formatHelp(COMMAND));
        return true;
      });
    });
  }
});

Deno.test("parseFlags() rejects invalid specs", async (t) => {
  const cases: [string, Record<string, unknown>, string][] = [
    ["help key", { help: flag.boolean("x") }, 'Invalid flag key "help": --help is built in'],
    [
      "kebab-case key",
      { "target-acc": flag.boolean("x") },
      'Invalid flag key "target-acc": expected a camelCase name such as targetAcc',
    ],
    [
      "short h",
      { hidden: flag.intList("x", [], { short: "h" }) },
      'Invalid short name "h" of --hidden: expected an unused single letter other than h',
    ],
    [
      "repeated short",
      { a: flag.boolean("x", { short: "q" }), b: flag.boolean("y", { short: "q" }) },
      'Invalid short name "q" of --b: expected an unused single letter other than h',
    ],
    [
      "default out of range",
      { epochs: flag.positiveInt("x", 0) },
      'Invalid default of --epochs: Invalid --epochs "0": expected a positive integer',
    ],
    [
      "default not a choice",
      { opt: flag.choice("x", ["a", "b"], "c" as "a") },
      'Invalid default of --opt: Invalid --opt "c": expected one of a, b',
    ],
  ];
  for (const [name, flags, message] of cases) {
    await t.step(name, () => {
      throws(() => parseFlags({ usage: "x", flags: flags as never }, []), {
        name: "TypeError",
        message,
      });
    });
  }
});

Deno.test("formatHelp() lists every flag with its default", () => {
  deepEqual(
    formatHelp(COMMAND).split("\n"),
    [
      "Usage: deno task hw1 [flags]",
      "",
      "Train a two-layer MLP on MNIST.",
      "",
      "Flags:",
      "  -e, --epochs N                     Passes over the training set (default: 20)",
      "      --lr RATE                      Learning rate (default: 0.1)",
      "      --hidden LIST                  Hidden layer sizes, or none (default: 512,512)",
      "      --optimizer sgd|momentum|adam  Update rule (default: sgd)",
      "      --seed N                       Seed of the random generator (default: 1)",
      "      --dropout P                    Drop probability of hidden units (default: 0)",
      "      --target-acc P                 Fail unless test accuracy reaches this fraction",
      "      --time-limit X                 Stop training after this time (default: 600 s)",
      "      --out TEXT                     Report directory (default: reports/hw1)",
      "      --grid                         Run the learning-rate grid",
      "  -h, --help                         Show this help and exit",
      "",
    ],
  );
});

Deno.test("formatHelp() omits the description when absent", () => {
  equal(
    formatHelp({ usage: "tool", flags: { hidden: flag.intList("Sizes", []) } }),
    "Usage: tool\n\nFlags:\n      --hidden LIST  Sizes (default: none)\n" +
      "  -h, --help         Show this help and exit\n",
  );
});

Deno.test("flagName() converts camelCase to kebab-case", () => {
  equal(flagName("epochs"), "--epochs");
  equal(flagName("targetAcc"), "--target-acc");
  equal(flagName("maxStepsPerEpoch"), "--max-steps-per-epoch");
});

Deno.test("configBlock() aligns values", () => {
  equal(
    configBlock({
      epochs: 20,
      lr: 0.001,
      hidden: [512, 256],
      layers: [],
      grid: false,
      targetAcc: undefined,
      out: "reports/hw1",
      note: "",
      title: "two\nlines",
    }),
    [
      "epochs:    20",
      "lr:        0.001",
      "hidden:    512,256",
      "layers:    none",
      "grid:      false",
      "targetAcc: (not set)",
      "out:       reports/hw1",
      'note:      ""',
      'title:     "two\\nlines"',
    ].join("\n"),
  );
  equal(configBlock({}), "");
});

Deno.test("configBlock() accepts parsed flags", () => {
  const block = configBlock(parseFlags(COMMAND, ["--hidden", "none", "--optimizer", "adam"]));
  const lines = block.split("\n");
  equal(lines.length, Object.keys(COMMAND.flags).length);
  equal(lines[2], "hidden:    none");
  equal(lines[3], "optimizer: adam");
  equal(lines[6], "targetAcc: (not set)");
});

/** Run `main` under runMain with recorded output and exit code. */
async function runRecorded(main: () => Promise<number | void> | number | void) {
  const out = { stdout: "", stderr: "", exitCode: -1 };
  const returned = await runMain(main, {
    stdout: (text) => (out.stdout += text),
    stderr: (text) => (out.stderr += text),
    exit: (code) => (out.exitCode = code),
  });
  equal(returned, out.exitCode, "runMain returns the code it exits with");
  return out;
}

Deno.test("runMain() exits with main's result", async (t) => {
  const cases: [string, () => Promise<number | void> | number | void, number][] = [
    ["void", () => {}, 0],
    ["async void", async () => {}, 0],
    ["number", () => 3, 3],
    ["async number", () => Promise.resolve(0), 0],
  ];
  for (const [name, main, code] of cases) {
    await t.step(name, async () => {
      const out = await runRecorded(main);
      equal(out.exitCode, code);
      equal(out.stdout, "");
      equal(out.stderr, "");
    });
  }
});

Deno.test("runMain() rejects an invalid exit code", async () => {
  const out = await runRecorded(() => 256);
  equal(out.exitCode, 1);
  equal(out.stderr, "error: main() returned 256, expected an exit code in [0, 255]\n");
});

Deno.test("runMain() exits 2 on UsageError", async () => {
  const out = await runRecorded(() => {
    parseFlags(COMMAND, ["--hidden", "512,abc"]);
  });
  equal(out.exitCode, 2);
  equal(
    out.stderr,
    'error: Invalid --hidden "512,abc": expected comma-separated positive integers, ' +
      'or "none" for an empty list. Run with --help to list the flags.\n',
  );
  equal(out.stdout, "");
});

Deno.test("runMain() reports UserError without stack", async (t) => {
  class DataError extends UserError {}
  await t.step("with a hint", async () => {
    const out = await runRecorded(async () => {
      await Promise.resolve();
      throw new DataError("Missing file data/train-images.idx3-ubyte", {
        hint: "Check the --data flag.",
      });
    });
    equal(out.exitCode, 1);
    equal(
      out.stderr,
      "error: Missing file data/train-images.idx3-ubyte. Check the --data flag.\n",
    );
  });
  await t.step("without a hint", async () => {
    const out = await runRecorded(() => {
      throw new DataError("Label file has 59999 labels, expected 60000");
    });
    equal(out.exitCode, 1);
    equal(out.stderr, "error: Label file has 59999 labels, expected 60000\n");
  });
});

Deno.test("runMain() prints unexpected errors with stack", async () => {
  const out = await runRecorded(() => {
    throw new TypeError("matmul: inner dimensions differ", { cause: new Error("root cause") });
  });
  equal(out.exitCode, 1);
  match(out.stderr, /^error: TypeError: matmul: inner dimensions differ\n\s+at /);
  match(out.stderr, /cli_test\.ts/);
  match(out.stderr, /root cause/);
});

Deno.test("runMain() reports a thrown non-error value", async () => {
  const out = await runRecorded(() => {
    throw "plain string";
  });
  equal(out.exitCode, 1);
  equal(out.stderr, 'error: "plain string"\n');
});

Deno.test("runMain() prints help with code 0", async () => {
  const out = await runRecorded(() => {
    parseFlags(COMMAND, ["--help"]);
  });
  equal(out.exitCode, 0);
  equal(out.stdout, formatHelp(COMMAND));
  equal(out.stderr, "");
});

// Runs a subprocess, so it needs --allow-run, which the repository's test task does not grant.
Deno.test({
  name: "runMain() exits the process with the code",
  ignore: (await Deno.permissions.query({ name: "run" })).state !== "granted",
}, async () => {
  const script = `
    import { runMain, UsageError } from ${
    JSON.stringify(new URL("./cli.ts", import.meta.url).href)
  };
    runMain(() => { throw new UsageError("Invalid --epochs \\"x\\": expected a positive integer"); });
  `;
  const command = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", script],
    stdout: "piped",
    stderr: "piped",
  });
  const { code, stdout, stderr } = await command.output();
  equal(code, 2);
  equal(new TextDecoder().decode(stdout), "");
  equal(
    new TextDecoder().decode(stderr),
    'error: Invalid --epochs "x": expected a positive integer. Run with --help to list the flags.\n',
  );
});
