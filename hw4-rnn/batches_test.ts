import assert from "node:assert/strict";
import { createTsBackend, Rng } from "@nn/core";
import { type EncodedSentence, SentenceBatches } from "./batches.ts";

/** Sentences of lengths 1 to 40, most of them short, as phrases are. */
function sentences(count: number): EncodedSentence[] {
  const rng = new Rng(3);
  return Array.from({ length: count }, (_, i) => {
    const length = 1 + Math.floor(40 * rng.uniform() ** 3);
    return { ids: Int32Array.from({ length }, () => 2 + i % 7), label: i % 5 };
  });
}

Deno.test("SentenceBatches.epoch() with buckets covers every sentence once", async (t) => {
  const data = sentences(1003);
  const tokens = data.reduce((sum, s) => sum + s.ids.length, 0);
  const padded = (batches: SentenceBatches, rng: Rng) => {
    const seen = new Uint8Array(data.length);
    let cells = 0, short = 0, count = 0;
    for (const batch of batches.epoch(rng)) {
      for (const i of batch.indices) seen[i]++;
      cells += batch.steps * batch.size;
      if (batch.size < batches.batchSize) short++;
      count++;
    }
    assert.ok(seen.every((n) => n === 1), "each sentence exactly once");
    assert.equal(count, batches.batchesPerEpoch);
    assert.ok(short <= 1, `${short} short batches`);
    return cells / tokens;
  };
  const options = { batchSize: 16, classes: 5 };
  const backend = createTsBackend();
  const plain = new SentenceBatches(backend, data, options);
  const bucketed = new SentenceBatches(backend, data, { ...options, bucketBatches: 20 });

  let plainRatio = 0, bucketRatio = 0;
  await t.step("plain shuffled batches", () => {
    plainRatio = padded(plain, new Rng(1));
  });
  await t.step("buckets of 20 batches", () => {
    bucketRatio = padded(bucketed, new Rng(1));
  });
  await t.step("buckets pad less", () => {
    assert.ok(bucketRatio < 1.3, `padded steps / tokens ${bucketRatio}`);
    assert.ok(plainRatio > 2 * bucketRatio, `plain ${plainRatio}, bucketed ${bucketRatio}`);
  });
  await t.step("the same seed gives the same batches", () => {
    const order = (rng: Rng) => [...bucketed.epoch(rng)].map((b) => [...b.indices].join(","));
    assert.deepEqual(order(new Rng(5)), order(new Rng(5)));
    assert.notDeepEqual(order(new Rng(5)), order(new Rng(6)));
  });
  await t.step("without an rng the order is the data set's", () => {
    const first = bucketed.epoch().next().value!;
    assert.deepEqual(
      [...first.indices].sort((a, b) => a - b),
      Array.from({ length: 16 }, (_, i) => i),
    );
  });
});

Deno.test("SentenceBatches rejects a bucket size that is not a positive integer", () => {
  for (const bucketBatches of [0, 1.5]) {
    assert.throws(
      () =>
        new SentenceBatches(createTsBackend(), sentences(4), {
          batchSize: 2,
          classes: 5,
          bucketBatches,
        }),
      { name: "RangeError", message: /bucketBatches must be a positive integer, got / },
    );
  }
});
