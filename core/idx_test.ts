import assert from "node:assert/strict";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import {
  DataError,
  encodeIdx,
  gunzipIfCompressed,
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  parseIdx,
  readIdxFile,
} from "./idx.ts";

/** Three 2x2 images with distinct pixels. */
const IMAGES = Uint8Array.from({ length: 12 }, (_, i) => i * 20);
const IMAGES_IDX = encodeIdx([3, 2, 2], IMAGES);
const LABELS_IDX = encodeIdx([3], Uint8Array.of(7, 0, 9));

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assert.fail("expected an error, but none was thrown");
}

function assertDataError(fn: () => unknown, message: string): void {
  const err = catchError(fn);
  assert.ok(err instanceof DataError, `expected a DataError, got ${err}`);
  assert.equal(err.message, message);
}

/** Return `bytes` with `extra` appended. */
function concat(bytes: Uint8Array, extra: number[]): Uint8Array {
  const out = new Uint8Array(bytes.length + extra.length);
  out.set(bytes);
  out.set(extra, bytes.length);
  return out;
}

Deno.test("encodeIdx() writes the big-endian IDX header", () => {
  assert.deepEqual(
    [...IMAGES_IDX.subarray(0, 16)],
    [0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2],
  );
  assert.deepEqual([...LABELS_IDX], [0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9]);
});

Deno.test("encodeIdx() rejects invalid dimensions", async (t) => {
  const cases = [
    {
      name: "no dimensions",
      dims: [],
      message: "encodeIdx: invalid rank 0, expected 1 to 255 dimensions",
    },
    {
      name: "negative dimension",
      dims: [2, -1],
      message: "encodeIdx: invalid dimension -1 in [2,-1], expected a uint32",
    },
    {
      name: "fractional dimension",
      dims: [1.5],
      message: "encodeIdx: invalid dimension 1.5 in [1.5], expected a uint32",
    },
    {
      name: "size mismatch",
      dims: [2, 3],
      message: "encodeIdx: dims [2,3] need 6 elements, got 4",
    },
  ];
  for (const { name, dims, message } of cases) {
    await t.step(name, () => {
      const err = catchError(() => encodeIdx(dims, new Uint8Array(4)));
      assert.ok(err instanceof RangeError, `expected a RangeError, got ${err}`);
      assert.equal(err.message, message);
    });
  }
});

Deno.test("parseIdx() round-trips images and labels", async (t) => {
  await t.step("images", () => {
    const parsed = parseIdx(IMAGES_IDX, "images", IDX_IMAGES_MAGIC);
    assert.deepEqual(parsed.dims, [3, 2, 2]);
    assert.deepEqual(parsed.data, IMAGES);
  });
  await t.step("labels", () => {
    const parsed = parseIdx(LABELS_IDX, "labels", IDX_LABELS_MAGIC);
    assert.deepEqual(parsed.dims, [3]);
    assert.deepEqual([...parsed.data], [7, 0, 9]);
  });
  await t.step("any uint8 rank without expectedMagic", () => {
    const parsed = parseIdx(encodeIdx([2, 1, 1, 2], Uint8Array.of(1, 2, 3, 4)), "4d");
    assert.deepEqual(parsed.dims, [2, 1, 1, 2]);
    assert.deepEqual([...parsed.data], [1, 2, 3, 4]);
  });
  await t.step("zero examples", () => {
    const parsed = parseIdx(encodeIdx([0, 28, 28], new Uint8Array()), "empty", IDX_IMAGES_MAGIC);
    assert.deepEqual(parsed.dims, [0, 28, 28]);
    assert.equal(parsed.data.length, 0);
  });
  await t.step("a view at a non-zero byte offset", () => {
    const padded = new Uint8Array(LABELS_IDX.length + 5);
    padded.set(LABELS_IDX, 5);
    const parsed = parseIdx(padded.subarray(5), "labels", IDX_LABELS_MAGIC);
    assert.deepEqual(parsed.dims, [3]);
    assert.deepEqual([...parsed.data], [7, 0, 9]);
  });
});

Deno.test("readIdxFile() reads raw and gzip files", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "idx_test_" });
  try {
    const cases = [
      { name: "raw", bytes: IMAGES_IDX },
      { name: "gzip", bytes: gzipSync(IMAGES_IDX) },
    ];
    for (const { name, bytes } of cases) {
      await t.step(name, async () => {
        const path = join(dir, `images-${name}`);
        await Deno.writeFile(path, bytes);
        const parsed = await readIdxFile(path, IDX_IMAGES_MAGIC);
        assert.deepEqual(parsed.dims, [3, 2, 2]);
        assert.deepEqual(parsed.data, IMAGES);
      });
    }
    await t.step("missing file", async () => {
      await assert.rejects(readIdxFile(join(dir, "missing")), Deno.errors.NotFound);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseIdx() rejects a wrong magic number", async (t) => {
  const cases = [
    {
      name: "labels where images are expected",
      bytes: LABELS_IDX,
      expectedMagic: IDX_IMAGES_MAGIC,
      message: "f: invalid IDX magic 0x00000801, expected 0x00000803 (images)",
    },
    {
      name: "images where labels are expected",
      bytes: IMAGES_IDX,
      expectedMagic: IDX_LABELS_MAGIC,
      message: "f: invalid IDX magic 0x00000803, expected 0x00000801 (labels)",
    },
    {
      name: "float32 data",
      bytes: Uint8Array.of(0, 0, 0x0d, 1, 0, 0, 0, 0),
      expectedMagic: undefined,
      message: "f: invalid IDX magic 0x00000d01, expected 0x000008NN (uint8 data)",
    },
    {
      name: "zero dimensions",
      bytes: Uint8Array.of(0, 0, 8, 0),
      expectedMagic: undefined,
      message: "f: invalid IDX magic 0x00000800, expected 0x000008NN (uint8 data)",
    },
    {
      name: "a text file",
      bytes: new TextEncoder().encode("<html>"),
      expectedMagic: IDX_IMAGES_MAGIC,
      message: "f: invalid IDX magic 0x3c68746d, expected 0x00000803 (images)",
    },
  ];
  for (const { name, bytes, expectedMagic, message } of cases) {
    await t.step(name, () => assertDataError(() => parseIdx(bytes, "f", expectedMagic), message));
  }
});

Deno.test("parseIdx() rejects an invalid expectedMagic", () => {
  const err = catchError(() => parseIdx(IMAGES_IDX, "f", 0x00000d03));
  assert.ok(err instanceof RangeError);
  assert.equal(
    err.message,
    "parseIdx: invalid expectedMagic 0x00000d03, expected 0x000008NN (uint8 data)",
  );
});

Deno.test("parseIdx() rejects a truncated file", async (t) => {
  const cases = [
    {
      name: "shorter than the magic number",
      bytes: Uint8Array.of(0, 0, 8),
      message: "f: truncated: file has 3 bytes, shorter than the 4-byte IDX magic number",
    },
    {
      name: "shorter than the header",
      bytes: IMAGES_IDX.subarray(0, 10),
      message: "f: truncated: file has 10 bytes, shorter than the 16-byte IDX header",
    },
    {
      name: "images shorter than the header says",
      bytes: IMAGES_IDX.subarray(0, IMAGES_IDX.length - 1),
      message: "f: truncated: header says 3x2x2 = 12 pixel bytes, file has 11 after the " +
        "16-byte header",
    },
    {
      name: "labels shorter than the header says",
      bytes: LABELS_IDX.subarray(0, 8),
      message: "f: truncated: header says 3 = 3 label bytes, file has 0 after the 8-byte header",
    },
    {
      name: "header of real MNIST with 123 pixel bytes",
      // 60000 is 0x0000ea60.
      bytes: concat(Uint8Array.of(0, 0, 8, 3, 0, 0, 0xea, 0x60, 0, 0, 0, 28, 0, 0, 0, 28), [
        ...new Array(123).fill(0),
      ]),
      message: "f: truncated: header says 60000x28x28 = 47040000 pixel bytes, file has 123 " +
        "after the 16-byte header",
    },
  ];
  for (const { name, bytes, message } of cases) {
    await t.step(name, () => assertDataError(() => parseIdx(bytes, "f"), message));
  }
});

Deno.test("parseIdx() rejects trailing bytes", async (t) => {
  await t.step("images", () => {
    assertDataError(
      () => parseIdx(concat(IMAGES_IDX, [1, 2]), "f", IDX_IMAGES_MAGIC),
      "f: 2 trailing bytes: header says 3x2x2 = 12 pixel bytes, file has 14 after the " +
        "16-byte header",
    );
  });
  await t.step("other rank", () => {
    assertDataError(
      () => parseIdx(concat(encodeIdx([1, 1], Uint8Array.of(5)), [0]), "f"),
      "f: 1 trailing bytes: header says 1x1 = 1 data bytes, file has 2 after the 12-byte header",
    );
  });
});

Deno.test("gunzipIfCompressed() returns raw bytes unchanged", () => {
  assert.equal(gunzipIfCompressed(IMAGES_IDX, "f"), IMAGES_IDX);
  const oneByte = Uint8Array.of(0x1f);
  assert.equal(gunzipIfCompressed(oneByte, "f"), oneByte);
});

Deno.test("gunzipIfCompressed() rejects corrupt gzip data", async (t) => {
  const gz = gzipSync(IMAGES_IDX);
  const flipped = Uint8Array.from(gz);
  flipped[12] ^= 0xff;
  const cases = [
    { name: "truncated", bytes: gz.subarray(0, gz.length - 6) },
    { name: "flipped deflate byte", bytes: flipped },
    { name: "magic bytes only", bytes: Uint8Array.of(0x1f, 0x8b) },
  ];
  for (const { name, bytes } of cases) {
    await t.step(name, () => {
      const err = catchError(() => gunzipIfCompressed(bytes, "data/f.gz"));
      assert.ok(err instanceof DataError, `expected a DataError, got ${err}`);
      assert.match(err.message, /^data\/f\.gz: corrupt gzip data: \S/);
      assert.doesNotMatch(err.message, /\n/);
    });
  }
});
