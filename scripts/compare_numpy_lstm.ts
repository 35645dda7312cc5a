/**
 * `deno task compare:numpy-lstm`: one training epoch of a one-layer LSTM sentence classifier (512
 * units, batch 16, SST's 8,544 training sentences) in the engine and in NumPy, side by side.
 *
 * Both sides run the same network from the same initial parameters over the same batches in the
 * same order. The network is hw4-rnn's with `--pooling last --direction uni --dropout 0`:
 * embeddings (100 features), LSTM, last state, linear layer to 5 classes, softmax cross-entropy.
 * Training is SGD with momentum 0.9, global-norm clipping at 5 and sparse embedding updates. The
 * NumPy side is `numpy_lstm_epoch.py`, whose BLAS gets the engine's thread count (`NN_THREADS`,
 * else the number of cores) through `OPENBLAS_NUM_THREADS` and `OMP_NUM_THREADS`. Before any
 * time is printed, the first batches' losses of the two sides must agree, so the table never
 * compares two different computations.
 *
 * Sentences are SST's training split with `--data-dir`, else random sentences of SST's count and
 * about its lengths (normal around 19 words, clipped to 2–52), since the cost of an epoch
 * depends on the lengths, not on the words.
 *
 * @module
 */

import { join } from "node:path";
import { createBackend, flag, formatPercent, parseFlags, Rng, runMain, UserError } from "@nn/core";
import { type EncodedSentence, type PackedBatch, SentenceBatches } from "../hw4-rnn/batches.ts";
import { encodeSentences } from "../hw4-rnn/data.ts";
import { SentimentNetwork } from "../hw4-rnn/model.ts";
import { ClippedSgd } from "../hw4-rnn/optim.ts";
import { CLASSES } from "../hw4-rnn/run.ts";
import { loadSst } from "../hw4-rnn/sst.ts";
import { buildVocabulary } from "../hw4-rnn/vocab.ts";
import { resolveThreads } from "../core/backend/threads.ts";
import { assertNumpy } from "./numpy_check.ts";

const COMMAND = {
  usage: "deno task compare:numpy-lstm [flags]",
  description: "Time one LSTM training epoch on SST-shaped batches in the engine and in NumPy.",
  flags: {
    dataDir: flag.string(
      "SST source as hw4 reads it (default: random SST-shaped sentences)",
      undefined,
      {
        valueName: "PATH",
      },
    ),
    epochs: flag.positiveInt("epochs timed per implementation; the fastest counts", 1),
    hidden: flag.positiveInt("LSTM units", 512),
    batchSize: flag.positiveInt("sentences per batch", 16),
    python: flag.string("Python interpreter with NumPy", "python3"),
  },
};

const EMBEDDING = 100;
const TRAINING = { lr: 0.005, momentum: 0.9, clipNorm: 5 };
/** Batches whose losses the two sides must agree on before timing is trusted. */
const CHECKED_BATCHES = 20;

/** SST training sentences, or random ones of SST's size (8,544 sentences, 16,583 words). */
async function sentences(dataDir: string | undefined): Promise<{
  data: EncodedSentence[];
  vocabSize: number;
  source: string;
}> {
  if (dataDir !== undefined) {
    const sst = await loadSst({ dataDir });
    const vocab = buildVocabulary(sst.train, 20000);
    return { data: encodeSentences(vocab, sst.train), vocabSize: vocab.size, source: sst.source };
  }
  // Lengths 2 to 52 around a mean of 19, like SST's training split.
  const rng = new Rng(3);
  const vocabSize = 16583;
  const data = Array.from({ length: 8544 }, () => {
    const length = Math.min(52, Math.max(2, Math.round(19 + 9 * rng.normal())));
    const ids = Int32Array.from({ length }, () => 2 + rng.int(vocabSize - 2));
    return { ids, label: rng.int(CLASSES) };
  });
  return { data, vocabSize, source: "random sentences of SST's size and lengths" };
}

async function main(): Promise<void> {
  const flags = parseFlags(COMMAND, Deno.args);
  await assertNumpy(flags.python);
  const backend = await createBackend();
  const { data, vocabSize, source } = await sentences(flags.dataDir);
  const H = flags.hidden;
  // NumPy's BLAS would otherwise start a thread per core whatever the engine uses.
  const threads = resolveThreads();
  console.log(`backend: ${backend.description}`);
  console.log(`NumPy:   BLAS limited to ${threads} thread${threads === 1 ? "" : "s"}`);
  console.log(`data:    ${source}`);

  // One epoch's batches, in one shuffled order that both sides replay.
  const batcher = new SentenceBatches(backend, data, {
    batchSize: flags.batchSize,
    classes: CLASSES,
  });
  const order = new Rng(1).permutation(data.length);
  const batches: PackedBatch[] = [];
  for (let start = 0; start < order.length; start += flags.batchSize) {
    const batch = batcher.pack(order.subarray(start, start + flags.batchSize));
    // pack() reuses the target tensor of a batch size, so keep a copy of each batch's.
    const target = backend.zeros(batch.target.shape);
    target.data.set(batch.target.data);
    batches.push({ ...batch, target });
  }

  const rng = new Rng(2);
  const network = new SentimentNetwork(
    backend,
    {
      vocabSize,
      embeddingSize: EMBEDDING,
      cell: "lstm",
      hiddenSize: H,
      layers: 1,
      bidirectional: false,
      pooling: "last",
      attentionHidden: 1,
      attentionHops: 1,
      classes: CLASSES,
      dropout: 0,
    },
    rng,
    {
      embeddings: rng.fillNormal(new Float32Array(vocabSize * EMBEDDING), 0.1),
      freezeEmbeddings: false,
      penaltyWeight: 0,
    },
  );

  // Hand NumPy the batches and the initial parameters before the engine trains them.
  const dir = await Deno.makeTempDir();
  try {
    const batchesPath = join(dir, "batches.json");
    await Deno.writeTextFile(
      batchesPath,
      JSON.stringify({
        vocab: vocabSize,
        embedding: EMBEDDING,
        hidden: H,
        classes: CLASSES,
        lr: TRAINING.lr,
        momentum: TRAINING.momentum,
        clip_norm: TRAINING.clipNorm,
        batches: batches.map((b) => ({
          sentences: [...b.indices].map((i) => [...data[i].ids]),
          labels: [...b.labels],
        })),
      }),
    );
    const paramsPath = join(dir, "params.bin");
    const params = network.params();
    const size = params.reduce((sum, p) => sum + p.value.size, 0);
    const flat = new Float32Array(size);
    let offset = 0;
    for (const p of params) {
      flat.set(p.value.data, offset);
      offset += p.value.size;
    }
    await Deno.writeFile(paramsPath, new Uint8Array(flat.buffer));

    const optimizer = new ClippedSgd(backend, network.trainableParams(), TRAINING, [
      { param: network.embedding.table, rows: () => network.embedding.touchedRows() },
    ]);
    const engineSeconds: number[] = [];
    let engineLosses: number[] = [];
    for (let epoch = 0; epoch < flags.epochs; epoch++) {
      console.error(`timing engine epoch ${epoch + 1}/${flags.epochs}`);
      const losses: number[] = [];
      const start = performance.now();
      for (const batch of batches) {
        const loss = network.loss(network.forward(batch, true), batch).total;
        network.backward();
        optimizer.step();
        losses.push(loss);
      }
      engineSeconds.push((performance.now() - start) / 1000);
      if (epoch === 0) engineLosses = losses;
    }

    console.error(`timing NumPy (${flags.epochs} epoch${flags.epochs === 1 ? "" : "s"})`);
    const script = new URL("./numpy_lstm_epoch.py", import.meta.url).pathname;
    const output = await new Deno.Command(flags.python, {
      args: [
        script,
        "--batches",
        batchesPath,
        "--params",
        paramsPath,
        "--epochs",
        String(flags.epochs),
      ],
      env: { OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) },
      stdout: "piped",
      stderr: "inherit",
    }).output().catch((err) => {
      throw new UserError(`Cannot run ${flags.python}: ${err.message}`, {
        hint: "Pass --python with an interpreter that has NumPy.",
      });
    });
    if (!output.success) throw new UserError(`${script} failed with exit code ${output.code}`);
    const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
    const numpy = JSON.parse(lines[lines.length - 1]) as {
      epoch_seconds: number[];
      losses: number[];
      numpy: string;
      blas: string;
    };

    // Same computation check: the first batches' losses must match closely; later ones drift
    // apart slowly through float32 rounding.
    let worst = 0;
    for (let i = 0; i < CHECKED_BATCHES; i++) {
      worst = Math.max(worst, Math.abs(engineLosses[i] - numpy.losses[i]) / numpy.losses[i]);
    }
    if (!(worst < 1e-3)) {
      throw new UserError(
        `The engine and NumPy disagree: the losses of the first ${CHECKED_BATCHES} batches ` +
          `differ by up to ${formatPercent(worst, 3)}, so their times are not comparable`,
      );
    }
    const engineBest = Math.min(...engineSeconds);
    const numpyBest = Math.min(...numpy.epoch_seconds);
    console.log(
      `\nThe first ${CHECKED_BATCHES} batch losses agree within ${worst.toExponential(1)} ` +
        `(relative); mean loss over the epoch: engine ${mean(engineLosses).toFixed(4)}, ` +
        `NumPy ${mean(numpy.losses).toFixed(4)}.\n`,
    );
    console.log(
      `One training epoch of a one-layer LSTM (${H} units, batch ${flags.batchSize}, ` +
        `${batches.length} batches), fastest of ${flags.epochs}:\n`,
    );
    console.log("| implementation | seconds per epoch | × NumPy |");
    console.log("| --- | ---: | ---: |");
    console.log(
      `| engine: ${backend.description} | ${engineBest.toFixed(2)} | ${
        (engineBest / numpyBest).toFixed(2)
      } |`,
    );
    console.log(
      `| NumPy ${numpy.numpy} (${numpy.blas}, ${threads} thread${threads === 1 ? "" : "s"}), ` +
        `scripts/numpy_lstm_epoch.py | ${numpyBest.toFixed(2)} | 1.00 |`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

if (import.meta.main) await runMain(main);
