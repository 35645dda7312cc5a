import assert from "node:assert/strict";
import { createTsBackend } from "../backend/ts.ts";
import { Rng } from "../random.ts";
import { randomShift, shiftImage } from "./augment.ts";
import { BatchIterator } from "./data.ts";

/** A 1×3×4 image whose pixel (i, j) contains 10·i + j + 1, so 0 never appears. */
const IMAGE = Float32Array.from({ length: 12 }, (_, p) => 10 * Math.floor(p / 4) + (p % 4) + 1);
const SHAPE = [1, 3, 4] as const;

function shifted(dy: number, dx: number, fill = 0): number[] {
  const out = new Float32Array(12).fill(NaN);
  shiftImage(IMAGE, out, SHAPE, dy, dx, fill);
  return Array.from(out);
}

Deno.test("shiftImage() moves pixels down and right and fills the uncovered border", () => {
  assert.deepEqual(shifted(0, 0), Array.from(IMAGE));
  // One row down and one column right: row 0 and column 0 become fill.
  // deno-fmt-ignore
  assert.deepEqual(shifted(1, 1, -9), [
    -9, -9, -9, -9,
    -9,  1,  2,  3,
    -9, 11, 12, 13,
  ]);
  // Up two rows and left one column.
  // deno-fmt-ignore
  assert.deepEqual(shifted(-2, -1), [
    22, 23, 24, 0,
     0,  0,  0, 0,
     0,  0,  0, 0,
  ]);
  // A shift as wide as the image leaves only fill.
  assert.deepEqual(shifted(0, 4, 5), new Array(12).fill(5));
});

Deno.test("shiftImage() shifts every channel alike", () => {
  const two = new Float32Array(24);
  two.set(IMAGE);
  two.set(IMAGE.map((v) => -v), 12);
  const out = new Float32Array(24);
  shiftImage(two, out, [2, 3, 4], 0, -1, 0);
  assert.deepEqual(Array.from(out.subarray(0, 4)), [2, 3, 4, 0]);
  assert.deepEqual(Array.from(out.subarray(12, 16)), [-2, -3, -4, 0]);
});

Deno.test("shiftImage() and randomShift() reject bad sizes, shifts and bounds", () => {
  assert.throws(
    () => shiftImage(IMAGE, new Float32Array(11), SHAPE, 0, 0, 0),
    /shiftImage: src has 12 values and dst 11, expected 12 for an image \[1,3,4\]/,
  );
  assert.throws(() => shiftImage(IMAGE, new Float32Array(12), SHAPE, 0.5, 0, 0), /integers/);
  assert.throws(
    () => shiftImage(IMAGE, IMAGE, SHAPE, 1, 0, 0),
    /shiftImage: src and dst overlap, expected separate arrays/,
  );
  const twice = new Float32Array(24);
  assert.throws(
    () => shiftImage(twice.subarray(0, 12), twice.subarray(6, 18), SHAPE, 1, 0, 0),
    /overlap/,
  );
  shiftImage(twice.subarray(0, 12), twice.subarray(12), SHAPE, 1, 0, 0);
  assert.throws(
    () => shiftImage(new Float32Array(10), new Float32Array(10), [1, 2.5, 4], 0, 0, 0),
    /shiftImage: invalid image shape \[1,2\.5,4\], expected positive integers/,
  );
  assert.throws(
    () => randomShift(SHAPE, 3, 0, new Rng(1)),
    /maxShift must be an integer in \[0, 2\] for an image \[1,3,4\], got 3/,
  );
  assert.throws(() => randomShift(SHAPE, -1, 0, new Rng(1)), /got -1/);
});

Deno.test("randomShift() draws every shift in [−s, s] per axis, and only those", () => {
  const shift = randomShift([1, 5, 5], 1, 0, new Rng(3));
  // A single bright pixel in the middle lands on one of the 9 cells around it.
  const src = new Float32Array(25);
  src[12] = 1;
  const counts = new Map<number, number>();
  const dst = new Float32Array(25);
  for (let i = 0; i < 900; i++) {
    shift(src, dst);
    const at = dst.indexOf(1);
    assert.equal(dst.reduce((a, b) => a + b, 0), 1, "the pixel is moved, not lost or copied");
    counts.set(at, (counts.get(at) ?? 0) + 1);
  }
  assert.deepEqual([...counts.keys()].sort((a, b) => a - b), [6, 7, 8, 11, 12, 13, 16, 17, 18]);
  // Each cell expects 100 hits; 100 ± 40 is more than 4 standard deviations (σ ≈ 9.4).
  for (const [at, n] of counts) assert.ok(Math.abs(n - 100) < 40, `cell ${at}: ${n} hits`);
});

Deno.test("BatchIterator applies augment to the copies and draws reproducibly", () => {
  const images = Float32Array.from({ length: 4 * 25 }, (_, p) => (p % 25 === 12 ? 1 : 0));
  const labels = new Uint8Array(4);
  const epoch = (seed: number) => {
    const rng = new Rng(seed);
    const data = new BatchIterator(createTsBackend(), images, labels, {
      batchSize: 4,
      numClasses: 1,
      exampleShape: [1, 5, 5],
      rng,
      augment: randomShift([1, 5, 5], 2, 0, rng),
    });
    const [batch] = data.epoch(true);
    return Array.from(batch.x.data);
  };
  const first = epoch(1);
  assert.deepEqual(epoch(1), first, "the same seed gives the same shifts");
  assert.notDeepEqual(epoch(2), first, "another seed gives other shifts");
  assert.notDeepEqual(first, Array.from(images), "the batch holds moved images");
  assert.equal(images.reduce((a, b) => a + b, 0), 4, "the stored images are unchanged");
});
