/**
 * Line plots as standalone SVG files, for training curves in markdown reports.
 *
 * @module
 */

/**
 * One named line of a plot. `x[i]` and `y[i]` form a point, and a NaN or infinite coordinate
 * leaves a gap.
 */
export interface PlotSeries {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  /** Whether the line is dashed, for example for validation curves beside training curves. */
  dashed?: boolean;
}

/** Options of `linePlot`. Sizes are in SVG pixels. */
export interface LinePlotOptions {
  series: readonly PlotSeries[];
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Image width in pixels, at least 200. Default 640. */
  width?: number;
  /** Image height in pixels, at least 120. Default 360. */
  height?: number;
  /** Whether the y axis is base-10 logarithmic. Points with y <= 0 are then skipped like NaN. */
  logY?: boolean;
  /** Fixed bottom of the y axis in data units. Points outside the axis are clipped. */
  yMin?: number;
  /** Fixed top of the y axis in data units. */
  yMax?: number;
  /** Maximum number of points drawn per series. Longer series are downsampled. Default 2000. */
  maxPoints?: number;
  /** Prefix of element ids, which must differ between SVGs inlined in one HTML page. */
  idPrefix?: string;
}

/** Axis range and tick positions returned by `niceTicks` and `logTicks`. */
export interface Ticks {
  /** Start of the axis, at or below the data minimum. */
  min: number;
  /** End of the axis, at or above the data maximum. */
  max: number;
  /** Tick positions in increasing order, including `min` and `max`. */
  values: number[];
}

/**
 * Okabe-Ito colors, which stay distinct under the common forms of color blindness. Yellow
 * comes last because it has the least contrast on white.
 */
export const PLOT_COLORS: readonly string[] = [
  "#0072B2",
  "#E69F00",
  "#009E73",
  "#D55E00",
  "#CC79A7",
  "#56B4E9",
  "#000000",
  "#F0E442",
];

/**
 * Choose about `count` intervals between `min` and `max` with a step of 1, 2 or 5 times a power
 * of ten, and widen the range to whole steps. The step lies within a factor 1.6 of
 * `(max - min) / count`, and widening adds at most two intervals.
 *
 * A range narrower than 1e-9 of its bounds, such as `min === max`, is first widened by 10% of
 * its center on each side (by 1 around zero), because its ticks would print alike.
 *
 * @throws {RangeError} when a bound is not finite, `min > max` or `count` is not a positive integer
 */
export function niceTicks(min: number, max: number, count = 5): Ticks & { step: number } {
  if (!Number.isFinite(min) || !Number.isFinite(max) || min > max) {
    throw new RangeError(`niceTicks: invalid range [${min}, ${max}]`);
  }
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`niceTicks: invalid count ${count}, expected a positive integer`);
  }
  if (max - min <= 1e-9 * Math.max(Math.abs(min), Math.abs(max))) {
    const center = min / 2 + max / 2;
    const pad = center === 0 ? 1 : Math.abs(center) * 0.1;
    min = center - pad;
    max = center + pad;
  }
  // Divide before subtracting so that ranges near the float64 limit do not overflow.
  const rawStep = max / count - min / count;
  const magnitude = powerOfTen(Math.floor(Math.log10(rawStep)));
  // Round the step to the nearest of 1, 2, 5 and 10 on a log scale, so the thresholds are the
  // geometric means of neighbors.
  const normalized = rawStep / magnitude;
  const multiple = normalized >= Math.sqrt(50)
    ? 10
    : normalized >= Math.sqrt(10)
    ? 5
    : normalized >= Math.sqrt(2)
    ? 2
    : 1;
  const step = multiple * magnitude;

  // The tolerance keeps a bound that is already a multiple of the step from gaining a tick.
  const first = Math.floor(min / step + 1e-9);
  const last = Math.ceil(max / step - 1e-9);
  const values: number[] = [];
  for (let k = first; k <= last; k++) values.push(cleanFloat(k * step));
  return { min: values[0], max: values[values.length - 1], step, values };
}

/**
 * Choose ticks for a base-10 logarithmic axis covering `[min, max]`, with both bounds > 0.
 *
 * Ranges of up to 3 decades get ticks at 1, 2 and 5 times powers of ten, and the axis ends at the
 * nearest of those values. Wider ranges get ticks at powers of ten, at most about 8 of them.
 *
 * @throws {RangeError} when a bound is not finite and positive or `min > max`
 */
export function logTicks(min: number, max: number): Ticks {
  if (!(min > 0) || !(max > 0) || !Number.isFinite(max) || min > max) {
    throw new RangeError(`logTicks: invalid range [${min}, ${max}], expected 0 < min <= max`);
  }
  if (min === max) {
    min /= 2;
    max *= 2;
  }
  const low = Math.floor(Math.log10(min));
  const high = Math.ceil(Math.log10(max));
  const decades = Math.max(1, high - low);

  if (decades <= 3) {
    // One extra decade on each side guards against Math.log10 rounding across a power of ten.
    const candidates: number[] = [];
    for (let e = low - 1; e <= high + 1; e++) {
      for (const m of [1, 2, 5]) candidates.push(Number(`${m}e${e}`));
    }
    const axisMin = candidates.findLast((c) => c <= min)!;
    const axisMax = candidates.find((c) => c >= max)!;
    const values = candidates.filter((c) => c >= axisMin && c <= axisMax);
    return { min: axisMin, max: axisMax, values };
  }

  const stride = Math.ceil(decades / 8);
  const values: number[] = [];
  for (let e = low; e < high + stride; e += stride) values.push(powerOfTen(e));
  return { min: values[0], max: values[values.length - 1], values };
}

function powerOfTen(exponent: number): number {
  // Parsing "1e-5" gives the closest double, which 10 ** -5 does not.
  return Number(`1e${exponent}`);
}

function cleanFloat(value: number): number {
  // Remove noise such as 3 * 0.1 = 0.30000000000000004.
  return Number(value.toPrecision(12));
}

/**
 * Reduce a series to at most `maxPoints` points for drawing, keeping its shape.
 *
 * The first and last points are kept. The points between them are split into buckets by index,
 * and each bucket keeps its lowest and highest point and its first gap (a NaN in x or y), in
 * index order. Series with at most `maxPoints` points are returned unchanged.
 *
 * @throws {RangeError} when `maxPoints` is below 5
 * @throws {TypeError} when `x` and `y` differ in length
 */
export function downsample(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  maxPoints: number,
): { x: number[]; y: number[] } {
  if (!(maxPoints >= 5)) {
    throw new RangeError(`downsample: invalid maxPoints ${maxPoints}, expected >= 5`);
  }
  if (x.length !== y.length) {
    throw new TypeError(`downsample: x has ${x.length} values, y has ${y.length}`);
  }
  const n = x.length;
  if (n <= maxPoints) return { x: Array.from(x), y: Array.from(y) };

  const keptIndices: number[] = [0];
  const buckets = Math.floor((maxPoints - 2) / 3);
  const interior = n - 2;
  for (let b = 0; b < buckets; b++) {
    const start = 1 + Math.floor((b * interior) / buckets);
    const end = 1 + Math.floor(((b + 1) * interior) / buckets);
    let lowest = -1;
    let highest = -1;
    let gap = -1;
    for (let i = start; i < end; i++) {
      if (!Number.isFinite(x[i]) || !Number.isFinite(y[i])) {
        if (gap < 0) gap = i;
        continue;
      }
      if (lowest < 0 || y[i] < y[lowest]) lowest = i;
      if (highest < 0 || y[i] > y[highest]) highest = i;
    }
    const picks = [...new Set([lowest, highest, gap])].filter((i) => i >= 0).sort((a, b) => a - b);
    keptIndices.push(...picks);
  }
  keptIndices.push(n - 1);
  return { x: keptIndices.map((i) => x[i]), y: keptIndices.map((i) => y[i]) };
}

/** Escape text for SVG content and attribute values, dropping control characters XML forbids. */
export function escapeXml(text: string): string {
  return text
    // deno-lint-ignore no-control-regex
    .replace(/[\x00-\x08\x0B\x0C\x0E-\x1F]/g, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

// Approximate width of one character of the 12 px sans-serif font, used to size the margins.
const CHAR_WIDTH = 7;
const FONT_SIZE = 12;

interface Box {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

interface Axis {
  min: number;
  max: number;
  ticks: number[];
  log: boolean;
}

/**
 * Render named series as a line plot and return a standalone SVG document.
 *
 * The plot has nice ticks with grid lines, a legend on the right and fixed colors from
 * `PLOT_COLORS`, dashed from the ninth series on so that repeated colors stay apart. Points with a
 * non-finite coordinate, or y <= 0 on a log axis, leave a gap in the line. A point with no
 * neighbor on either side is drawn as a dot. Without any drawable point the plot shows "no data".
 *
 * @throws {TypeError} when a series has x and y of different lengths
 * @throws {RangeError} when the size, `maxPoints` or a fixed y bound is invalid
 */
export function linePlot(options: LinePlotOptions): string {
  const width = options.width ?? 640;
  const height = options.height ?? 360;
  const maxPoints = options.maxPoints ?? 2000;
  const logY = options.logY ?? false;
  const idPrefix = options.idPrefix ?? "plot";
  checkPlotOptions(options, width, height, maxPoints, logY);

  const series = options.series.map((s, i) => {
    if (s.x.length !== s.y.length) {
      throw new TypeError(
        `linePlot: series "${s.name}" has ${s.x.length} x values and ${s.y.length} y values`,
      );
    }
    const y = Array.from(s.y, (v) => (logY && !(v > 0) ? NaN : v));
    const points = downsample(s.x, y, maxPoints);
    const dashed = s.dashed ?? Math.floor(i / PLOT_COLORS.length) % 2 === 1;
    return { name: s.name, color: PLOT_COLORS[i % PLOT_COLORS.length], dashed, ...points };
  });

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="${FONT_SIZE}">`,
  );
  out.push(`<title>${escapeXml(options.title ?? "Line plot")}</title>`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  if (options.title) {
    out.push(
      `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">` +
        `${escapeXml(options.title)}</text>`,
    );
  }

  const range = dataRange(series);
  const legendWidth = series.length === 0 ? 0 : legendSize(series, width);

  if (range === null) {
    const box = plotBox(options, width, height, legendWidth, 0);
    out.push(frame(box));
    out.push(
      `<text x="${r((box.left + box.right) / 2)}" y="${r((box.top + box.bottom) / 2)}" ` +
        `text-anchor="middle" fill="#666666">no data</text>`,
    );
    out.push(axisLabels(options, box, height));
    out.push(legend(series, box, legendWidth));
    out.push("</svg>");
    return out.join("\n") + "\n";
  }

  const xAxis = makeAxis(range.xMin, range.xMax, undefined, undefined, false);
  const yAxis = makeAxis(range.yMin, range.yMax, options.yMin, options.yMax, logY);
  const yLabelChars = Math.max(...yAxis.ticks.map((v) => tickLabel(v).length));
  const box = plotBox(options, width, height, legendWidth, yLabelChars);
  const px = (v: number) => box.left + position(xAxis, v) * (box.right - box.left);
  const py = (v: number) => box.bottom - position(yAxis, v) * (box.bottom - box.top);

  out.push(grid(xAxis, yAxis, box, px, py));
  out.push(frame(box));
  out.push(axisLabels(options, box, height));

  const clipId = `${escapeXml(idPrefix)}-area`;
  out.push(
    `<clipPath id="${clipId}"><rect x="${r(box.left)}" y="${r(box.top)}" ` +
      `width="${r(box.right - box.left)}" height="${r(box.bottom - box.top)}"/></clipPath>`,
  );
  out.push(
    `<g clip-path="url(#${clipId})" fill="none" stroke-width="1.5" stroke-linejoin="round">`,
  );
  for (const s of series) out.push(seriesPath(s, px, py));
  out.push("</g>");
  out.push(legend(series, box, legendWidth));
  out.push("</svg>");
  return out.join("\n") + "\n";
}

function checkPlotOptions(
  options: LinePlotOptions,
  width: number,
  height: number,
  maxPoints: number,
  logY: boolean,
): void {
  if (!Number.isFinite(width) || width < 200 || !Number.isFinite(height) || height < 120) {
    throw new RangeError(`linePlot: invalid size ${width}x${height}, expected at least 200x120`);
  }
  if (!Number.isInteger(maxPoints) || maxPoints < 5) {
    throw new RangeError(`linePlot: invalid maxPoints ${maxPoints}, expected an integer >= 5`);
  }
  for (const [name, bound] of [["yMin", options.yMin], ["yMax", options.yMax]] as const) {
    if (bound === undefined) continue;
    if (!Number.isFinite(bound) || (logY && bound <= 0)) {
      throw new RangeError(
        `linePlot: invalid ${name} ${bound}, expected a finite number${
          logY ? " > 0 on a log axis" : ""
        }`,
      );
    }
  }
  if (options.yMin !== undefined && options.yMax !== undefined && options.yMin >= options.yMax) {
    throw new RangeError(`linePlot: yMin ${options.yMin} must be below yMax ${options.yMax}`);
  }
}

// Return the bounds of the points with finite coordinates, or null when there are none.
function dataRange(
  series: readonly { x: number[]; y: number[] }[],
): { xMin: number; xMax: number; yMin: number; yMax: number } | null {
  let xMin = Infinity, xMax = -Infinity, yMin = Infinity, yMax = -Infinity;
  for (const s of series) {
    for (let i = 0; i < s.x.length; i++) {
      const x = s.x[i], y = s.y[i];
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      xMin = Math.min(xMin, x);
      xMax = Math.max(xMax, x);
      yMin = Math.min(yMin, y);
      yMax = Math.max(yMax, y);
    }
  }
  return xMin <= xMax ? { xMin, xMax, yMin, yMax } : null;
}

// Build an axis over the data range, replacing either end by a bound the caller fixed. Ticks
// outside fixed bounds are dropped. A fixed bound on the far side of all data still gives an
// axis with min < max, and the data is then clipped away.
function makeAxis(
  dataMin: number,
  dataMax: number,
  fixedMin: number | undefined,
  fixedMax: number | undefined,
  log: boolean,
): Axis {
  const low = fixedMin ?? Math.min(dataMin, fixedMax ?? Infinity);
  const high = fixedMax ?? Math.max(dataMax, fixedMin ?? -Infinity);
  const ticks = log ? logTicks(low, high) : niceTicks(low, high);
  const min = fixedMin ?? ticks.min;
  const max = fixedMax ?? ticks.max;
  const slack = (max - min) * 1e-9;
  return {
    min,
    max,
    log,
    ticks: ticks.values.filter((v) => v >= min - slack && v <= max + slack),
  };
}

// Return the fraction of the axis length at which `value` sits.
function position(axis: Axis, value: number): number {
  if (axis.log) {
    return (Math.log10(value) - Math.log10(axis.min)) /
      (Math.log10(axis.max) - Math.log10(axis.min));
  }
  return (value - axis.min) / (axis.max - axis.min);
}

function plotBox(
  options: LinePlotOptions,
  width: number,
  height: number,
  legendWidth: number,
  yLabelChars: number,
): Box {
  return {
    left: 10 + (options.yLabel ? 20 : 0) + Math.max(2, yLabelChars) * CHAR_WIDTH,
    right: width - 12 - legendWidth,
    top: options.title ? 34 : 12,
    bottom: height - 26 - (options.xLabel ? 18 : 0),
  };
}

// Return the legend width: room for the longest name, but at most a third of the image width.
function legendSize(series: readonly { name: string }[], width: number): number {
  const longest = Math.max(...series.map((s) => s.name.length));
  return Math.min(Math.floor(width / 3), 34 + longest * CHAR_WIDTH);
}

function legend(
  series: readonly { name: string; color: string; dashed: boolean }[],
  box: Box,
  legendWidth: number,
): string {
  // Names that do not fit the legend width are cut with an ellipsis.
  const maxChars = Math.max(3, Math.floor((legendWidth - 34) / CHAR_WIDTH));
  const lines: string[] = [];
  series.forEach((s, i) => {
    const x = box.right + 12;
    const y = box.top + 10 + i * 18;
    const name = s.name.length > maxChars ? s.name.slice(0, maxChars - 1) + "…" : s.name;
    lines.push(
      `<line x1="${r(x)}" y1="${r(y)}" x2="${r(x + 20)}" y2="${r(y)}" stroke="${s.color}" ` +
        `stroke-width="2"${s.dashed ? ' stroke-dasharray="6 3"' : ""}/>`,
      `<text x="${r(x + 26)}" y="${r(y + 4)}">${escapeXml(name)}</text>`,
    );
  });
  return `<g>\n${lines.join("\n")}\n</g>`;
}

function frame(box: Box): string {
  return `<rect x="${r(box.left)}" y="${r(box.top)}" width="${r(box.right - box.left)}" ` +
    `height="${r(box.bottom - box.top)}" fill="none" stroke="#888888"/>`;
}

function grid(
  xAxis: Axis,
  yAxis: Axis,
  box: Box,
  px: (v: number) => number,
  py: (v: number) => number,
): string {
  const lines: string[] = [];
  for (const v of xAxis.ticks) {
    const x = r(px(v));
    lines.push(
      `<line x1="${x}" y1="${r(box.top)}" x2="${x}" y2="${r(box.bottom)}" stroke="#dddddd"/>`,
      `<text x="${x}" y="${r(box.bottom + 16)}" text-anchor="middle">${tickLabel(v)}</text>`,
    );
  }
  for (const v of yAxis.ticks) {
    const y = r(py(v));
    lines.push(
      `<line x1="${r(box.left)}" y1="${y}" x2="${r(box.right)}" y2="${y}" stroke="#dddddd"/>`,
      `<text x="${r(box.left - 6)}" y="${r(y + 4)}" text-anchor="end">${tickLabel(v)}</text>`,
    );
  }
  return `<g>\n${lines.join("\n")}\n</g>`;
}

function axisLabels(options: LinePlotOptions, box: Box, height: number): string {
  const parts: string[] = [];
  if (options.xLabel) {
    parts.push(
      `<text x="${r((box.left + box.right) / 2)}" y="${height - 8}" text-anchor="middle">` +
        `${escapeXml(options.xLabel)}</text>`,
    );
  }
  if (options.yLabel) {
    const y = r((box.top + box.bottom) / 2);
    parts.push(
      `<text x="16" y="${y}" text-anchor="middle" transform="rotate(-90 16 ${y})">` +
        `${escapeXml(options.yLabel)}</text>`,
    );
  }
  return parts.join("\n");
}

function seriesPath(
  s: { x: number[]; y: number[]; color: string; dashed: boolean },
  px: (v: number) => number,
  py: (v: number) => number,
): string {
  // Split the series into runs of drawable points. A NaN ends a run.
  const runs: [number, number][][] = [];
  let run: [number, number][] = [];
  for (let i = 0; i < s.x.length; i++) {
    if (Number.isFinite(s.x[i]) && Number.isFinite(s.y[i])) {
      run.push([r(px(s.x[i])), r(py(s.y[i]))]);
    } else if (run.length > 0) {
      runs.push(run);
      run = [];
    }
  }
  if (run.length > 0) runs.push(run);

  const d = runs.filter((pts) => pts.length > 1)
    .map((pts) => pts.map(([x, y], i) => `${i === 0 ? "M" : "L"}${x} ${y}`).join(""))
    .join("");
  const dots = runs.filter((pts) => pts.length === 1)
    .map(([[x, y]]) => `<circle cx="${x}" cy="${y}" r="2.5" fill="${s.color}" stroke="none"/>`);
  const dash = s.dashed ? ' stroke-dasharray="6 3"' : "";
  const path = d === "" ? [] : [`<path d="${d}" stroke="${s.color}"${dash}/>`];
  return [...path, ...dots].join("\n");
}

function tickLabel(value: number): string {
  return String(value);
}

// Round a pixel coordinate to 0.1 px, which keeps files small without visible error.
function r(value: number): number {
  return Math.round(value * 10) / 10;
}
