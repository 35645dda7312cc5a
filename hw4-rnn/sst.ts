/**
 * The Stanford Sentiment Treebank (Socher et al., EMNLP 2013): its bracketed trees and where to
 * find them.
 *
 * Each line of `train.txt`, `dev.txt` and `test.txt` is one sentence as a binarized tree whose
 * every node carries a sentiment label from 0 (very negative) to 4 (very positive), e.g.
 * `(3 (2 It) (4 (4 (2 's) (4 great)) (2 .)))`. A sentence's label is its root's label and its
 * words are the tree's leaves, left to right. Every node, the root and the leaves included, is a
 * labeled phrase: the leaves under it, with its own label.
 *
 * {@linkcode loadSst} reads the splits from the first of these sources:
 * 1. `dataDir` (`--data-dir`), the only source when given: a folder with the three text files
 *    (raw or `.gz`, also inside `trees/`), or with `trainDevTestTrees_PTB.zip`, or that zip file
 *    itself.
 * 2. A cache folder with the zip, downloaded from Stanford on first use and checked against its
 *    SHA-256.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { basename, join, resolve } from "node:path";
import { DataError, gunzipIfCompressed, readZip, writeFileAtomic } from "@nn/core";

/** The three splits, in the order of the files. */
export const SST_SPLITS = ["train", "dev", "test"] as const;
export type SstSplitName = typeof SST_SPLITS[number];

/** Stanford's download of the treebank. */
export const SST_URL = "https://nlp.stanford.edu/sentiment/trainDevTestTrees_PTB.zip";
/** File name of the archive, in a data folder and in the cache. */
export const SST_ZIP_NAME = "trainDevTestTrees_PTB.zip";
/** SHA-256 of Stanford's archive (789,539 bytes, members dated 2013-10-15). */
export const SST_ZIP_SHA256 = "5c613a4f673fc74097d523a2c83f38e0cc462984d847b82c7aaf36b01cbbbfcc";

/** A labeled node of a tree: its label and the leaves under it, `tokens[start, end)`. */
export interface Phrase {
  /** The node's label, 0 to 4. */
  label: number;
  /** Index of the node's first leaf in the sentence's `tokens`. */
  start: number;
  /** One past the index of the node's last leaf. */
  end: number;
}

/** A sentence with its root label and the labeled phrases of its tree. */
export interface LabeledSentence {
  /** Root label, 0 to 4. */
  label: number;
  /** The leaves, as written in the file (`-LRB-`, `n't`, `\/` included). */
  tokens: string[];
  /**
   * Every node of the tree in pre-order, so `phrases[0]` is the root, which spans every token.
   * A leaf's node is a one-token phrase.
   */
  phrases: Phrase[];
}

/** The three splits and where they came from. */
export interface Sst {
  train: LabeledSentence[];
  dev: LabeledSentence[];
  test: LabeledSentence[];
  /** Human-readable source, e.g. `data directory /data/sst (train.txt.gz, …)`. */
  source: string;
}

/** A malformed tree, located by file, line and column (both 1-based). */
export class TreeSyntaxError extends DataError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly problem: string,
  ) {
    super(`${file}:${line}:${column}: invalid tree: ${problem}`);
  }
}

/**
 * Parse one bracketed tree and return its root label, its leaves and its labeled phrases.
 *
 * A node is `(label word)` or `(label child child …)`; labels are single digits 0 to 4, and
 * words are runs of characters other than whitespace and brackets.
 *
 * @param file file name for messages
 * @param line 1-based line number for messages
 * @throws {TreeSyntaxError} for unbalanced brackets, a label outside 0–4, a node without
 *   content, a node with both a word and subtrees, or text after the tree
 */
export function parseTree(text: string, file = "<tree>", line = 1): LabeledSentence {
  const fail = (at: number, problem: string): never => {
    throw new TreeSyntaxError(file, line, at + 1, problem);
  };
  const isSpace = (c: string) => c === " " || c === "\t" || c === "\r";
  const isDelimiter = (c: string) => c === "(" || c === ")" || isSpace(c);

  /**
   * Open nodes, innermost last: each one's column, its words and children so far, and its
   * index in `phrases`, whose `end` is set when the node closes.
   */
  const open: { start: number; words: number; children: number; phrase: number }[] = [];
  const tokens: string[] = [];
  const phrases: Phrase[] = [];
  let rootLabel = -1;
  let pos = 0;
  while (pos < text.length && isSpace(text[pos])) pos++;
  if (text[pos] !== "(") {
    return fail(pos, `expected "(" to open the tree, found ${describe(text, pos)}`);
  }

  while (pos < text.length) {
    const c = text[pos];
    if (isSpace(c)) {
      pos++;
    } else if (c === "(") {
      const parent = open[open.length - 1];
      if (parent !== undefined) {
        if (parent.words > 0) {
          fail(pos, `the node opened at column ${parent.start + 1} has both a word and subtrees`);
        }
        parent.children++;
      } else if (rootLabel >= 0) {
        fail(pos, "text after the end of the tree");
      }
      const start = pos;
      pos++;
      let end = pos;
      while (end < text.length && !isDelimiter(text[end])) end++;
      const label = text.slice(pos, end);
      if (!/^[0-4]$/.test(label)) {
        fail(pos, label === "" ? 'missing label after "("' : `label "${label}" is not 0-4`);
      }
      if (rootLabel < 0) rootLabel = Number(label);
      open.push({ start, words: 0, children: 0, phrase: phrases.length });
      phrases.push({ label: Number(label), start: tokens.length, end: tokens.length });
      pos = end;
    } else if (c === ")") {
      const node = open.pop();
      if (node === undefined) fail(pos, 'unbalanced ")": no tree is open');
      if (node!.words === 0 && node!.children === 0) {
        fail(pos, `the node opened at column ${node!.start + 1} has no word and no subtrees`);
      }
      phrases[node!.phrase].end = tokens.length;
      pos++;
      if (open.length === 0) {
        while (pos < text.length && isSpace(text[pos])) pos++;
        if (pos < text.length) fail(pos, "text after the end of the tree");
      }
    } else {
      const node = open[open.length - 1];
      if (node === undefined) fail(pos, "text after the end of the tree");
      let end = pos;
      while (end < text.length && !isDelimiter(text[end])) end++;
      if (node!.children > 0 || node!.words > 0) {
        fail(
          pos,
          `the node opened at column ${
            node!.start + 1
          } has more than one word or a word after subtrees`,
        );
      }
      node!.words++;
      tokens.push(text.slice(pos, end));
      pos = end;
    }
  }
  if (open.length > 0) {
    fail(
      text.length,
      `unbalanced brackets: ${open.length} node${open.length === 1 ? "" : "s"} not closed ` +
        `(the innermost opened at column ${open[open.length - 1].start + 1})`,
    );
  }
  return { label: rootLabel, tokens, phrases };
}

/**
 * Parse a file of trees, one per line; blank lines are skipped.
 *
 * @param file file name for messages
 * @throws {TreeSyntaxError} naming the file, line and column of the first malformed tree
 * @throws {DataError} when the file has no tree
 */
export function parseTreeFile(text: string, file: string): LabeledSentence[] {
  const sentences: LabeledSentence[] = [];
  const lines = text.split("\n");
  for (const [i, line] of lines.entries()) {
    if (line.trim() === "") continue;
    sentences.push(parseTree(line, file, i + 1));
  }
  if (sentences.length === 0) throw new DataError(`${file}: no trees in the file`);
  return sentences;
}

/** Options of {@linkcode loadSst}. */
export interface LoadSstOptions {
  /** Folder with the three text files or the zip, or the zip itself. The only source when set. */
  dataDir?: string;
  /** Download cache folder (default: {@linkcode defaultSstCacheDir}). */
  cacheDir?: string;
  /** URL of the zip to download (default: {@linkcode SST_URL}). */
  url?: string;
  /** Expected hex SHA-256 of the zip (default: {@linkcode SST_ZIP_SHA256}). */
  sha256?: string;
  /** Whether to download a zip missing from the cache (default: true). */
  allowDownload?: boolean;
  /** Receives a one-line message for each download and each cache problem. */
  onProgress?: (message: string) => void;
}

/**
 * Load the train, dev and test splits from the first available source (see the module doc).
 *
 * @throws {DataError} when `dataDir` has neither the text files nor the zip, when the cache
 *   has no valid zip and downloading is off or fails, when a download's SHA-256 differs (the
 *   file is then not cached), and for corrupt gzip or zip data
 * @throws {TreeSyntaxError} for a malformed tree, naming file, line and column
 */
export async function loadSst(options: LoadSstOptions = {}): Promise<Sst> {
  if (options.dataDir !== undefined) return await loadFromDataDir(resolve(options.dataDir));

  const cacheDir = resolve(options.cacheDir ?? defaultSstCacheDir());
  const path = join(cacheDir, SST_ZIP_NAME);
  const expected = (options.sha256 ?? SST_ZIP_SHA256).toLowerCase();
  const report = options.onProgress ?? (() => {});

  const cached = await readIfExists(path);
  if (cached !== null) {
    const actual = sha256Hex(cached);
    if (actual === expected) return { ...parseZip(cached, path), source: `cache ${path}` };
    report(`${path}: SHA-256 mismatch: expected ${expected}, got ${actual}; downloading again`);
  }
  if (options.allowDownload === false) {
    throw new DataError(
      `No SST source: ${path} is missing or damaged and downloads are off; pass --data-dir ` +
        "with the SST files",
    );
  }

  const url = options.url ?? SST_URL;
  report(`Downloading ${url}`);
  const bytes = await download(url);
  const actual = sha256Hex(bytes);
  if (actual !== expected) {
    throw new DataError(
      `${url}: SHA-256 mismatch: expected ${expected}, got ${actual}; not cached`,
    );
  }
  const splits = parseZip(bytes, url);
  try {
    await writeFileAtomic(path, bytes);
  } catch (err) {
    // The verified bytes are in memory, so this run goes on; the next one downloads again.
    report(`Cannot write cache file ${path} (${err instanceof Error ? err.message : err})`);
  }
  return { ...splits, source: `cache ${path} (downloaded from ${url})` };
}

/**
 * Return the default download cache: `$NN_CACHE_DIR/sst`, else `$XDG_CACHE_HOME/nn-course/sst`,
 * else `$HOME/.cache/nn-course/sst`.
 *
 * @throws {DataError} when none of the three variables is set
 */
export function defaultSstCacheDir(): string {
  const explicit = Deno.env.get("NN_CACHE_DIR");
  if (explicit) return join(explicit, "sst");
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  if (xdg) return join(xdg, "nn-course", "sst");
  const home = Deno.env.get("HOME");
  if (home) return join(home, ".cache", "nn-course", "sst");
  throw new DataError(
    "Cannot choose an SST cache folder: NN_CACHE_DIR, XDG_CACHE_HOME and HOME are unset; " +
      "set one of them or pass --data-dir",
  );
}

async function loadFromDataDir(dir: string): Promise<Sst> {
  const expected = `expected train.txt, dev.txt and test.txt (raw or .gz, maybe in trees/) ` +
    `or ${SST_ZIP_NAME}`;
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new DataError(`SST data directory ${dir} not found: ${expected}`);
    }
    throw err;
  }
  if (info.isFile) {
    const bytes = await Deno.readFile(dir);
    // Every ZIP archive starts with "PK", the signature of its first header.
    if (bytes[0] !== 0x50 || bytes[1] !== 0x4b) {
      throw new DataError(
        `SST data ${dir} is a file but not a ZIP archive: --data-dir expects a folder with ` +
          `train.txt, dev.txt and test.txt, or ${SST_ZIP_NAME}`,
      );
    }
    return { ...parseZip(bytes, dir), source: `zip ${dir}` };
  }

  // The three text files, if all are there.
  const found: Partial<Record<SstSplitName, { path: string; bytes: Uint8Array }>> = {};
  for (const split of SST_SPLITS) {
    for (const folder of [dir, join(dir, "trees")]) {
      for (const name of [`${split}.txt`, `${split}.txt.gz`]) {
        const path = join(folder, name);
        const bytes = await readIfExists(path);
        if (bytes !== null && found[split] === undefined) found[split] = { path, bytes };
      }
    }
  }
  const files = SST_SPLITS.map((split) => found[split]);
  if (files.every((f) => f !== undefined)) {
    const [train, dev, test] = files.map((f) =>
      parseTreeFile(decode(gunzipIfCompressed(f!.bytes, f!.path), f!.path), f!.path)
    );
    const names = files.map((f) => basename(f!.path)).join(", ");
    return { train, dev, test, source: `data directory ${dir} (${names})` };
  }

  const zipPath = join(dir, SST_ZIP_NAME);
  const zip = await readIfExists(zipPath);
  if (zip !== null) return { ...parseZip(zip, zipPath), source: `zip ${zipPath}` };
  const missing = SST_SPLITS.filter((split) => found[split] === undefined);
  throw new DataError(
    `SST data directory ${dir} has no ${missing.map((s) => `${s}.txt`).join(", ")} and no ` +
      `${SST_ZIP_NAME}: ${expected}`,
  );
}

/** Parse the three splits from the zip's `trees/<split>.txt` members. */
function parseZip(bytes: Uint8Array, file: string): Omit<Sst, "source"> {
  const members = readZip(bytes, file);
  const split = (name: SstSplitName) => {
    const member = [...members.keys()].find((m) => m === `trees/${name}.txt`) ??
      [...members.keys()].find((m) => basename(m) === `${name}.txt`);
    if (member === undefined) {
      throw new DataError(
        `${file}: no member ${name}.txt; members: ${[...members.keys()].join(", ")}`,
      );
    }
    return parseTreeFile(decode(members.get(member)!, `${file}:${member}`), `${file}:${member}`);
  };
  return { train: split("train"), dev: split("dev"), test: split("test") };
}

function decode(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (err) {
    throw new DataError(`${file}: not valid UTF-8 text`, { cause: err });
  }
}

async function readIfExists(path: string): Promise<Uint8Array | null> {
  try {
    return await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

// NOTE: fetch runs without a timeout, so a stalled server can block loadSst indefinitely.
async function download(url: string): Promise<Uint8Array> {
  const hint = "pass --data-dir with the SST files to work offline";
  let response: Response;
  try {
    response = await fetch(url);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new DataError(`Download of ${url} failed: ${detail}; ${hint}`, { cause: err });
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new DataError(
      `Download of ${url} failed: HTTP ${response.status} ${response.statusText}; ${hint}`,
    );
  }
  return new Uint8Array(await response.arrayBuffer());
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function describe(text: string, pos: number): string {
  return pos >= text.length ? "the end of the line" : JSON.stringify(text.slice(pos, pos + 10));
}
