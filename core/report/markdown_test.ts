import { equal, throws } from "node:assert/strict";
import { formatDuration, formatNumber, formatPercent, markdownTable } from "./markdown.ts";

Deno.test("formatNumber() rounds to significant digits", async (t) => {
  const cases: [number, number | undefined, string][] = [
    [0.23145678, undefined, "0.2315"],
    [0.23145678, 6, "0.231457"],
    [60000, undefined, "60000"],
    [123456789, 3, "123456789"],
    [1234.5678, undefined, "1235"],
    [0.1 + 0.2, 6, "0.3"],
    [Math.fround(0.1), 6, "0.1"],
    [1.23456e-7, undefined, "1.235e-7"],
    [-2.5, undefined, "-2.5"],
    [-0, undefined, "0"],
    [-1e-30, 4, "-1e-30"],
    [NaN, undefined, "NaN"],
    [Infinity, undefined, "Infinity"],
    [-Infinity, undefined, "-Infinity"],
  ];
  for (const [value, digits, expected] of cases) {
    await t.step(`${value} with ${digits ?? "default"} digits gives ${expected}`, () => {
      equal(formatNumber(value, digits), expected);
    });
  }
});

Deno.test("formatNumber() rejects invalid digits", () => {
  throws(() => formatNumber(1.5, 0), { name: "RangeError", message: /Invalid digits 0/ });
  throws(() => formatNumber(1.5, 2.5), { name: "RangeError" });
});

Deno.test("formatPercent() formats fractions", async (t) => {
  const cases: [number, number | undefined, string][] = [
    [0.98123, undefined, "98.12%"],
    [1, undefined, "100.00%"],
    [0, undefined, "0.00%"],
    [0.5, 0, "50%"],
    [0.98765, 1, "98.8%"],
    [-0.00001, undefined, "0.00%"],
    [-0.25, undefined, "-25.00%"],
    [NaN, undefined, "NaN%"],
  ];
  for (const [fraction, decimals, expected] of cases) {
    await t.step(`${fraction} gives ${expected}`, () => {
      equal(formatPercent(fraction, decimals), expected);
    });
  }
});

Deno.test("formatDuration() picks the unit by size", async (t) => {
  const cases: [number, string][] = [
    [0, "0 ms"],
    [0.35, "350 ms"],
    [0.9996, "1.0 s"],
    [3.24, "3.2 s"],
    [59.94, "59.9 s"],
    [59.96, "1 m 00 s"],
    [65, "1 m 05 s"],
    [605.4, "10 m 05 s"],
    [3599.4, "59 m 59 s"],
    [3599.6, "1 h 00 m"],
    [3720, "1 h 02 m"],
    [90000, "25 h 00 m"],
  ];
  for (const [seconds, expected] of cases) {
    await t.step(`${seconds} s gives "${expected}"`, () => {
      equal(formatDuration(seconds), expected);
    });
  }
});

Deno.test("formatDuration() rejects negative and non-finite input", () => {
  throws(() => formatDuration(-1), {
    name: "RangeError",
    message: "Invalid duration -1 s: expected a finite non-negative number",
  });
  throws(() => formatDuration(NaN), { name: "RangeError" });
  throws(() => formatDuration(Infinity), { name: "RangeError" });
});

Deno.test("markdownTable() right-aligns numeric columns", () => {
  const lines = markdownTable(
    ["model", "accuracy", "loss", "epochs"],
    [
      ["mlp 512", "98.12%", 0.061234, 20],
      ["linear", "92.40%", 0.27, 5],
    ],
  ).split("\n");
  equal(lines[0], "| model   | accuracy |    loss | epochs |");
  equal(lines[1], "| ------- | -------: | ------: | -----: |");
  equal(lines[2], "| mlp 512 |   98.12% | 0.06123 |     20 |");
  equal(lines[3], "| linear  |   92.40% |    0.27 |      5 |");
  equal(lines[4], "");
  equal(lines.length, 5);
});

Deno.test("markdownTable() escapes pipes and line breaks", () => {
  const lines = markdownTable(["name", "note"], [["a|b", "first\nsecond\r\nthird"]]).split("\n");
  equal(lines.length, 4);
  equal(lines[0], "| name | note                     |");
  equal(lines[2], "| a\\|b | first<br>second<br>third |");
});

Deno.test("markdownTable() uses explicit alignment", () => {
  const lines = markdownTable(["a", "b", "c"], [["x", "y", 1]], ["center", "right"]).split("\n");
  equal(lines[1], "| :-: | --: | --: |");
  equal(lines[2], "|  x  |   y |   1 |");
});

Deno.test("markdownTable() left-aligns text columns", () => {
  const lines = markdownTable(["value"], [[1], ["n/a"], [""]]).split("\n");
  equal(lines[1], "| ----- |");
  equal(lines[2], "| 1     |");
});

Deno.test("markdownTable() renders a header without rows", () => {
  equal(markdownTable(["epoch", "loss"], []), "| epoch | loss |\n| ----- | ---- |\n");
});

Deno.test("markdownTable() rejects malformed input", async (t) => {
  await t.step("empty header", () => {
    throws(() => markdownTable([], []), {
      name: "TypeError",
      message: "Cannot render markdown table: header is empty",
    });
  });
  await t.step("row with too few cells", () => {
    throws(() => markdownTable(["a", "b"], [["x", "y"], ["z"]]), {
      name: "TypeError",
      message: "Cannot render markdown table: row 1 has 1 cells, header has 2",
    });
  });
  await t.step("align longer than the header", () => {
    throws(() => markdownTable(["a"], [], ["left", "right"]), {
      name: "TypeError",
      message: "Cannot render markdown table: align has 2 entries, header has 1",
    });
  });
});
