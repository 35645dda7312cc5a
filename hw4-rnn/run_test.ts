import assert from "node:assert/strict";
import { join } from "node:path";
import { type Checkpoint, createTsBackend, loadCheckpoint, Rng } from "@nn/core";
import type { EncodedSentence } from "./batches.ts";
import {
  DEFAULT_CONFIG,
  type EpochRecord,
  type Hw4Config,
  type Hw4Data,
  runTraining,
} from "./run.ts";
import { Vocabulary } from "./vocab.ts";

/** Ten sentences of 1 to 4 ids over the words of the vocabulary below. */
function sentences(seed: number): EncodedSentence[] {
  const rng = new Rng(seed);
  return Array.from({ length: 10 }, () => ({
    ids: Int32Array.from({ length: 1 + rng.int(4) }, () => 2 + rng.int(4)),
    label: rng.int(5),
  }));
}

function data(): Hw4Data {
  const vocab = new Vocabulary(["_PAD", "_UNK", "a", "b", "c", "d"]);
  return {
    vocab,
    train: sentences(1),
    dev: sentences(2),
    test: sentences(3),
    embeddings: new Rng(4).fillNormal(new Float32Array(vocab.size * 3), 0.1),
    embeddingSize: 3,
  };
}

const CONFIG: Hw4Config = {
  ...DEFAULT_CONFIG,
  hidden: 4,
  attentionHidden: 3,
  attentionHops: 2,
  batchSize: 4,
  lr: 0.1,
  trainPhrases: false,
};

/** Return a copy of `checkpoint` whose history gives epoch 1 the best dev accuracy. */
function withBestFirstEpoch(checkpoint: Checkpoint): Checkpoint {
  const meta = structuredClone(checkpoint.meta);
  const history = meta.history as unknown as { epochs: EpochRecord[] };
  // No later epoch can beat an accuracy of 1.
  history.epochs[0].devAcc = 1;
  return { ...checkpoint, meta };
}

Deno.test("runTraining() resumed keeps the best epoch's parameters", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const backend = createTsBackend();
    await runTraining(backend, data(), { ...CONFIG, epochs: 1 }, {
      checkpointDir: join(dir, "one"),
    });
    await runTraining(backend, data(), { ...CONFIG, epochs: 2 }, {
      checkpointDir: join(dir, "two"),
    });
    const epochOne = await loadCheckpoint(join(dir, "one", "last.ckpt"));
    const last = withBestFirstEpoch(await loadCheckpoint(join(dir, "two", "last.ckpt")));

    await t.step("from resumeBest when the best epoch came first", async () => {
      const result = await runTraining(backend, data(), { ...CONFIG, epochs: 3 }, {
        resume: last,
        resumeBest: epochOne,
      });
      assert.equal(result.epochs.length, 3);
      assert.equal(result.best.epoch, 1);
      for (const p of result.network.params()) {
        const saved = epochOne.params.get(p.name);
        assert.ok(saved !== undefined, p.name);
        assert.deepEqual([...p.value.data], [...saved.data], p.name);
      }
    });

    await t.step("rejects a missing resumeBest", async () => {
      await assert.rejects(
        runTraining(backend, data(), { ...CONFIG, epochs: 3 }, { resume: last }),
        { name: "CheckpointError", message: /needs the best\.ckpt of its run, written at epoch 1/ },
      );
    });

    await t.step("rejects a resumeBest of another epoch", async () => {
      const other = await loadCheckpoint(join(dir, "two", "last.ckpt"));
      await assert.rejects(
        runTraining(backend, data(), { ...CONFIG, epochs: 3 }, { resume: last, resumeBest: other }),
        { name: "CheckpointError", message: /written at epoch 2, but the best dev epoch .* is 1/ },
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
