/**
 * CSV output for training logs and a parser to read them back.
 *
 * Fields are quoted as RFC 4180 requires: a field that contains a comma, a double quote or a line
 * break is enclosed in double quotes, and its quotes are doubled. Records end with `\n` rather
 * than RFC 4180's CRLF, and `parseCsv` accepts both.
 *
 * @module
 */

import { writeFileAtomic } from "../io.ts";
import { formatNumber } from "./markdown.ts";

/** A CSV field before formatting. */
export type CsvValue = string | number;

/** Significant digits of numbers in CSV output unless a caller sets `digits`. */
export const CSV_DIGITS = 6;

/**
 * Format one field: numbers with at most `digits` significant digits (integers in full, NaN as
 * `NaN`), strings quoted when they contain a comma, a double quote or a line break.
 */
export function formatCsvField(value: CsvValue, digits = CSV_DIGITS): string {
  if (typeof value === "number") return formatNumber(value, digits);
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/**
 * Format `header` and `rows` as CSV text, one record per line, ending with a newline.
 *
 * @throws {TypeError} when a row has a different number of fields than the header
 */
export function toCsv(
  header: readonly string[],
  rows: readonly (readonly CsvValue[])[],
  digits = CSV_DIGITS,
): string {
  const lines = [formatCsvRecord(header, digits)];
  rows.forEach((row, i) => {
    checkRowLength("toCsv", header, row, i);
    lines.push(formatCsvRecord(row, digits));
  });
  return lines.join("\n") + "\n";
}

function formatCsvRecord(fields: readonly CsvValue[], digits: number): string {
  return fields.map((field) => formatCsvField(field, digits)).join(",");
}

function checkRowLength(
  op: string,
  header: readonly string[],
  row: readonly CsvValue[],
  index: number,
): void {
  if (row.length !== header.length) {
    throw new TypeError(
      `${op}: row ${index} has ${row.length} fields, header has ${header.length} (${header})`,
    );
  }
}

/**
 * A per-run training log kept in memory and written to a CSV file on `flush()` and `close()`.
 *
 * Every flush rewrites the whole file with `writeFileAtomic`, so the file on disk always contains
 * the header and the rows of the last completed flush, never a partial row. Flushes run in call
 * order, even when a caller does not await them.
 *
 * @example
 * ```ts
 * const log = new CsvLog("reports/hw1/log.csv", ["epoch", "loss", "acc"]);
 * log.append({ epoch: 1, loss: 0.4121, acc: 0.8812 });
 * await log.flush();
 * await log.close();
 * ```
 */
export class CsvLog {
  /** Column names, in file order. */
  readonly header: readonly string[];
  #lines: string[];
  #digits: number;
  #flushedLines = 0;
  #writes: Promise<void> = Promise.resolve();
  #closed = false;

  /**
   * Start an empty log for `path`. Nothing is written before the first `flush()`.
   *
   * @param digits significant digits of numbers in the file
   * @throws {TypeError} when the header is empty or repeats a column name
   */
  constructor(readonly path: string, header: readonly string[], options: { digits?: number } = {}) {
    if (header.length === 0) throw new TypeError(`CsvLog: header of ${path} is empty`);
    const repeated = header.find((name, i) => header.indexOf(name) !== i);
    if (repeated !== undefined) {
      throw new TypeError(`CsvLog: header of ${path} repeats the column "${repeated}"`);
    }
    this.header = Object.freeze([...header]);
    this.#digits = options.digits ?? CSV_DIGITS;
    this.#lines = [formatCsvRecord(this.header, this.#digits)];
  }

  /** Number of rows appended so far, not counting the header. */
  get rowCount(): number {
    return this.#lines.length - 1;
  }

  /**
   * Add a row, given either in header order or as an object keyed by column name.
   *
   * @throws {TypeError} when the row has missing, extra or unknown columns
   * @throws {Error} after `close()`
   */
  append(row: readonly CsvValue[] | Readonly<Record<string, CsvValue>>): void {
    if (this.#closed) throw new Error(`CsvLog: cannot append to ${this.path} after close()`);
    const fields = Array.isArray(row) ? row : this.#fieldsOf(row as Record<string, CsvValue>);
    checkRowLength("CsvLog.append", this.header, fields, this.rowCount);
    this.#lines.push(formatCsvRecord(fields, this.#digits));
  }

  #fieldsOf(row: Readonly<Record<string, CsvValue>>): CsvValue[] {
    const unknown = Object.keys(row).filter((key) => !this.header.includes(key));
    const missing = this.header.filter((name) => !Object.hasOwn(row, name));
    if (unknown.length > 0 || missing.length > 0) {
      const problems: string[] = [];
      if (missing.length > 0) problems.push(`is missing ${missing.join(", ")}`);
      if (unknown.length > 0) problems.push(`has unknown ${unknown.join(", ")}`);
      throw new TypeError(
        `CsvLog.append: row ${this.rowCount} ${problems.join(" and ")} (columns: ${this.header})`,
      );
    }
    return this.header.map((name) => row[name]);
  }

  /**
   * Write the header and all rows to `path`, unless nothing changed since the last flush.
   * The first flush writes the file even when it contains only the header.
   *
   * @throws {Error} whatever `writeFileAtomic` raises. The rows stay in memory for a later flush.
   */
  flush(): Promise<void> {
    const count = this.#lines.length;
    const text = this.#lines.join("\n") + "\n";
    this.#writes = this.#writes.catch(() => {}).then(async () => {
      if (count === this.#flushedLines) return;
      await writeFileAtomic(this.path, text);
      this.#flushedLines = count;
    });
    return this.#writes;
  }

  /** Flush and reject later appends. Calling it again only waits for pending writes. */
  close(): Promise<void> {
    this.#closed = true;
    return this.flush();
  }

  /** Close the log at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Records of a CSV file: the first is the header, the rest are rows of strings. */
export interface CsvTable {
  header: string[];
  rows: string[][];
}

/**
 * Parse CSV text as RFC 4180 describes. Lines may end with `\n` or `\r\n`, the last line end is
 * optional, a leading byte order mark is dropped and blank lines are skipped. Fields stay
 * strings, and `csvColumn` converts a column to numbers. Empty text gives an empty header.
 *
 * @throws {SyntaxError} naming the line when a quoted field is not closed, a quote appears
 *   inside an unquoted field, or a record has a different number of fields than the header
 */
export function parseCsv(text: string): CsvTable {
  if (text.startsWith("\uFEFF")) text = text.slice(1);
  const records: string[][] = [];
  const recordLines: number[] = [];
  let record: string[] = [];
  let field = "";
  // Set after a quoted field, so that an empty quoted field still counts as a field.
  let quoted = false;
  let line = 1;
  let recordStart = 1;
  let i = 0;

  const endField = () => {
    record.push(field);
    field = "";
    quoted = false;
  };
  const endRecord = () => {
    endField();
    records.push(record);
    recordLines.push(recordStart);
    record = [];
  };

  while (i < text.length) {
    const ch = text[i];
    if (ch === '"') {
      if (field !== "") throw csvError(line, "a quote inside an unquoted field");
      const read = readQuoted(text, i, line);
      field = read.value;
      line += read.lineBreaks;
      i = read.end;
      quoted = true;
      const next = text[i];
      if (i < text.length && next !== "," && next !== "\n" && next !== "\r") {
        throw csvError(line, "text after the closing quote of a field");
      }
    } else if (ch === ",") {
      endField();
      i++;
    } else if (ch === "\n" || ch === "\r") {
      const blank = record.length === 0 && field === "" && !quoted;
      if (!blank) endRecord();
      i += ch === "\r" && text[i + 1] === "\n" ? 2 : 1;
      line++;
      recordStart = line;
    } else {
      field += ch;
      i++;
    }
  }
  if (record.length > 0 || field !== "" || quoted) endRecord();

  const [header = [], ...rows] = records;
  rows.forEach((row, r) => {
    if (row.length !== header.length) {
      throw csvError(
        recordLines[r + 1],
        `the record has ${row.length} fields, the header has ${header.length}`,
      );
    }
  });
  return { header, rows };
}

// Read the quoted field that opens at text[start]. `end` is the index after its closing quote.
// Inside the field, "" stands for one quote and line breaks are part of the value.
function readQuoted(
  text: string,
  start: number,
  line: number,
): { value: string; lineBreaks: number; end: number } {
  let value = "";
  let lineBreaks = 0;
  let i = start + 1;
  for (;;) {
    if (i >= text.length) throw csvError(line, "a quoted field is not closed");
    const ch = text[i];
    if (ch === '"') {
      if (text[i + 1] !== '"') break;
      value += '"';
      i += 2;
      continue;
    }
    if (ch === "\n") lineBreaks++;
    value += ch;
    i++;
  }
  return { value, lineBreaks, end: i + 1 };
}

function csvError(line: number, problem: string): SyntaxError {
  return new SyntaxError(`Invalid CSV at line ${line}: ${problem}`);
}

/**
 * Return the column `name` of `table` as numbers. Empty fields give NaN, so a plot shows a gap.
 *
 * @throws {RangeError} when the header has no column `name`
 * @throws {TypeError} when a field is not a number (`NaN` and `Infinity` are accepted)
 */
export function csvColumn(table: CsvTable, name: string): number[] {
  const column = table.header.indexOf(name);
  if (column < 0) {
    throw new RangeError(
      `csvColumn: column "${name}" not found in the header (${table.header.join(", ")})`,
    );
  }
  return table.rows.map((row, r) => {
    const text = row[column].trim();
    if (text === "") return NaN;
    const value = Number(text);
    if (Number.isNaN(value) && text !== "NaN") {
      throw new TypeError(
        `csvColumn: row ${r} of column "${name}" is "${row[column]}", expected a number`,
      );
    }
    return value;
  });
}
