/**
 * The vocabulary and pretrained word vectors.
 *
 * Shape legend: V vocabulary, D embedding features.
 *
 * @module
 */

import { DataError, type Rng } from "@nn/core";

/** Id of the padding token `_PAD`. */
export const PAD = 0;
/** Id of `_UNK`, which stands for every word outside the vocabulary. */
export const UNK = 1;
/** The words of ids PAD and UNK, which every vocabulary starts with. */
export const SPECIAL_TOKENS: readonly string[] = ["_PAD", "_UNK"];

/**
 * Return the form of an SST token that the vocabulary and GloVe use: lower-cased, with the
 * treebank's escapes `\/` and `\*` undone. GloVe 6B is lower-cased and unescaped.
 */
export function normalizeToken(token: string): string {
  return token.toLowerCase().replaceAll("\\/", "/").replaceAll("\\*", "*");
}

/** Words and their ids: `_PAD` = 0, `_UNK` = 1, then the words. */
export class Vocabulary {
  readonly tokens: readonly string[];
  readonly #ids: Map<string, number>;

  /**
   * @param tokens every word by id, starting with `_PAD` and `_UNK`
   * @throws {RangeError} when the list does not start with `_PAD`, `_UNK` or repeats a word
   */
  constructor(tokens: readonly string[]) {
    if (tokens[PAD] !== SPECIAL_TOKENS[PAD] || tokens[UNK] !== SPECIAL_TOKENS[UNK]) {
      throw new RangeError(
        `Vocabulary: expected _PAD and _UNK as ids 0 and 1, got ${
          JSON.stringify(tokens.slice(0, 2))
        }`,
      );
    }
    this.tokens = Object.freeze([...tokens]);
    this.#ids = new Map(tokens.map((token, id) => [token, id]));
    if (this.#ids.size !== tokens.length) {
      const repeated = tokens.find((token, i) => this.#ids.get(token) !== i);
      throw new RangeError(`Vocabulary: the word ${JSON.stringify(repeated)} appears twice`);
    }
  }

  /** Number of ids V, `_PAD` and `_UNK` included. */
  get size(): number {
    return this.tokens.length;
  }

  /** Return the id of a raw SST token, after {@linkcode normalizeToken}; `UNK` when unknown. */
  id(token: string): number {
    return this.#ids.get(normalizeToken(token)) ?? UNK;
  }

  /** Return the ids of raw SST tokens. */
  encode(tokens: readonly string[]): Int32Array {
    return Int32Array.from(tokens, (token) => this.id(token));
  }
}

/**
 * Build the vocabulary of `sentences`: `_PAD`, `_UNK`, then normalized words by descending
 * count (ties in alphabetical order), keeping at most `maxSize` ids in all. Normalized words
 * are lower-case, so none can collide with `_PAD` or `_UNK`.
 *
 * @throws {RangeError} when `maxSize` is below 3
 */
export function buildVocabulary(
  sentences: readonly { tokens: readonly string[] }[],
  maxSize: number,
): Vocabulary {
  if (!Number.isInteger(maxSize) || maxSize < 3) {
    throw new RangeError(`buildVocabulary: maxSize must be an integer >= 3, got ${maxSize}`);
  }
  const counts = new Map<string, number>();
  for (const sentence of sentences) {
    for (const token of sentence.tokens) {
      const word = normalizeToken(token);
      counts.set(word, (counts.get(word) ?? 0) + 1);
    }
  }
  const byCount = (a: [string, number], b: [string, number]) => {
    if (a[1] !== b[1]) return b[1] - a[1];
    if (a[0] === b[0]) return 0;
    return a[0] < b[0] ? -1 : 1;
  };
  const words = [...counts.entries()]
    .sort(byCount)
    .slice(0, maxSize - SPECIAL_TOKENS.length)
    .map(([word]) => word);
  return new Vocabulary([...SPECIAL_TOKENS, ...words]);
}

/** Vectors read by {@linkcode readEmbeddings} for the words of a vocabulary. */
export interface PretrainedVectors {
  /** Features D per vector. */
  dim: number;
  /** `[V·D]`, row `id` filled where `found[id]` is 1, zeros elsewhere. */
  vectors: Float32Array;
  /** `[V]`: 1 where the file has a vector for the word. */
  found: Uint8Array;
  /** Number of vocabulary words found. */
  foundCount: number;
  /** Standard deviation of all values of the found vectors. */
  std: number;
}

/**
 * Read word vectors in GloVe's text format (`word v1 … vD` per line, space-separated, raw or
 * gzip) for the words of `vocab`, streaming the file so that large files fit in memory.
 *
 * Words are matched after {@linkcode normalizeToken}, and the first line of a word wins. D is
 * taken from the first line; a first line of exactly two integers (word2vec's
 * `count dimension` header) is skipped. A line with more than D + 1 fields is read as a word
 * that contains spaces, as in some GloVe files. When all its fields after the first are numbers,
 * it is a vector of another dimension instead, and the file is rejected.
 *
 * @throws {DataError} when the file is not found or is a folder; naming the file and line for a
 *   line with fewer than D numbers, a value that is not a number, or a vocabulary word with
 *   more than D numbers; when other lines hold vectors of another dimension; and when no
 *   vocabulary word has a vector
 */
export async function readEmbeddings(path: string, vocab: Vocabulary): Promise<PretrainedVectors> {
  await checkEmbeddingsFile(path);
  let dim = 0;
  let vectors = new Float32Array(0);
  const found = new Uint8Array(vocab.size);
  let foundCount = 0, sum = 0, sumSquares = 0;
  // Lines of numbers only, after the word, with more than D of them.
  let otherDimensionLines = 0, firstOtherDimension = "";

  let lineNumber = 0;
  for await (const line of readLines(path)) {
    lineNumber++;
    if (line.trim() === "") continue;
    const fields = line.trimEnd().split(" ");
    if (dim === 0) {
      if (lineNumber === 1 && fields.length === 2 && fields.every((f) => /^\d+$/.test(f))) {
        continue;
      }
      dim = fields.length - 1;
      if (dim < 1) throw new DataError(`${path}:${lineNumber}: expected a word and its vector`);
      vectors = new Float32Array(vocab.size * dim);
    }
    if (fields.length < dim + 1) {
      throw new DataError(
        `${path}:${lineNumber}: ${fields.length - 1} values, expected ${dim} as on the first line`,
      );
    }
    if (fields.length > dim + 1 && fields.slice(1).every(isNumber)) {
      if (vocab.id(fields[0]) !== UNK) {
        throw new DataError(
          `${path}:${lineNumber}: ${fields.length - 1} values for "${fields[0]}", expected ` +
            `${dim} as on the first line`,
        );
      }
      if (otherDimensionLines === 0) {
        firstOtherDimension = `line ${lineNumber} has ${fields.length - 1}`;
      }
      otherDimensionLines++;
      continue;
    }
    // A word may contain spaces in some GloVe files: the last D fields are the vector.
    const word = fields.slice(0, fields.length - dim).join(" ");
    const id = vocab.id(word);
    if (id === UNK || found[id]) continue;
    for (let j = 0; j < dim; j++) {
      const text = fields[fields.length - dim + j];
      const value = Number(text);
      if (text === "" || !Number.isFinite(value)) {
        throw new DataError(`${path}:${lineNumber}: value ${j + 1} "${text}" is not a number`);
      }
      vectors[id * dim + j] = value;
      sum += value;
      sumSquares += value * value;
    }
    found[id] = 1;
    foundCount++;
  }
  if (otherDimensionLines > 0) {
    const lines = otherDimensionLines === 1
      ? "1 line holds a vector"
      : `${otherDimensionLines} lines hold vectors`;
    throw new DataError(
      `${path}: ${lines} of more than the first line's ${dim} values ` +
        `(${firstOtherDimension}): every vector must have the same dimension`,
    );
  }
  if (foundCount === 0) {
    throw new DataError(`${path}: none of the ${vocab.size} vocabulary words has a vector`);
  }
  const n = foundCount * dim;
  const std = Math.sqrt(Math.max(0, sumSquares / n - (sum / n) ** 2));
  return { dim, vectors, found, foundCount, std };
}

/**
 * Return the initial embedding table `[V·D]`: pretrained vectors where there are any, a normal
 * vector of standard deviation `unknownStd` for every other word and for `_UNK`, and zeros for
 * `_PAD`.
 */
export function embeddingTable(
  vocab: Vocabulary,
  dim: number,
  rng: Rng,
  pretrained: PretrainedVectors | null,
  unknownStd: number,
): Float32Array {
  const table = new Float32Array(vocab.size * dim);
  const row = new Float32Array(dim);
  for (let id = 0; id < vocab.size; id++) {
    if (id === PAD) continue;
    if (pretrained !== null && pretrained.found[id]) {
      table.set(pretrained.vectors.subarray(id * dim, (id + 1) * dim), id * dim);
    } else {
      table.set(rng.fillNormal(row, unknownStd), id * dim);
    }
  }
  return table;
}

function isNumber(text: string): boolean {
  return text !== "" && Number.isFinite(Number(text));
}

/** @throws {DataError} when `path` is not found or is a folder */
async function checkEmbeddingsFile(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new DataError(`Embeddings file ${path} not found`, { cause: err });
    }
    throw err;
  }
  if (info.isDirectory) {
    throw new DataError(
      `Embeddings file ${path} is a folder, expected a GloVe text file such as ` +
        "glove.6B.100d.txt (raw or .gz)",
    );
  }
}

/** Yield the lines of a text file, raw or gzip, without its line breaks. */
async function* readLines(path: string): AsyncGenerator<string> {
  const file = await Deno.open(path);
  const head = new Uint8Array(2);
  const headLength = await file.read(head) ?? 0;
  await file.seek(0, Deno.SeekMode.Start);
  let stream: ReadableStream<Uint8Array> = file.readable;
  if (headLength === 2 && head[0] === 0x1f && head[1] === 0x8b) {
    // DecompressionStream is typed as taking any BufferSource; it receives Uint8Array chunks.
    const gunzip = new DecompressionStream("gzip") as unknown as TransformStream<
      Uint8Array,
      Uint8Array
    >;
    stream = stream.pipeThrough(gunzip);
  }
  let rest = "";
  try {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      yield* lines;
    }
  } catch (err) {
    if (err instanceof TypeError) {
      throw new DataError(`${path}: corrupt gzip data (${err.message})`, { cause: err });
    }
    throw err;
  }
  if (rest !== "") yield rest;
}
