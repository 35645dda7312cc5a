import assert from "node:assert/strict";
import { createTsBackend } from "../backend/ts.ts";
import { Rng } from "../random.ts";
import { forEachBackend } from "../testing.ts";
import { BatchIterator } from "./data.ts";

const N = 10, D = 3, K = 4;

/** Examples whose values encode their index (`10·i + j`) and whose label is `i mod K`. */
function makeData(): { images: Float32Array; labels: Uint8Array } {
  const images = Float32Array.from({ length: N * D }, (_, flat) => {
    const i = Math.floor(flat / D), j = flat % D;
    return 10 * i + j;
  });
  const labels = Uint8Array.from({ length: N }, (_, i) => i % K);
  return { images, labels };
}

/** Return the example order of one epoch. */
function epochOrder(data: BatchIterator, shuffle: boolean): number[] {
  const order: number[] = [];
  for (const batch of data.epoch(shuffle)) order.push(...batch.indices);
  return order;
}

Deno.test("BatchIterator.epoch() yields every example once with a short last batch", async (t) => {
  await forEachBackend(t, async (backend, t) => {
    const cases = [
      { name: "shuffled", shuffle: true },
      { name: "in order", shuffle: false },
    ];
    for (const c of cases) {
      await t.step(c.name, () => {
        const { images, labels } = makeData();
        const data = new BatchIterator(backend, images, labels, {
          batchSize: 4,
          numClasses: K,
          rng: new Rng(1),
        });
        assert.equal(data.batchesPerEpoch, 3);

        const sizes: number[] = [];
        const seen: number[] = [];
        for (const batch of data.epoch(c.shuffle)) {
          const b = batch.labels.length;
          sizes.push(b);
          assert.deepEqual(batch.x.shape, [b, D]);
          assert.deepEqual(batch.target.shape, [b, K]);
          for (let row = 0; row < b; row++) {
            const example = batch.indices[row];
            seen.push(example);
            // Each row contains its example's values, label and one-hot target.
            assert.deepEqual(
              [...batch.x.data.subarray(row * D, (row + 1) * D)],
              [10 * example, 10 * example + 1, 10 * example + 2],
            );
            assert.equal(batch.labels[row], example % K);
            const oneHot = [0, 0, 0, 0];
            oneHot[example % K] = 1;
            assert.deepEqual([...batch.target.data.subarray(row * K, (row + 1) * K)], oneHot);
          }
        }
        assert.deepEqual(sizes, [4, 4, 2]);
        assert.deepEqual([...seen].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        if (!c.shuffle) assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      });
    }
  });
});

Deno.test("BatchIterator.epoch() shuffles differently in each epoch", () => {
  const { images, labels } = makeData();
  const data = new BatchIterator(createTsBackend(), images, labels, {
    batchSize: 4,
    numClasses: K,
    rng: new Rng(2),
  });
  const first = epochOrder(data, true);
  const second = epochOrder(data, true);
  assert.notDeepEqual(first, second);
  assert.notDeepEqual(first, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

Deno.test("BatchIterator.epoch() repeats the order for the same seed", () => {
  const { images, labels } = makeData();
  const orders = [1, 2].map(() => {
    const data = new BatchIterator(createTsBackend(), images, labels, {
      batchSize: 3,
      numClasses: K,
      rng: new Rng(42),
    });
    return [epochOrder(data, true), epochOrder(data, true)];
  });
  assert.deepEqual(orders[0], orders[1]);
});

Deno.test("BatchIterator reuses its tensors for batches of the same size", () => {
  const { images, labels } = makeData();
  const data = new BatchIterator(createTsBackend(), images, labels, {
    batchSize: 4,
    numClasses: K,
  });
  const tensors = [...data.epoch(false)].map((batch) => batch.x);
  assert.equal(tensors[0], tensors[1]);
  assert.notEqual(tensors[2], tensors[0]);
  const [again] = data.epoch(false);
  assert.equal(again.x, tensors[0]);
});

Deno.test("BatchIterator shapes examples with exampleShape", () => {
  const images = new Float32Array(5 * 2 * 3 * 3);
  const data = new BatchIterator(createTsBackend(), images, new Uint8Array(5), {
    batchSize: 2,
    numClasses: 10,
    exampleShape: [2, 3, 3],
  });
  const [batch] = data.epoch(false);
  assert.deepEqual(batch.x.shape, [2, 2, 3, 3]);
});

Deno.test("BatchIterator rejects inconsistent data and options", async (t) => {
  const backend = createTsBackend();
  const { images, labels } = makeData();
  const cases = [
    {
      name: "images of the wrong length",
      run: () =>
        new BatchIterator(backend, images.subarray(1), labels, { batchSize: 2, numClasses: K }),
      error: {
        name: "TypeError",
        message: "BatchIterator: images has 29 values, not a multiple of 10 labels",
      },
    },
    {
      name: "exampleShape of the wrong size",
      run: () =>
        new BatchIterator(backend, images, labels, {
          batchSize: 2,
          numClasses: K,
          exampleShape: [2, 2],
        }),
      error: { name: "TypeError", message: /expected 10 examples of shape \[2,2\]/ },
    },
    {
      name: "zero batch size",
      run: () => new BatchIterator(backend, images, labels, { batchSize: 0, numClasses: K }),
      error: { name: "RangeError", message: /batchSize must be a positive integer, got 0/ },
    },
    {
      name: "label not below numClasses",
      run: () => new BatchIterator(backend, images, labels, { batchSize: 2, numClasses: 3 }),
      error: { name: "RangeError", message: /label 3 at index 3 is not below numClasses 3/ },
    },
    {
      name: "empty set",
      run: () =>
        new BatchIterator(backend, new Float32Array(0), new Uint8Array(0), {
          batchSize: 2,
          numClasses: K,
        }),
      error: { name: "RangeError", message: /the data set has no labels/ },
    },
    {
      name: "shuffle without rng",
      run: () => [
        ...new BatchIterator(backend, images, labels, { batchSize: 2, numClasses: K }).epoch(
          true,
        ),
      ],
      error: { name: "Error", message: /epoch\(true\) needs the rng option/ },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.throws(c.run, c.error);
    });
  }
});
