import { deepEqual, equal, fail, match, ok, throws } from "node:assert/strict";
import { downsample, escapeXml, linePlot, logTicks, niceTicks, PLOT_COLORS } from "./svg.ts";

/**
 * Check that `svg` is well-formed enough to parse: one root <svg>, tags balanced, attribute values
 * quoted, and no raw `<` or bare `&` in text. Returns the tag names in document order.
 */
function checkXml(svg: string): string[] {
  const names: string[] = [];
  const open: string[] = [];
  const tag = /<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  while (i < svg.length) {
    const lt = svg.indexOf("<", i);
    const text = svg.slice(i, lt < 0 ? svg.length : lt);
    if (/&(?!(amp|lt|gt|quot|apos);)/.test(text)) fail(`bare & in text ${JSON.stringify(text)}`);
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(svg);
    if (m === null) fail(`malformed tag at ${lt}: ${svg.slice(lt, lt + 60)}`);
    const [whole, closing, name, attributes, selfClosing] = m;
    if (/&(?!(amp|lt|gt|quot|apos);)/.test(attributes)) fail(`bare & in attributes of <${name}>`);
    if (closing) {
      const expected = open.pop();
      if (expected !== name) fail(`</${name}> closes <${expected}>`);
    } else {
      if (open.length === 0 && names.length > 0) fail(`second root element <${name}>`);
      names.push(name);
      if (!selfClosing) open.push(name);
    }
    i = lt + whole.length;
  }
  deepEqual(open, [], "unclosed elements");
  equal(names[0], "svg");
  return names;
}

// Return the numbers of every `d` attribute, which must contain only finite coordinates.
function pathNumbers(svg: string): number[] {
  return [...svg.matchAll(/ d="([^"]*)"/g)].flatMap(([, d]) =>
    d.split(/[ML ]/).filter((t) => t !== "").map(Number)
  );
}

Deno.test("checkXml() helper detects malformed SVG", () => {
  throws(() => checkXml("<svg><g></svg>"));
  throws(() => checkXml("<svg><text>a < b</text></svg>"));
  throws(() => checkXml("<svg><text>a & b</text></svg>"));
  throws(() => checkXml('<svg><rect x="1"/></svg><svg></svg>'));
  deepEqual(checkXml('<svg a="1"><text>a &amp; b</text><rect/></svg>\n'), ["svg", "text", "rect"]);
});

Deno.test("niceTicks() uses 1-2-5 steps", async (t) => {
  const cases: [number, number, number, number, number[]][] = [
    [0, 1, 0, 1, [0, 0.2, 0.4, 0.6, 0.8, 1]],
    [0, 10, 0, 10, [0, 2, 4, 6, 8, 10]],
    [1, 20, 0, 20, [0, 5, 10, 15, 20]],
    [0.13, 0.97, 0, 1, [0, 0.2, 0.4, 0.6, 0.8, 1]],
    [-3, 47, -10, 50, [-10, 0, 10, 20, 30, 40, 50]],
    [0.051, 0.36, 0.05, 0.4, [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4]],
    [0.9, 0.93, 0.9, 0.93, [0.9, 0.905, 0.91, 0.915, 0.92, 0.925, 0.93]],
    [0, 60000, 0, 60000, [0, 10000, 20000, 30000, 40000, 50000, 60000]],
    [1e-7, 5e-7, 1e-7, 5e-7, [1e-7, 2e-7, 3e-7, 4e-7, 5e-7]],
    [5, 5, 4.4, 5.6, [4.4, 4.6, 4.8, 5, 5.2, 5.4, 5.6]],
    [0, 0, -1, 1, [-1, -0.5, 0, 0.5, 1]],
  ];
  for (const [min, max, axisMin, axisMax, values] of cases) {
    await t.step(`[${min}, ${max}]`, () => {
      const ticks = niceTicks(min, max);
      deepEqual(ticks.values, values);
      equal(ticks.min, axisMin);
      equal(ticks.max, axisMax);
    });
  }
});

Deno.test("niceTicks() widens a near-empty range", () => {
  const ticks = niceTicks(0.9, 0.9000000000000001);
  deepEqual(ticks.values, [0.8, 0.85, 0.9, 0.95, 1]);
  equal(new Set(ticks.values).size, ticks.values.length);
});

Deno.test("niceTicks() honors count", () => {
  deepEqual(niceTicks(0, 10, 2).values, [0, 5, 10]);
  deepEqual(niceTicks(0, 10, 10).values, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  throws(() => niceTicks(0, 1, 0), {
    name: "RangeError",
    message: "niceTicks: invalid count 0, expected a positive integer",
  });
});

Deno.test("niceTicks() handles huge ranges", () => {
  const ticks = niceTicks(-1e308, 1e308);
  ok(ticks.values.every(Number.isFinite), `ticks ${ticks.values}`);
  ok(ticks.min <= -1e308 && ticks.max >= 1e308);
});

Deno.test("niceTicks() rejects invalid ranges", () => {
  throws(() => niceTicks(2, 1), { name: "RangeError", message: "niceTicks: invalid range [2, 1]" });
  throws(() => niceTicks(0, NaN), { name: "RangeError" });
  throws(() => niceTicks(-Infinity, 0), { name: "RangeError" });
});

Deno.test("logTicks() picks 1-2-5 or decade ticks", async (t) => {
  const cases: [number, number, number[]][] = [
    [0.05, 2.3, [0.05, 0.1, 0.2, 0.5, 1, 2, 5]],
    [0.2, 0.5, [0.2, 0.5]],
    [0.3, 0.3, [0.1, 0.2, 0.5, 1]],
    [1, 1000, [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]],
    [1e-5, 10, [1e-5, 1e-4, 1e-3, 0.01, 0.1, 1, 10]],
    [1e-12, 1e6, [1e-12, 1e-9, 1e-6, 1e-3, 1, 1e3, 1e6]],
  ];
  for (const [min, max, values] of cases) {
    await t.step(`[${min}, ${max}]`, () => {
      const ticks = logTicks(min, max);
      deepEqual(ticks.values, values);
      equal(ticks.min, values[0]);
      equal(ticks.max, values[values.length - 1]);
    });
  }
});

Deno.test("logTicks() rejects non-positive bounds", () => {
  throws(() => logTicks(0, 1), {
    name: "RangeError",
    message: "logTicks: invalid range [0, 1], expected 0 < min <= max",
  });
  throws(() => logTicks(1, Infinity), { name: "RangeError" });
  throws(() => logTicks(2, 1), { name: "RangeError" });
});

Deno.test("downsample() keeps ends and extremes", () => {
  const n = 10_000;
  const x = Array.from({ length: n }, (_, i) => i);
  const y = x.map((i) => Math.sin(i / 50));
  y[4321] = 7;
  y[8765] = -7;
  y[6000] = NaN;

  const out = downsample(x, y, 500);
  ok(out.x.length <= 500, `${out.x.length} points`);
  ok(out.x.length >= 300, `${out.x.length} points`);
  equal(out.x[0], 0);
  equal(out.x[out.x.length - 1], n - 1);
  ok(out.x.includes(4321), "keeps the maximum");
  ok(out.x.includes(8765), "keeps the minimum");
  ok(out.x.includes(6000), "keeps the gap");
  ok(out.x.every((v, i) => i === 0 || v > out.x[i - 1]), "keeps index order");
  ok(out.x.every((v, i) => Object.is(out.y[i], y[v])), "pairs each x with its own y");
});

Deno.test("downsample() returns short series unchanged", () => {
  deepEqual(downsample([1, 2, 3], [4, NaN, 6], 5), { x: [1, 2, 3], y: [4, NaN, 6] });
});

Deno.test("downsample() rejects bad arguments", () => {
  throws(() => downsample([1], [1, 2], 10), {
    name: "TypeError",
    message: "downsample: x has 1 values, y has 2",
  });
  throws(() => downsample([1], [1], 4), { name: "RangeError" });
});

Deno.test("escapeXml() escapes markup and drops control characters", () => {
  equal(escapeXml(`a<b>&"c'\u0001\u001b`), "a&lt;b&gt;&amp;&quot;c&apos;");
  equal(escapeXml("tab\tnewline\n"), "tab\tnewline\n");
});

Deno.test("linePlot() renders series and labels", () => {
  const x = [1, 2, 3, 4, 5];
  const svg = linePlot({
    title: "Loss",
    xLabel: "epoch",
    yLabel: "cross-entropy",
    series: [
      { name: "train", x, y: [2.3, 1.1, 0.6, 0.4, 0.3] },
      { name: "validation", x, y: [2.4, 1.3, 0.8, 0.7, 0.7], dashed: true },
    ],
  });
  const names = checkXml(svg);
  match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="640" height="360" /);
  equal(names.filter((n) => n === "path").length, 2);
  match(svg, /<text [^>]*font-weight="bold">Loss<\/text>/);
  match(svg, />epoch<\/text>/);
  match(svg, /rotate\(-90[^>]*>cross-entropy<\/text>/);
  match(svg, />train<\/text>/);
  match(svg, />validation<\/text>/);
  match(svg, new RegExp(`<path d="M[^"]*" stroke="${PLOT_COLORS[0]}"/>`));
  match(svg, new RegExp(`<path d="M[^"]*" stroke="${PLOT_COLORS[1]}" stroke-dasharray="6 3"/>`));
  // x ticks 0..5 by 1 and y ticks 0..2.5 by 0.5.
  for (const label of ["0", "1", "2", "3", "4", "5", "0.5", "1.5", "2.5"]) {
    match(svg, new RegExp(`>${label.replace(".", "\\.")}</text>`));
  }
  ok(pathNumbers(svg).every(Number.isFinite));
});

Deno.test("linePlot() breaks lines at non-finite points", () => {
  const svg = linePlot({
    series: [{ name: "loss", x: [1, 2, 3, 4, 5, 6, 7], y: [1, 0.8, NaN, 0.5, 0.4, Infinity, 0.3] }],
  });
  checkXml(svg);
  const d = svg.match(/<path d="([^"]*)"/)![1];
  equal(d.match(/M/g)!.length, 2, `path ${d}`);
  equal(d.match(/L/g)!.length, 2, `path ${d}`);
  // The point at x = 7 has no neighbor between the gap and the end, so it is drawn as a dot.
  equal(svg.match(/<circle /g)!.length, 1);
  ok(!/NaN|Infinity/.test(svg));
});

Deno.test("linePlot() draws a single point as a dot", () => {
  const svg = linePlot({ series: [{ name: "acc", x: [1], y: [0.9] }] });
  checkXml(svg);
  equal(svg.match(/<circle /g)!.length, 1);
  ok(!svg.includes("<path"));
});

Deno.test("linePlot() shows a note without data", async (t) => {
  const cases: [string, Parameters<typeof linePlot>[0]][] = [
    ["no series", { title: "Empty", series: [] }],
    ["empty series", { series: [{ name: "train", x: [], y: [] }] }],
    ["only NaN", { series: [{ name: "train", x: [1, 2], y: [NaN, NaN] }] }],
    ["log axis, no positive y", { logY: true, series: [{ name: "train", x: [1, 2], y: [0, -1] }] }],
  ];
  for (const [name, options] of cases) {
    await t.step(name, () => {
      const svg = linePlot(options);
      checkXml(svg);
      match(svg, />no data<\/text>/);
      ok(!svg.includes("<path"));
      ok(!/NaN|Infinity/.test(svg));
    });
  }
});

Deno.test("linePlot() escapes text", () => {
  const svg = linePlot({
    title: `Loss <b> & "acc"`,
    xLabel: "epoch <1>",
    yLabel: "a & b",
    series: [{ name: "<train & 'val'>", x: [0, 1], y: [1, 2] }],
  });
  checkXml(svg);
  ok(svg.includes("Loss &lt;b&gt; &amp; &quot;acc&quot;"));
  ok(svg.includes("epoch &lt;1&gt;"));
  ok(svg.includes("a &amp; b"));
  ok(svg.includes("&lt;train &amp; &apos;val&apos;&gt;"));
});

Deno.test("linePlot() uses a log axis", () => {
  const svg = linePlot({
    logY: true,
    series: [{ name: "loss", x: [1, 2, 3, 4], y: [2.3, 0, 0.2, 0.05] }],
  });
  checkXml(svg);
  for (const label of ["0.05", "0.1", "0.2", "0.5", "1", "2", "5"]) {
    match(svg, new RegExp(`text-anchor="end">${label.replace(".", "\\.")}</text>`));
  }
  // y = 0 cannot be drawn on a log axis, so x = 1 becomes a dot and x = 3..4 a line.
  equal(svg.match(/<circle /g)!.length, 1);
  equal(svg.match(/<path d="([^"]*)"/)![1].match(/M/g)!.length, 1);
});

Deno.test("linePlot() honors fixed y bounds and size", () => {
  const svg = linePlot({
    width: 800,
    height: 300,
    yMin: 0,
    yMax: 1,
    series: [{ name: "acc", x: [1, 2, 3], y: [0.5, 0.9, 1.2] }],
  });
  checkXml(svg);
  match(svg, /width="800" height="300" viewBox="0 0 800 300"/);
  const yLabels = [...svg.matchAll(/text-anchor="end">([^<]*)</g)].map((m) => m[1]);
  deepEqual(yLabels, ["0", "0.2", "0.4", "0.6", "0.8", "1"]);
  match(svg, /<clipPath id="plot-area">/);
});

Deno.test("linePlot() downsamples long series", () => {
  const n = 50_000;
  const x = Array.from({ length: n }, (_, i) => i);
  const y = x.map((i) => Math.cos(i / 100));
  const svg = linePlot({ series: [{ name: "loss", x, y }] });
  checkXml(svg);
  const points = pathNumbers(svg).length / 2;
  ok(points <= 2000, `${points} points drawn`);
  ok(svg.length < 40_000, `${svg.length} characters`);
});

Deno.test("linePlot() gives repeated colors a dash", () => {
  const series = Array.from({ length: 10 }, (_, k) => ({ name: `s${k}`, x: [0, 1], y: [0, k] }));
  const svg = linePlot({ series });
  checkXml(svg);
  const paths = [...svg.matchAll(/<path [^>]*>/g)].map((m) => m[0]);
  equal(paths.length, 10);
  ok(!paths[0].includes("dasharray"));
  ok(paths[8].includes(`stroke="${PLOT_COLORS[0]}"`));
  ok(paths[8].includes("dasharray"));
});

Deno.test("linePlot() rejects invalid options", async (t) => {
  const series = [{ name: "a", x: [1, 2], y: [1, 2] }];
  await t.step("x and y of different lengths", () => {
    throws(() => linePlot({ series: [{ name: "a", x: [1, 2], y: [1] }] }), {
      name: "TypeError",
      message: 'linePlot: series "a" has 2 x values and 1 y values',
    });
  });
  await t.step("too small", () => {
    throws(() => linePlot({ series, width: 100 }), {
      name: "RangeError",
      message: "linePlot: invalid size 100x360, expected at least 200x120",
    });
  });
  await t.step("yMin above yMax", () => {
    throws(() => linePlot({ series, yMin: 1, yMax: 0 }), {
      name: "RangeError",
      message: "linePlot: yMin 1 must be below yMax 0",
    });
  });
  await t.step("non-positive bound on a log axis", () => {
    throws(() => linePlot({ series, logY: true, yMin: 0 }), {
      name: "RangeError",
      message: "linePlot: invalid yMin 0, expected a finite number > 0 on a log axis",
    });
  });
});
