import assert from "node:assert/strict";
import { createTsBackend, Rng } from "@nn/core";
import { assertClose, finiteDifferenceCheck, forEachBackend, tensorFrom } from "@nn/core/testing";
import { type EncodedSentence, SentenceBatches } from "./batches.ts";
import { RecurrentEncoder } from "./encoder.ts";
import { type NetworkSpec, SentimentNetwork } from "./model.ts";
import { CELLS } from "./recurrent.ts";

const SPEC: NetworkSpec = {
  vocabSize: 8,
  embeddingSize: 3,
  cell: "lstm",
  hiddenSize: 4,
  layers: 2,
  bidirectional: true,
  pooling: "attention",
  attentionHidden: 5,
  attentionHops: 2,
  classes: 5,
  dropout: 0,
};

/** Sentences of lengths 1, 5, 3 and 3 over ids 1…7 (id 0 is padding), labels 0…3. */
function sentences(): EncodedSentence[] {
  return [
    { ids: Int32Array.of(4), label: 0 },
    { ids: Int32Array.of(2, 3, 5, 7, 1), label: 1 },
    { ids: Int32Array.of(6, 6, 2), label: 2 },
    { ids: Int32Array.of(3, 1, 7), label: 3 },
  ];
}

function network(spec: NetworkSpec, seed = 5, backend = createTsBackend()) {
  const rng = new Rng(seed);
  const embeddings = rng.fillNormal(new Float32Array(spec.vocabSize * spec.embeddingSize), 1);
  return new SentimentNetwork(backend, spec, rng, {
    embeddings,
    freezeEmbeddings: false,
    penaltyWeight: 0.3,
  });
}

Deno.test("SentimentNetwork gives a padded batch the numbers of each sentence alone", async (t) => {
  for (const pooling of ["attention", "last"] as const) {
    await t.step(pooling, () => {
      const backend = createTsBackend();
      const net = network({ ...SPEC, pooling }, 5, backend);
      const data = new SentenceBatches(backend, sentences(), { batchSize: 4, classes: 5 });
      const batch = data.pack([0, 1, 2, 3]);
      assert.deepEqual([...batch.lengths], [5, 3, 3, 1]);
      assert.deepEqual([...batch.indices], [1, 2, 3, 0]);

      const logits = net.forward(batch, true).data.slice();
      const loss = net.loss(net.forward(batch, true), batch);
      net.backward();
      const grads = net.params().map((p) => p.grad.data.slice());

      // The batch loss is the mean of the sentences' losses, so its gradients are the mean of
      // theirs.
      let lossSum = 0;
      const summed = grads.map((g) => new Float64Array(g.length));
      for (let row = 0; row < batch.size; row++) {
        const alone = data.pack([batch.indices[row]]);
        const aloneLogits = net.forward(alone, true);
        assertClose(
          logits.subarray(row * 5, (row + 1) * 5),
          aloneLogits.data,
          { atol: 1e-5, rtol: 1e-5 },
          `logits of sentence ${batch.indices[row]}`,
        );
        lossSum += net.loss(aloneLogits, alone).total;
        net.backward();
        net.params().forEach((p, i) => p.grad.data.forEach((v, j) => summed[i][j] += v / 4));
      }
      assertClose([loss.total], [lossSum / 4], { atol: 1e-5, rtol: 1e-5 }, "loss");
      for (const [i, p] of net.params().entries()) {
        assertClose(grads[i], summed[i], { atol: 1e-6, rtol: 1e-4 }, p.name);
      }
    });
  }
});

Deno.test("SentimentNetwork gradients match finite differences", async (t) => {
  await forEachBackend(t, async (backend, t) => {
    for (const cell of CELLS) {
      await t.step(cell, () => {
        const spec: NetworkSpec = {
          ...SPEC,
          vocabSize: 6,
          embeddingSize: 2,
          cell,
          hiddenSize: 3,
          layers: 1,
        };
        const net = network(spec, 9, backend);
        const data = new SentenceBatches(
          backend,
          sentences().map((s) => ({
            ids: s.ids.map((id) => id % 6),
            label: s.label,
          })),
          { batchSize: 4, classes: 5 },
        );
        const batch = data.pack([0, 1, 2, 3]);
        const f = () => net.loss(net.forward(batch, true), batch).total;
        f();
        net.backward();
        finiteDifferenceCheck(
          f,
          net.params().map((p) => ({ name: p.name, values: p.value.data, grad: p.grad.data })),
          { label: `SentimentNetwork ${cell} on ${backend.name}` },
        );
      });
    }
  });
});

Deno.test("RecurrentEncoder stacks bidirectional layers with correct gradients", () => {
  const backend = createTsBackend();
  const rng = new Rng(2);
  const encoder = new RecurrentEncoder(backend, {
    cell: "gru",
    inputSize: 2,
    hiddenSize: 3,
    layers: 2,
    bidirectional: true,
  }, rng);
  assert.equal(encoder.outputSize, 6);
  assert.deepEqual(encoder.params().map((p) => p.name).filter((n) => n.endsWith(".Wg")), [
    "encoder.l1.fw.Wg",
    "encoder.l1.bw.Wg",
    "encoder.l2.fw.Wg",
    "encoder.l2.bw.Wg",
  ]);
  const lengths = Int32Array.of(3, 2);
  const x = tensorFrom(backend, [3, 2, 2], rng.fillNormal(new Float32Array(12), 1));
  const dOut = rng.fillNormal(new Float32Array(3 * 2 * 6), 1);
  const dFinal = rng.fillNormal(new Float32Array(2 * 6), 1);
  const f = () => {
    const r = encoder.forward(x, lengths);
    let sum = 0;
    for (let i = 0; i < r.outputs.size; i++) sum += r.outputs.data[i] * dOut[i];
    for (let i = 0; i < r.final.size; i++) sum += r.final.data[i] * dFinal[i];
    return sum;
  };
  f();
  const dX = encoder.backward(
    tensorFrom(backend, [3, 2, 6], dOut),
    tensorFrom(backend, [2, 6], dFinal),
  );
  finiteDifferenceCheck(f, [
    { name: "x", values: x.data, grad: dX.data },
    ...encoder.params().map((p) => ({ name: p.name, values: p.value.data, grad: p.grad.data })),
  ], { label: "RecurrentEncoder" });

  // The backward direction's final state is its state after the first word: for a sentence of
  // one word, both directions read the same single input.
  const one = encoder.forward(tensorFrom(backend, [1, 1, 2], [0.5, -0.5]), Int32Array.of(1));
  assert.deepEqual(one.final.shape, [1, 6]);
  assert.deepEqual([...one.outputs.data], [...one.final.data]);
});

Deno.test("SentimentNetwork lists frozen embeddings in params() only", () => {
  const rng = new Rng(0);
  const net = new SentimentNetwork(createTsBackend(), SPEC, rng, {
    embeddings: new Float32Array(8 * 3),
    freezeEmbeddings: true,
    penaltyWeight: 0,
  });
  assert.equal(net.params()[0].name, "embedding.table");
  assert.ok(!net.trainableParams().some((p) => p.name === "embedding.table"));
  assert.equal(net.trainableParams().length, net.params().length - 1);
});
