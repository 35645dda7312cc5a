/**
 * A progress bar for training loops, written to stderr so that results on stdout stay clean.
 *
 * @module
 */

/** Output stream of `Progress`. `Deno.stderr` and `Deno.stdout` fit, and tests pass a fake. */
export interface ProgressStream {
  writeSync(data: Uint8Array): number;
  isTerminal(): boolean;
}

/** Options of `Progress`. */
export interface ProgressOptions {
  /** Number of steps at 100%, such as batches per epoch. */
  total: number;
  /** Text at the start of each line, such as "epoch 3/20". */
  label?: string;
  /** Stream to write to. Default `Deno.stderr`. */
  stream?: ProgressStream;
  /** Clock in milliseconds. Default `performance.now`. */
  now?: () => number;
  /**
   * Terminal width in characters. Lines that do not fit lose the bar, then their end.
   * Default: the console size, or 80.
   */
  columns?: number;
  /** Name of one step in the rate. Default "it", shown as "it/s". */
  unit?: string;
  /**
   * Steps already complete when the bar starts, such as the epochs before a resume. The count
   * and percent include them; the rate and ETA count only the steps since. Default 0.
   */
  initial?: number;
}

/** Minimum time between two redraws on a terminal, in milliseconds. */
const TERMINAL_INTERVAL_MS = 100;
/** Maximum time between two lines when not on a terminal, in milliseconds. */
const PLAIN_INTERVAL_MS = 10_000;
/** Width of the bar on a terminal, in characters. */
const BAR_WIDTH = 20;

/**
 * A progress line with percent, count, elapsed time, ETA, rate and a caller's note such as
 * "loss 0.231 acc 93.1%".
 *
 * On a terminal the line is redrawn in place with `\r` at most 10 times per second. Elsewhere,
 * such as in CI logs, a new line is printed each time progress passes a multiple of 10%, or
 * after 10 s without a line, so a log gets about 10 lines per bar. The ETA assumes that the
 * remaining steps run at the average rate so far.
 *
 * On a terminal, text that others print before `done()` lands on the bar's line, so print
 * epoch summaries after `done()`.
 *
 * @example
 * ```ts
 * const bar = new Progress({ total: batches, label: `epoch ${epoch}` });
 * for (let b = 0; b < batches; b++) {
 *   // ... train on batch b ...
 *   bar.update(b + 1, `loss ${loss.toFixed(3)}`);
 * }
 * bar.done();
 * ```
 */
export class Progress {
  readonly total: number;
  readonly label: string;
  #stream: ProgressStream;
  #now: () => number;
  #terminal: boolean;
  #columns: number;
  #unit: string;
  #start: number;
  #initial: number;
  #count: number;
  #info = "";
  #lastDrawAt: number;
  #lastPrintedDecile = 0;
  #lastPrintedCount = -1;
  #lastPrintedInfo = "";
  #finished = false;

  /** @throws {RangeError} when `total` is not a positive finite number */
  constructor(options: ProgressOptions) {
    if (!Number.isFinite(options.total) || options.total <= 0) {
      throw new RangeError(`Progress: invalid total ${options.total}, expected a positive number`);
    }
    this.total = options.total;
    this.label = options.label ?? "";
    this.#stream = options.stream ?? Deno.stderr;
    this.#now = options.now ?? (() => performance.now());
    this.#terminal = this.#stream.isTerminal();
    this.#columns = options.columns ?? (this.#terminal ? consoleColumns() : Infinity);
    this.#unit = options.unit ?? "it";
    const initial = options.initial ?? 0;
    if (!Number.isFinite(initial) || initial < 0) {
      throw new RangeError(`Progress: invalid initial count ${initial}, expected >= 0`);
    }
    this.#initial = this.#count = initial;
    // Off a terminal, the next line comes at the next 10% past the initial count.
    this.#lastPrintedDecile = Math.floor((Math.min(initial, this.total) / this.total) * 10);
    this.#start = this.#now();
    // A terminal draws on the first update, and a log waits for 10% or 10 s.
    this.#lastDrawAt = this.#terminal ? -Infinity : this.#start;
  }

  /**
   * Record that `done` of `total` steps are complete, and redraw if enough time or progress has
   * passed. A count above `total` shows as 100%.
   *
   * @param info short text shown after the rate, with line breaks replaced by spaces
   * @throws {RangeError} when `done` is negative or not finite
   * @throws {Error} after `done()`
   */
  update(done: number, info?: string): void {
    if (this.#finished) throw new Error(`Progress "${this.label}": update() after done()`);
    if (!Number.isFinite(done) || done < 0) {
      throw new RangeError(`Progress "${this.label}": invalid count ${done}, expected >= 0`);
    }
    this.#count = done;
    if (info !== undefined) this.#info = info;

    const now = this.#now();
    const complete = done >= this.total;
    if (this.#terminal) {
      if (complete || now - this.#lastDrawAt >= TERMINAL_INTERVAL_MS) this.#draw(now);
      return;
    }
    const decile = Math.floor((Math.min(done, this.total) / this.total) * 10);
    const due = decile > this.#lastPrintedDecile || now - this.#lastDrawAt >= PLAIN_INTERVAL_MS;
    if (due && done !== this.#lastPrintedCount) this.#printLine(now, decile);
  }

  /**
   * Show the final state and end the line. When not on a terminal, the final line is skipped if
   * the last line already showed the same count and note. Later calls do nothing.
   *
   * @param info replaces the note of the last `update()`
   */
  done(info?: string): void {
    if (this.#finished) return;
    this.#finished = true;
    if (info !== undefined) this.#info = info;
    const now = this.#now();
    if (this.#terminal) {
      this.#draw(now);
      this.#write("\n");
    } else if (this.#count !== this.#lastPrintedCount || this.#info !== this.#lastPrintedInfo) {
      this.#printLine(now, 10);
    }
  }

  #draw(now: number): void {
    this.#lastDrawAt = now;
    // A line as wide as the terminal would wrap, and \r then returns only to the start of the
    // last row. So the bar is dropped first, to keep the caller's note, and then the end is cut.
    const maxLength = Math.max(0, this.#columns - 1);
    let line = this.#format(now, true);
    if (line.length > maxLength) line = this.#format(now, false).slice(0, maxLength);
    // \x1b[K erases what a longer previous line left to the right.
    this.#write(`\r${line}\x1b[K`);
  }

  #printLine(now: number, decile: number): void {
    // A time-triggered line before the first 10% mark must not use up that mark.
    this.#lastDrawAt = now;
    this.#lastPrintedDecile = Math.max(this.#lastPrintedDecile, decile);
    this.#lastPrintedCount = this.#count;
    this.#lastPrintedInfo = this.#info;
    this.#write(this.#format(now, false) + "\n");
  }

  #format(now: number, withBar: boolean): string {
    const elapsed = Math.max(0, (now - this.#start) / 1000);
    const fraction = Math.min(1, this.#count / this.total);
    const rate = elapsed > 0 ? (this.#count - this.#initial) / elapsed : NaN;
    const eta = fraction >= 1 ? 0 : (this.total - this.#count) / rate;

    const parts: string[] = [];
    if (this.label !== "") parts.push(this.label);
    if (withBar) {
      const filled = Math.round(fraction * BAR_WIDTH);
      parts.push(`[${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}]`);
    }
    parts.push(
      `${Math.floor(fraction * 100)}%`.padStart(4),
      `${this.#count}/${this.total}`,
      `elapsed ${formatEta(elapsed)}`,
      `eta ${formatEta(eta)}`,
      formatRate(rate, this.#unit),
    );
    if (this.#info !== "") parts.push(this.#info.replace(/[\r\n]+/g, " "));
    return parts.join(" ");
  }

  #write(text: string): void {
    const bytes = new TextEncoder().encode(text);
    let written = 0;
    while (written < bytes.length) written += this.#stream.writeSync(bytes.subarray(written));
  }
}

/**
 * Format a time in seconds as a clock: "0:07", "12:05", "1:02:03". Negative, NaN and infinite
 * values, such as an ETA before the first step, give "?".
 */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

// Format steps per second, switching to seconds per step below one step per second.
function formatRate(rate: number, unit: string): string {
  if (!Number.isFinite(rate)) return `? ${unit}/s`;
  if (rate > 0 && rate < 1) return `${(1 / rate).toFixed(2)} s/${unit}`;
  let digits = 2;
  if (rate >= 100) digits = 0;
  else if (rate >= 10) digits = 1;
  return `${rate.toFixed(digits)} ${unit}/s`;
}

function consoleColumns(): number {
  try {
    // A pseudo-terminal without a size set, as `script` creates, reports 0 columns.
    const { columns } = Deno.consoleSize();
    return columns > 0 ? columns : 80;
  } catch {
    // Deno.consoleSize throws when no standard stream is a terminal.
    return 80;
  }
}
