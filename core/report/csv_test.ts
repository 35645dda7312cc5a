import { deepEqual, equal, ok, rejects, throws } from "node:assert/strict";
import { join } from "node:path";
import { csvColumn, CsvLog, formatCsvField, parseCsv, toCsv } from "./csv.ts";

Deno.test("formatCsvField() quotes and formats fields", async (t) => {
  const cases: [string | number, string][] = [
    ["plain", "plain"],
    ["a,b", '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ["two\nlines", '"two\nlines"'],
    ["cr\rhere", '"cr\rhere"'],
    ["", ""],
    [" spaced ", " spaced "],
    [42, "42"],
    [0.1 + 0.2, "0.3"],
    [Math.fround(0.9312), "0.9312"],
    [1234567.891, "1234570"],
    [2.5e-8, "2.5e-8"],
    [NaN, "NaN"],
    [-Infinity, "-Infinity"],
  ];
  for (const [value, expected] of cases) {
    await t.step(`${JSON.stringify(value)} gives ${JSON.stringify(expected)}`, () => {
      equal(formatCsvField(value), expected);
    });
  }
});

Deno.test("toCsv() writes a header and rows", () => {
  const text = toCsv(["epoch", "loss", "note"], [[1, 0.41234567, "warm-up, lr 0.01"], [
    2,
    0.3,
    "",
  ]]);
  equal(text, 'epoch,loss,note\n1,0.412346,"warm-up, lr 0.01"\n2,0.3,\n');
});

Deno.test("toCsv() honors the digits argument", () => {
  equal(toCsv(["x"], [[Math.PI]], 3), "x\n3.14\n");
});

Deno.test("toCsv() rejects a row of the wrong length", () => {
  throws(() => toCsv(["a", "b"], [[1, 2], [3]]), {
    name: "TypeError",
    message: "toCsv: row 1 has 1 fields, header has 2 (a,b)",
  });
});

Deno.test("parseCsv() reads RFC 4180 records", async (t) => {
  const cases: [string, string, string[], string[][]][] = [
    ["simple", "a,b\n1,2\n3,4\n", ["a", "b"], [["1", "2"], ["3", "4"]]],
    ["no final line end", "a,b\n1,2", ["a", "b"], [["1", "2"]]],
    ["CRLF line ends", "a,b\r\n1,2\r\n", ["a", "b"], [["1", "2"]]],
    ["quoted comma", 'a,b\n"x,y",2\n', ["a", "b"], [["x,y", "2"]]],
    ["doubled quotes", 'a\n"say ""hi"""\n', ["a"], [['say "hi"']]],
    ["line break in a field", 'a,b\n"one\ntwo",2\n', ["a", "b"], [["one\ntwo", "2"]]],
    ["empty fields", "a,b,c\n,,\n", ["a", "b", "c"], [["", "", ""]]],
    ["empty quoted field last", 'a,b\n1,""', ["a", "b"], [["1", ""]]],
    ["blank lines skipped", "a,b\n\n1,2\n\n", ["a", "b"], [["1", "2"]]],
    ["byte order mark", "\uFEFFa,b\n1,2\n", ["a", "b"], [["1", "2"]]],
    ["empty text", "", [], []],
    ["header only", "epoch,loss\n", ["epoch", "loss"], []],
  ];
  for (const [name, text, header, rows] of cases) {
    await t.step(name, () => {
      const table = parseCsv(text);
      deepEqual(table.header, header);
      deepEqual(table.rows, rows);
    });
  }
});

Deno.test("parseCsv() round-trips toCsv() output", () => {
  const header = ["name", "value", "comment"];
  const rows = [
    ["a,b", "1", 'quote " inside'],
    ["multi\nline", "-2.5", ""],
    ["\r\n", "NaN", ",,,"],
  ];
  deepEqual(parseCsv(toCsv(header, rows)), { header, rows });
});

Deno.test("parseCsv() rejects malformed text", async (t) => {
  const cases: [string, string, string][] = [
    [
      "unclosed quote",
      'a,b\n1,"open\n2,3\n',
      "Invalid CSV at line 2: a quoted field is not closed",
    ],
    [
      "quote inside a field",
      'a,b\n1,x"y\n',
      "Invalid CSV at line 2: a quote inside an unquoted field",
    ],
    [
      "text after a quote",
      'a,b\n1,"x"y\n',
      "Invalid CSV at line 2: text after the closing quote of a field",
    ],
    [
      "too few fields",
      'a,b,c\n1,2,3\n"x\ny",2\n',
      "Invalid CSV at line 3: the record has 2 fields, the header has 3",
    ],
    [
      "too many fields",
      "a\n1\n2,3\n",
      "Invalid CSV at line 3: the record has 2 fields, the header has 1",
    ],
  ];
  for (const [name, text, message] of cases) {
    await t.step(name, () => {
      throws(() => parseCsv(text), { name: "SyntaxError", message });
    });
  }
});

Deno.test("csvColumn() converts a column to numbers", () => {
  const table = parseCsv("epoch,loss\n1,0.5\n2,\n3,NaN\n4,Infinity\n5, 0.25 \n");
  deepEqual(csvColumn(table, "epoch"), [1, 2, 3, 4, 5]);
  deepEqual(csvColumn(table, "loss"), [0.5, NaN, NaN, Infinity, 0.25]);
});

Deno.test("csvColumn() rejects an unknown column", () => {
  throws(() => csvColumn(parseCsv("epoch,loss\n1,2\n"), "acc"), {
    name: "RangeError",
    message: 'csvColumn: column "acc" not found in the header (epoch, loss)',
  });
});

Deno.test("csvColumn() rejects a non-numeric field", () => {
  throws(() => csvColumn(parseCsv("model,acc\nmlp,0.9\n"), "model"), {
    name: "TypeError",
    message: 'csvColumn: row 0 of column "model" is "mlp", expected a number',
  });
});

Deno.test("CsvLog writes rows on flush and close", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "run", "log.csv");
    const log = new CsvLog(path, ["epoch", "loss", "acc"]);
    log.append([1, 0.412345678, 0.8812]);
    log.append({ acc: 0.9, epoch: 2, loss: 0.3 });
    equal(log.rowCount, 2);

    await rejects(Deno.stat(path), Deno.errors.NotFound, "nothing is written before flush()");
    await log.flush();
    equal(await Deno.readTextFile(path), "epoch,loss,acc\n1,0.412346,0.8812\n2,0.3,0.9\n");

    log.append({ epoch: 3, loss: NaN, acc: 0.1 });
    await log.close();
    equal(
      await Deno.readTextFile(path),
      "epoch,loss,acc\n1,0.412346,0.8812\n2,0.3,0.9\n3,NaN,0.1\n",
    );
    throws(() => log.append([4, 0, 0]), {
      message: `CsvLog: cannot append to ${path} after close()`,
    });
    await log.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CsvLog writes a header-only file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "log.csv");
    const log = new CsvLog(path, ["epoch", "loss"]);
    await log.flush();
    equal(await Deno.readTextFile(path), "epoch,loss\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CsvLog keeps flushes in call order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "log.csv");
    const log = new CsvLog(path, ["step"]);
    const pending: Promise<void>[] = [];
    for (let step = 0; step < 20; step++) {
      log.append([step]);
      pending.push(log.flush());
    }
    await Promise.all(pending);
    const table = parseCsv(await Deno.readTextFile(path));
    equal(table.rows.length, 20);
    deepEqual(csvColumn(table, "step"), Array.from({ length: 20 }, (_, i) => i));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CsvLog skips unchanged flushes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "log.csv");
    const log = new CsvLog(path, ["step"]);
    log.append([1]);
    await log.flush();
    // A file written by someone else stays, which shows that the second flush wrote nothing.
    await Deno.writeTextFile(path, "replaced\n");
    await log.flush();
    equal(await Deno.readTextFile(path), "replaced\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CsvLog retries a failed flush", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "log.csv");
    // A directory at the log's path makes the rename fail.
    await Deno.mkdir(path);
    const log = new CsvLog(path, ["step"]);
    log.append([1]);
    await rejects(log.flush());

    await Deno.remove(path);
    await log.flush();
    equal(await Deno.readTextFile(path), "step\n1\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CsvLog closes on await using", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "log.csv");
    {
      await using log = new CsvLog(path, ["step"]);
      log.append([7]);
    }
    equal(await Deno.readTextFile(path), "step\n7\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CsvLog rejects bad headers and rows", async (t) => {
  await t.step("empty header", () => {
    throws(() => new CsvLog("x.csv", []), {
      name: "TypeError",
      message: "CsvLog: header of x.csv is empty",
    });
  });
  await t.step("repeated column", () => {
    throws(() => new CsvLog("x.csv", ["a", "b", "a"]), {
      name: "TypeError",
      message: 'CsvLog: header of x.csv repeats the column "a"',
    });
  });

  const log = new CsvLog("x.csv", ["epoch", "loss"]);
  await t.step("array of the wrong length", () => {
    throws(() => log.append([1]), {
      name: "TypeError",
      message: "CsvLog.append: row 0 has 1 fields, header has 2 (epoch,loss)",
    });
  });
  await t.step("object with missing and unknown keys", () => {
    throws(() => log.append({ epoch: 1, los: 0.5 }), {
      name: "TypeError",
      message: "CsvLog.append: row 0 is missing loss and has unknown los (columns: epoch,loss)",
    });
  });
  ok(log.rowCount === 0, "rejected rows must not be kept");
});
