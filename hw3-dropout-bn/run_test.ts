import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type Backend,
  CheckpointError,
  createBackend,
  decodeCheckpoint,
  loadCheckpoint,
  loadMnist,
  type Mnist,
  Tensor,
} from "@nn/core";
import { scoreWithModes } from "./analysis.ts";
import { readCheckpointMeta, restoreTraining } from "./checkpoint.ts";
import { configDifferences, defaultConfig, type Hw3Config } from "./config.ts";
import { modelState } from "./model.ts";
import {
  assertResumable,
  batches,
  buildRun,
  type Hw3Data,
  type RunResult,
  runTraining,
  shouldDecayLr,
  splitMnist,
} from "./run.ts";

let mnist: Mnist | null = null;

/** Return the first `train` MNIST training images split with `val` for validation, and `test`. */
async function slice(train: number, val: number, test: number): Promise<Hw3Data> {
  mnist ??= await loadMnist();
  const m = mnist;
  const small: Mnist = {
    ...m,
    train: {
      ...m.train,
      images: m.train.images.subarray(0, train * 784),
      labels: m.train.labels.subarray(0, train),
    },
    test: {
      ...m.test,
      images: m.test.images.subarray(0, test * 784),
      labels: m.test.labels.subarray(0, test),
    },
  };
  return splitMnist(small, val);
}

/** Small networks, so that a few epochs take well under a second. */
const SMALL: Record<"mlp" | "cnn", Hw3Config> = {
  mlp: { ...defaultConfig("mlp"), hidden: 32, epochs: 3, dispFreq: 2, batchSize: 50 },
  cnn: {
    ...defaultConfig("cnn"),
    channels: [4, 8],
    epochs: 3,
    dispFreq: 2,
    batchSize: 50,
    dropRate: 0.2,
  },
};

async function withTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "hw3-test-" });
  try {
    return await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The numbers of a run that a resumed run must reproduce, without timings and paths. */
function numbers(result: RunResult) {
  return {
    epochs: result.epochs.map(({ seconds: _, ...rest }) => rest),
    display: result.display,
    bestEpoch: result.bestEpoch,
    bestValAcc: result.bestValAcc,
    testLoss: result.testLoss,
    testAcc: result.testAcc,
    lrDecayEpochs: result.lrDecayEpochs,
  };
}

/** Stop a run by throwing from its progress callback, as a kill would, at `iteration`. */
class Interrupted extends Error {}

Deno.test("runTraining() resumed after a mid-epoch stop matches an uninterrupted run", async (t) => {
  const backend = await createBackend("wasm");
  const data = await slice(1000, 200, 200);
  for (const kind of ["mlp", "cnn"] as const) {
    await t.step(kind, async () => {
      await withTempDir(async (dir) => {
        const config = SMALL[kind];
        const whole = await runTraining(backend, data, config, { checkpointDir: join(dir, "a") });

        // 800 training images in batches of 50 give 16 iterations per epoch: stop in epoch 2.
        await assert.rejects(
          runTraining(backend, data, config, {
            checkpointDir: join(dir, "b"),
            callbacks: {
              onIteration: (record) => {
                if (record.iteration === 16 + 7) throw new Interrupted();
              },
            },
          }),
          Interrupted,
        );
        const last = await loadCheckpoint(join(dir, "b", "last.ckpt"));
        assert.equal(readCheckpointMeta(last).training.epoch, 1, "last.ckpt must hold epoch 1");

        const resumed = await runTraining(backend, data, config, {
          checkpointDir: join(dir, "b"),
          resume: last,
        });
        assert.equal(resumed.resumedAfter, 1);
        assert.deepEqual(numbers(resumed), numbers(whole));

        // The final checkpoints hold the same tensors, bit for bit.
        const a = await loadCheckpoint(whole.lastCheckpoint);
        const b = await loadCheckpoint(resumed.lastCheckpoint);
        for (const group of ["params", "state"] as const) {
          assert.deepEqual([...b[group].keys()], [...a[group].keys()]);
          for (const [name, tensor] of a[group]) {
            assert.deepEqual(b[group].get(name)?.data, tensor.data, `${group} ${name}`);
          }
        }
      });
    });
  }
});

Deno.test("runTraining() checkpoints restore identical outputs", async () => {
  const backend = await createBackend("wasm");
  const data = await slice(600, 100, 100);
  await withTempDir(async (dir) => {
    const config = { ...SMALL.cnn, epochs: 1 };
    const result = await runTraining(backend, data, config, { checkpointDir: dir });
    const checkpoint = await loadCheckpoint(result.lastCheckpoint);

    // The trained network, rebuilt from the checkpoint twice with different seeds.
    const first = buildRun(backend, config);
    const second = buildRun(backend, { ...config, seed: config.seed + 1 });
    restoreTraining(checkpoint, first.model, first.optimizer, first.rng);
    restoreTraining(checkpoint, second.model, second.optimizer, second.rng);
    const x = backend.zeros([50, 1, 28, 28]);
    x.copyFrom(data.val.images.subarray(0, 50 * 784));

    for (const training of [false, true]) {
      const a = Tensor.from([50, 10], first.model.forward(x, training).data);
      const b = second.model.forward(x, training).data;
      // Training mode draws dropout masks from the restored generator, so it matches too.
      assert.deepEqual(b, a.data, `outputs with training = ${training}`);
    }
    // The running statistics come from the checkpoint, not from their initial values.
    const running = modelState(first.model)["bn1.running_var"];
    assert.notDeepEqual([...running.data], new Array(4).fill(1));
    assert.equal(first.optimizer.stepCount, 10);
  });
});

Deno.test("runTraining() rejects a checkpoint of another configuration", async () => {
  const backend = await createBackend("wasm");
  const data = await slice(400, 100, 100);
  await withTempDir(async (dir) => {
    const config = { ...SMALL.mlp, epochs: 1 };
    const result = await runTraining(backend, data, config, { checkpointDir: dir });
    const checkpoint = await loadCheckpoint(result.lastCheckpoint);

    await assert.rejects(
      runTraining(backend, data, { ...config, hidden: 48, dropRate: 0.5, epochs: 2 }, {
        checkpointDir: dir,
        resume: checkpoint,
      }),
      (error: Error) => {
        assert.ok(error instanceof CheckpointError);
        assert.match(error.message, /does not fit this run/);
        assert.match(error.message, /hidden is 32 in the checkpoint but 48 here/);
        assert.match(error.message, /dropRate is 0.3 in the checkpoint but 0.5 here/);
        assert.doesNotMatch(error.message, /epochs/);
        return true;
      },
    );

    // A network of another width, given the checkpoint directly, gets the shapes named.
    const wider = buildRun(backend, { ...config, hidden: 48 });
    assert.throws(
      () => restoreTraining(checkpoint, wider.model, wider.optimizer, wider.rng),
      (error: Error) => {
        assert.ok(error instanceof CheckpointError);
        assert.match(
          error.message,
          /fc1\.W is \[784, 32\] in the file but \[784, 48\] in the network/,
        );
        return true;
      },
    );

    // A network without batch norm lacks the bn1 parameters.
    const noBn = buildRun(backend, { ...config, batchNorm: false });
    assert.throws(
      () => restoreTraining(checkpoint, noBn.model, noBn.optimizer, noBn.rng),
      /unexpected parameters bn1\.gamma, bn1\.beta/,
    );
  });
});

Deno.test("loadCheckpoint() rejects truncated and foreign checkpoints", async () => {
  const backend = await createBackend("wasm");
  const data = await slice(400, 100, 100);
  await withTempDir(async (dir) => {
    const config = { ...SMALL.mlp, epochs: 1 };
    const result = await runTraining(backend, data, config, { checkpointDir: dir });
    const bytes = await Deno.readFile(result.lastCheckpoint);

    const truncated = join(dir, "truncated.ckpt");
    await Deno.writeFile(truncated, bytes.subarray(0, bytes.length - 1000));
    await assert.rejects(loadCheckpoint(truncated), {
      name: "CheckpointError",
      message: new RegExp(`truncated: ${bytes.length - 1000} bytes, expected ${bytes.length}`),
    });

    // A valid checkpoint file whose meta is not HW3's.
    const foreign = decodeCheckpoint(bytes, "foreign.ckpt");
    foreign.meta = { kind: "hw4-training", version: 1 };
    assert.throws(() => readCheckpointMeta(foreign), {
      name: "CheckpointError",
      message:
        'Checkpoint foreign.ckpt is not a usable HW3 training checkpoint: meta.kind is "hw4-training", expected "hw3-training"',
    });
    foreign.meta = { ...decodeCheckpoint(bytes, "x").meta, version: 2 };
    assert.throws(() => readCheckpointMeta(foreign), /meta\.version is 2, expected 1/);
  });
});

Deno.test("assertResumable() ignores epochs and names every difference", async () => {
  const backend = await createBackend("wasm");
  const data = await slice(400, 100, 100);
  await withTempDir(async (dir) => {
    const config = { ...SMALL.mlp, epochs: 1 };
    const result = await runTraining(backend, data, config, { checkpointDir: dir });
    const checkpoint = await loadCheckpoint(result.lastCheckpoint);
    assertResumable(checkpoint, { ...config, epochs: 5 });
    assert.throws(
      () => assertResumable(checkpoint, { ...config, seed: 9, batchNorm: false }),
      /batchNorm is true in the checkpoint but false here; seed is 1 in the checkpoint but 9 here/,
    );
  });
});

Deno.test("shouldDecayLr() follows the course's rule", async (t) => {
  const cases: { name: string; losses: number[]; decay: boolean }[] = [
    { name: "fewer than four epochs", losses: [1, 2, 3], decay: false },
    { name: "loss above the previous three", losses: [0.5, 0.4, 0.3, 0.6], decay: true },
    { name: "loss equal to their maximum", losses: [0.5, 0.4, 0.3, 0.5], decay: false },
    { name: "loss below their maximum", losses: [0.5, 0.4, 0.3, 0.45], decay: false },
    { name: "only the last three count", losses: [9, 0.5, 0.4, 0.3, 0.6], decay: true },
  ];
  for (const c of cases) {
    await t.step(c.name, () => assert.equal(shouldDecayLr(c.losses), c.decay));
  }
});

Deno.test("splitMnist() keeps the last images for validation", async () => {
  mnist ??= await loadMnist();
  const data = splitMnist(mnist);
  assert.equal(data.train.labels.length, 50_000);
  assert.equal(data.val.labels.length, 10_000);
  assert.equal(data.test.labels.length, 10_000);
  assert.equal(data.train.images.length, 50_000 * 784);
  assert.deepEqual(data.val.labels.subarray(0, 5), mnist.train.labels.subarray(50_000, 50_005));
  assert.throws(() => splitMnist(mnist!, 60_000), RangeError);
});

Deno.test("configDifferences() skips the unused architecture field", () => {
  const mlp = { ...defaultConfig("mlp"), hidden: 64, dropRate: 0.3 };
  assert.deepEqual(configDifferences(mlp, { ...mlp, channels: [1, 2], kernelSize: 7 }), []);
  assert.deepEqual(configDifferences(mlp, { ...mlp, hidden: 10 }), [
    "hidden is 64 in the checkpoint but 10 here",
  ]);
  // Between kinds every field counts, the unused ones included.
  const cnn = { ...mlp, kind: "cnn" as const, hidden: 128, dropRate: 0.1, epochs: 99 };
  assert.deepEqual(configDifferences(mlp, cnn, ["epochs"]), [
    'kind is "mlp" in the checkpoint but "cnn" here',
    "hidden is 64 in the checkpoint but 128 here",
    "dropRate is 0.3 in the checkpoint but 0.1 here",
  ]);
});

Deno.test("scoreWithModes() in evaluation mode equals evaluate() and keeps state", async () => {
  const backend: Backend = await createBackend("wasm");
  const data = await slice(400, 100, 100);
  await withTempDir(async (dir) => {
    const config = { ...SMALL.mlp, epochs: 1 };
    const result = await runTraining(backend, data, config, { checkpointDir: dir });
    const parts = buildRun(backend, config);
    restoreTraining(
      await loadCheckpoint(result.bestCheckpoint),
      parts.model,
      parts.optimizer,
      parts.rng,
    );
    const state = Object.fromEntries(
      Object.entries(modelState(parts.model)).map(([name, t]) => [name, [...t.data]]),
    );
    const val = batches(backend, data.val, config.batchSize);

    const evalMode = scoreWithModes(parts.model, parts.loss, val, {
      dropout: false,
      batchStatistics: false,
    });
    assert.equal(evalMode.loss, result.epochs[0].valLoss);
    assert.equal(evalMode.acc, result.epochs[0].valAcc);

    const trainingMode = scoreWithModes(parts.model, parts.loss, val, {
      dropout: true,
      batchStatistics: true,
    });
    assert.notEqual(trainingMode.loss, evalMode.loss);
    for (const [name, tensor] of Object.entries(modelState(parts.model))) {
      assert.deepEqual([...tensor.data], state[name], `${name} changed`);
    }
  });
});
