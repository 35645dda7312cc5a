import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type Backend,
  CheckpointError,
  createBackend,
  decodeCheckpoint,
  type JsonValue,
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
  assertBestCheckpoint,
  assertResumable,
  batches,
  buildRun,
  type Hw3Data,
  minBatchNormValues,
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

/** Small networks, so that a few epochs take well under a second, for 100 validation images. */
const SMALL: Record<"mlp" | "cnn", Hw3Config> = {
  mlp: {
    ...defaultConfig("mlp"),
    hidden: 32,
    epochs: 3,
    dispFreq: 2,
    batchSize: 50,
    validation: 100,
  },
  cnn: {
    ...defaultConfig("cnn"),
    channels: [4, 8],
    epochs: 3,
    dispFreq: 2,
    batchSize: 50,
    dropRate: 0.2,
    validation: 100,
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
        const config = { ...SMALL[kind], validation: 200 };
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
        assert.match(error.message, /--hidden is 32 in the checkpoint but 48 here/);
        assert.match(error.message, /--drop-rate is 0\.3 in the checkpoint but 0\.5 here/);
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
      /--bn is on in the checkpoint but off here; --seed is 1 in the checkpoint but 9 here/,
    );
  });
});

Deno.test("assertResumable() rejects fewer epochs than completed", async () => {
  const backend = await createBackend("wasm");
  const data = await slice(400, 100, 100);
  await withTempDir(async (dir) => {
    const config = { ...SMALL.mlp, epochs: 2 };
    const result = await runTraining(backend, data, config, { checkpointDir: dir });
    const checkpoint = await loadCheckpoint(result.lastCheckpoint);
    assertResumable(checkpoint, config);
    assert.throws(() => assertResumable(checkpoint, { ...config, epochs: 1 }), {
      name: "CheckpointError",
      message: /has completed 2 epochs, but this run asks for 1 in total$/,
    });
  });
});

Deno.test("readCheckpointMeta() gives old checkpoints the default validation and no shift", async () => {
  const backend = await createBackend("wasm");
  const data = await slice(400, 100, 100);
  await withTempDir(async (dir) => {
    const result = await runTraining(backend, data, { ...SMALL.mlp, epochs: 1 }, {
      checkpointDir: dir,
    });
    const checkpoint = decodeCheckpoint(await Deno.readFile(result.lastCheckpoint), "old.ckpt");
    assert.equal(readCheckpointMeta(checkpoint).config.validation, 100);

    // A checkpoint written before the validation count and the shift were stored.
    const { validation: _, shift: __, ...oldConfig } = readCheckpointMeta(checkpoint).config;
    checkpoint.meta = { ...checkpoint.meta, config: oldConfig };
    assert.equal(readCheckpointMeta(checkpoint).config.validation, 10_000);
    assert.equal(readCheckpointMeta(checkpoint).config.shift, 0);

    checkpoint.meta = { ...checkpoint.meta, config: { ...oldConfig, shift: 1.5 } };
    assert.throws(
      () => readCheckpointMeta(checkpoint),
      /meta\.config\.shift is missing or invalid/,
    );

    checkpoint.meta = { ...checkpoint.meta, config: { ...oldConfig, validation: 0 } };
    assert.throws(
      () => readCheckpointMeta(checkpoint),
      /meta\.config\.validation is missing or invalid/,
    );
  });
});

Deno.test("runTraining() rejects a split that config.validation does not describe", async () => {
  const backend = await createBackend("wasm");
  const data = await slice(400, 100, 100);
  await withTempDir(async (dir) => {
    await assert.rejects(
      runTraining(backend, data, { ...SMALL.mlp, validation: 10_000 }, { checkpointDir: dir }),
      {
        name: "RangeError",
        message: /data\.val contains 100 images but config\.validation is 10000/,
      },
    );
  });
});

Deno.test("runTraining() rejects a batch of 1 for the MLP's batch norm", async () => {
  const backend = await createBackend("wasm");
  // 301 training images in batches of 50 end with a batch of 1.
  const data = await slice(401, 100, 100);
  await withTempDir(async (dir) => {
    await assert.rejects(
      runTraining(backend, data, SMALL.mlp, { checkpointDir: dir }),
      { name: "RangeError", message: /301 training images in batches of 50 leave a batch of 1/ },
    );
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing is written before the check");
  });
});

Deno.test("minBatchNormValues() counts the values of the smallest batch", async (t) => {
  const mlp = SMALL.mlp, cnn = SMALL.cnn;
  const cases = [
    { name: "MLP, batches of 50 from 300", config: mlp, train: 300, values: 50 },
    { name: "MLP, last batch of 1", config: mlp, train: 301, values: 1 },
    { name: "MLP, fewer images than a batch", config: mlp, train: 7, values: 7 },
    { name: "MLP, batch size 1", config: { ...mlp, batchSize: 1 }, train: 300, values: 1 },
    {
      name: "MLP without batch norm",
      config: { ...mlp, batchNorm: false },
      train: 301,
      values: Infinity,
    },
    // conv2 gives 8×8 values per image with 5×5 kernels and valid padding.
    { name: "CNN, last batch of 1", config: cnn, train: 301, values: 64 },
    { name: "CNN, kernel 9", config: { ...cnn, kernelSize: 9 }, train: 301, values: 4 },
  ];
  for (const c of cases) {
    await t.step(c.name, () => assert.equal(minBatchNormValues(c.config, c.train), c.values));
  }
});

Deno.test("runTraining() trains the CNN with batches of 1", async () => {
  const backend = await createBackend("wasm");
  const data = await slice(104, 100, 10);
  await withTempDir(async (dir) => {
    const config = { ...SMALL.cnn, kernelSize: 9, batchSize: 3, epochs: 1 };
    const result = await runTraining(backend, data, config, { checkpointDir: dir });
    assert.equal(result.iterationsPerEpoch, 2);
    assert.ok(Number.isFinite(result.epochs[0].trainLoss));
  });
});

Deno.test("runTraining() resumed needs the run's own best.ckpt", async (t) => {
  const backend = await createBackend("wasm");
  const data = await slice(400, 100, 100);
  await withTempDir(async (dir) => {
    const config = { ...SMALL.mlp, epochs: 2 };
    const first = await runTraining(backend, data, config, { checkpointDir: join(dir, "a") });
    const other = await runTraining(backend, data, config, { checkpointDir: join(dir, "b") });
    const last = await loadCheckpoint(first.lastCheckpoint);

    await t.step("missing best.ckpt", async () => {
      await assert.rejects(
        runTraining(backend, data, { ...config, epochs: 3 }, {
          checkpointDir: join(dir, "empty"),
          resume: last,
        }),
        {
          name: "CheckpointError",
          message:
            /best\.ckpt not found: the run of .*last\.ckpt is scored on the test set with its best checkpoint, that of epoch \d/,
        },
      );
      assert.throws(() => Deno.statSync(join(dir, "empty", "last.ckpt")), Deno.errors.NotFound);
    });

    await t.step("best.ckpt of another run with the same settings", async () => {
      // The second run has the same numbers but other epoch timings.
      await assert.rejects(
        runTraining(backend, data, { ...config, epochs: 3 }, {
          checkpointDir: join(dir, "b"),
          resume: last,
        }),
        { name: "CheckpointError", message: /epoch records differ, so another run wrote it/ },
      );
      const otherLast = await loadCheckpoint(other.lastCheckpoint);
      assert.equal(readCheckpointMeta(otherLast).training.epoch, 2, "b/last.ckpt is unchanged");
    });

    await t.step("best.ckpt of other settings", async () => {
      const wide = { ...config, hidden: 48, epochs: 1 };
      await runTraining(backend, data, wide, { checkpointDir: join(dir, "c") });
      await assert.rejects(
        runTraining(backend, data, { ...config, epochs: 3 }, {
          checkpointDir: join(dir, "c"),
          resume: last,
        }),
        {
          name: "CheckpointError",
          message: /other settings: --hidden is 32 in the resumed checkpoint but 48 in best\.ckpt/,
        },
      );
    });

    await t.step("best.ckpt of the same run", async () => {
      const resumed = await runTraining(backend, data, { ...config, epochs: 3 }, {
        checkpointDir: join(dir, "a"),
        resume: last,
      });
      assert.equal(resumed.resumedAfter, 2);
      assert.ok(resumed.testAcc > 0);
    });
  });
});

Deno.test("assertBestCheckpoint() accepts best.ckpt one epoch ahead", async () => {
  const backend = await createBackend("wasm");
  const data = await slice(400, 100, 100);
  await withTempDir(async (dir) => {
    const epoch1 = join(dir, "epoch1.ckpt");
    const result = await runTraining(backend, data, { ...SMALL.mlp, epochs: 2 }, {
      checkpointDir: dir,
      callbacks: {
        onEpoch: (record) => {
          if (record.epoch === 1) Deno.copyFileSync(join(dir, "last.ckpt"), epoch1);
        },
      },
    });
    const first = await loadCheckpoint(epoch1);
    const second = await loadCheckpoint(result.lastCheckpoint);

    // A kill between the writes of best.ckpt and last.ckpt leaves best.ckpt one epoch ahead.
    assertBestCheckpoint(second, first);

    // A best.ckpt older than the best epoch of the resumed checkpoint is rejected.
    const meta = readCheckpointMeta(second);
    second.meta = {
      ...second.meta,
      training: { ...meta.training, bestEpoch: 2 } as unknown as JsonValue,
    };
    assert.throws(
      () => assertBestCheckpoint(first, second),
      /epoch1\.ckpt is not the best checkpoint of the run of .*last\.ckpt: it contains epoch 1, but the best epoch is 2/,
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
    "--hidden is 64 in the checkpoint but 10 here",
  ]);
  // Between kinds only the kind is named: the other settings come from the other kind's defaults.
  const cnn = { ...mlp, kind: "cnn" as const, hidden: 128, dropRate: 0.1, epochs: 99 };
  assert.deepEqual(configDifferences(mlp, cnn, ["epochs"]), [
    "--model is mlp in the checkpoint but cnn here",
  ]);
  assert.deepEqual(configDifferences(mlp, { ...mlp, validation: 5000 }), [
    "--validation is 10000 in the checkpoint but 5000 here",
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
