/**
 * Markdown tables and the number, percent and duration formats used in reports.
 *
 * @module
 */

/** A table cell: numbers go through `formatNumber`, strings are escaped. */
export type Cell = string | number;

/** Column alignment in a markdown table. */
export type Align = "left" | "right" | "center";

/**
 * Format `value` with at most `digits` significant digits and no trailing zeros.
 *
 * Integers are printed in full (`60000`, not `6e4`), other values as the shortest form of the
 * rounded number (`0.2315`, `1.235e-7`). NaN and infinities print as `NaN`, `Infinity` and
 * `-Infinity`, so a diverged run stays visible.
 *
 * @throws {RangeError} when `digits` is not an integer in [1, 21]
 */
export function formatNumber(value: number, digits = 4): string {
  if (!Number.isInteger(digits) || digits < 1 || digits > 21) {
    throw new RangeError(`Invalid digits ${digits}: expected an integer in [1, 21]`);
  }
  if (!Number.isFinite(value) || Number.isInteger(value)) return String(value);
  // String() prints the shortest decimal that round-trips, so the rounded value has no noise.
  const rounded = Number(value.toPrecision(digits));
  return String(rounded === 0 ? 0 : rounded);
}

/**
 * Format a fraction as a percentage with `decimals` digits after the point: 0.98123 gives "98.12%".
 *
 * Non-finite values print as `NaN%`, `Infinity%` or `-Infinity%`.
 */
export function formatPercent(fraction: number, decimals = 2): string {
  if (!Number.isFinite(fraction)) return `${fraction}%`;
  const text = (fraction * 100).toFixed(decimals);
  // toFixed keeps the sign of values that round to zero, which would print "-0.00%".
  return `${/^-0(\.0*)?$/.test(text) ? text.slice(1) : text}%`;
}

/**
 * Format a duration given in seconds for people: "350 ms", "3.2 s", "1 m 05 s", "1 h 02 m".
 *
 * Each form is used while the rounded value stays below the next unit, so 59.96 s prints as
 * "1 m 00 s". Hours are not split into days.
 *
 * @throws {RangeError} when `seconds` is negative or not finite
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new RangeError(`Invalid duration ${seconds} s: expected a finite non-negative number`);
  }
  const ms = Math.round(seconds * 1000);
  if (ms < 1000) return `${ms} ms`;

  const tenths = Math.round(seconds * 10);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)} s`;

  const wholeSeconds = Math.round(seconds);
  if (wholeSeconds < 3600) {
    return `${Math.floor(wholeSeconds / 60)} m ${pad2(wholeSeconds % 60)} s`;
  }

  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)} h ${pad2(minutes % 60)} m`;
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

/**
 * Render a GitHub-flavored markdown table, padding columns so the raw text lines up.
 *
 * Numbers are formatted with `formatNumber`. In strings, `|` is escaped and line breaks become
 * `<br>`. Columns whose non-empty cells are all numbers, or strings such as "98.12%" or "1e-3", are
 * right-aligned unless `align` sets them.
 *
 * @param align one entry per column; omitted entries use the default above
 * @throws {TypeError} when the header is empty or a row or `align` has the wrong number of columns
 */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly Cell[])[],
  align: readonly (Align | undefined)[] = [],
): string {
  const columns = header.length;
  if (columns === 0) throw new TypeError("Cannot render markdown table: header is empty");
  if (align.length > columns) {
    throw new TypeError(
      `Cannot render markdown table: align has ${align.length} entries, header has ${columns}`,
    );
  }
  rows.forEach((row, i) => {
    if (row.length !== columns) {
      throw new TypeError(
        `Cannot render markdown table: row ${i} has ${row.length} cells, header has ${columns}`,
      );
    }
  });

  const head = header.map(escapeCell);
  const body = rows.map((row) => row.map(formatCell));
  const aligns = head.map((_, c) => align[c] ?? (isNumericColumn(rows, c) ? "right" : "left"));
  const widths = head.map((h, c) => Math.max(3, h.length, ...body.map((row) => row[c].length)));

  const line = (cells: string[]) =>
    `| ${cells.map((cell, c) => pad(cell, widths[c], aligns[c])).join(" | ")} |`;
  const rule = `| ${aligns.map((a, c) => alignRule(a, widths[c])).join(" | ")} |`;
  return [line(head), rule, ...body.map(line)].join("\n") + "\n";
}

function formatCell(cell: Cell): string {
  return typeof cell === "number" ? formatNumber(cell) : escapeCell(cell);
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\r\n|\r|\n/g, "<br>");
}

// Matches formatted numbers such as "12", "-0.5", "1,024", "1e-3", "98.12%" and "NaN".
const NUMERIC_TEXT = /^[-+]?(\d[\d,]*(\.\d*)?|\.\d+)(e[-+]?\d+)?\s?%?$|^[-+]?(NaN|Infinity)%?$/i;

function isNumericColumn(rows: readonly (readonly Cell[])[], column: number): boolean {
  let numeric = 0;
  for (const row of rows) {
    const cell = row[column];
    if (typeof cell === "number") {
      numeric++;
    } else if (cell.trim() !== "") {
      if (!NUMERIC_TEXT.test(cell.trim())) return false;
      numeric++;
    }
  }
  return numeric > 0;
}

function pad(text: string, width: number, align: Align): string {
  const space = width - text.length;
  if (align === "right") return " ".repeat(space) + text;
  if (align === "center") {
    const left = Math.floor(space / 2);
    return " ".repeat(left) + text + " ".repeat(space - left);
  }
  return text + " ".repeat(space);
}

function alignRule(align: Align, width: number): string {
  if (align === "right") return "-".repeat(width - 1) + ":";
  if (align === "center") return ":" + "-".repeat(width - 2) + ":";
  return "-".repeat(width);
}
