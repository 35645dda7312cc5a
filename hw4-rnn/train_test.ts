import assert from "node:assert/strict";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { type Checkpoint, Rng } from "@nn/core";
import { compareConfigs, savedTrainPhrases } from "./train.ts";
import { DEFAULT_CONFIG } from "./run.ts";

/** Words whose presence decides the label, and filler words that carry no sentiment. */
const CUES = ["awful", "bad", "fine", "good", "great"];
const FILLER = ["the", "film", "plot", "is", "a", "-LRB-", "-RRB-", "n't", "1\\/2", "actors"];

/** Return a right-branching tree of `words` with every node labelled `label`. */
function tree(words: string[], label: number): string {
  if (words.length === 1) return `(${label} ${words[0]})`;
  return `(${label} (${label} ${words[0]}) ${tree(words.slice(1), label)})`;
}

/** Return tree lines of 2 to 9 words, each with one cue word that gives its label. */
function treeFile(rng: Rng, count: number): string {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const label = rng.int(5);
    const words = Array.from({ length: 1 + rng.int(8) }, () => FILLER[rng.int(FILLER.length)]);
    words.splice(rng.int(words.length + 1), 0, CUES[label]);
    lines.push(tree(words, label));
  }
  return lines.join("\n") + "\n";
}

async function writeData(dir: string): Promise<{ data: string; glove: string }> {
  const rng = new Rng(7);
  const data = join(dir, "sst");
  await Deno.mkdir(data);
  await Deno.writeTextFile(join(data, "train.txt"), treeFile(rng, 200));
  await Deno.writeTextFile(join(data, "dev.txt"), treeFile(rng, 40));
  await Deno.writeFile(
    join(data, "test.txt.gz"),
    gzipSync(new TextEncoder().encode(treeFile(rng, 30))),
  );
  const glove = join(dir, "glove.txt");
  const lines = [...CUES, "the", "film"].map((w, i) =>
    `${w} ${Array.from({ length: 6 }, (_, j) => ((i * 7 + j) % 5 - 2) / 4).join(" ")}`
  );
  await Deno.writeTextFile(glove, lines.join("\n") + "\n");
  return { data, glove };
}

async function hw4(
  args: string[],
  cwd?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const command = new Deno.Command(Deno.execPath(), {
    cwd,
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      new URL("./train.ts", import.meta.url).pathname,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  });
  const { code, stdout, stderr } = await command.output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** Return checkpoint bytes with their JSON metadata changed by `edit`; the tensors stay valid. */
function editMeta(bytes: Uint8Array, edit: (meta: Record<string, unknown>) => void): Uint8Array {
  // The file is 8 bytes of magic, the header's byte length (uint32 LE), the JSON header, data.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength)));
  edit(header.meta);
  const newHeader = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(12 + newHeader.length + bytes.length - 12 - headerLength);
  out.set(bytes.subarray(0, 8), 0);
  new DataView(out.buffer).setUint32(8, newHeader.length, true);
  out.set(newHeader, 12);
  out.set(bytes.subarray(12 + headerLength), 12 + newHeader.length);
  return out;
}

/** A network small enough to train in a second. */
const SMALL = [
  "--hidden",
  "8",
  "--attention-hidden",
  "6",
  "--attention-hops",
  "2",
  "--batch-size",
  "8",
  "--lr",
  "0.1",
  "--dropout",
  "0.1",
];

Deno.test("hw4 command trains, checkpoints, predicts and resumes", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const { data, glove } = await writeData(dir);
    const out = join(dir, "out");
    const checkpoints = join(dir, "ckpt");
    const common = ["--data-dir", data, "--checkpoints", checkpoints, ...SMALL];
    const best = join(checkpoints, "single", "best.ckpt");
    const last = join(checkpoints, "single", "last.ckpt");

    await t.step("--single trains on phrases by default", async () => {
      const run = await hw4([
        ...common,
        "--single",
        "--out",
        out,
        "--embeddings",
        glove,
        "--epochs",
        "3",
        "--target-acc",
        "0.5",
      ]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /seed: +1/);
      assert.match(run.stdout, /embeddings: .*glove\.txt: 6 features for 7 of \d+ words/);
      assert.match(run.stdout, /target accuracy 50\.00% reached/);
      assert.match(run.stdout, /trainingExamples: +distinct labeled phrases/);
      assert.match(run.stdout, /phrases: +\d+ distinct training phrases \(\d+ tokens\)/);
      assert.match(run.stdout, /epoch {2}3\/3 {2}train phrases loss \S+ acc \S+ {2}dev loss/);
      const report = await Deno.readTextFile(join(out, "report.md"));
      assert.match(report, /bi-LSTM 8, 1 layer, self-attention \(d_a 6, r 2\)/);
      assert.match(
        report,
        /\| training examples +\| \d+ distinct labeled phrases of the training trees, \d+ tokens \(--train-on phrases\)/,
      );
      assert.match(
        report,
        /\| epoch \| loss on training phrases \| accuracy on training phrases \|/,
      );
      const epochs = await Deno.readTextFile(join(out, "run-epochs.csv"));
      assert.equal(epochs.trim().split("\n").length, 4, "header and 3 epochs");
      assert.ok((await Deno.stat(best)).size > 0);
      assert.ok((await Deno.stat(last)).size > 0);
    });

    await t.step("--predict writes one label per test sentence", async () => {
      const result = join(dir, "result.txt");
      const run = await hw4(["--predict", best, "--data-dir", data, "--result", result]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(
        run.stdout,
        /test accuracy \d+\.\d+% \(30 sentences, checkpoint of epoch \d, trained on phrases\)/,
      );
      const labels = (await Deno.readTextFile(result)).trim().split("\n");
      assert.equal(labels.length, 30);
      assert.ok(labels.every((l) => /^[0-4]$/.test(l)), labels.join(","));
    });

    await t.step("--resume takes the checkpoint's settings", async () => {
      // Without the architecture flags of SMALL, which the checkpoint stores, and without
      // --checkpoints: the run must keep writing beside the checkpoint it resumes, not into
      // runs/hw4 of the working folder.
      const run = await hw4([
        "--data-dir",
        data,
        "--single",
        "--out",
        out,
        "--resume",
        last,
        "--epochs",
        "4",
      ], dir);
      assert.equal(run.code, 0, run.stderr);
      await assert.rejects(Deno.stat(join(dir, "runs")), Deno.errors.NotFound);
      const lastMeta = await hw4([
        "--predict",
        last,
        "--data-dir",
        data,
        "--result",
        join(dir, "r4.txt"),
      ]);
      assert.match(lastMeta.stdout, /checkpoint of epoch 4,/, "last.ckpt now holds epoch 4");
      assert.match(run.stdout, /resuming: +.*last\.ckpt after epoch 3/);
      assert.match(run.stdout, /hidden: +8\n/);
      assert.match(run.stdout, /embeddings: from the checkpoint .*last\.ckpt, 6 features/);
      assert.match(run.stdout, /epoch {2}4\/4/);
      assert.doesNotMatch(run.stdout, /epoch {2}3\/4/);
      const epochs = await Deno.readTextFile(join(out, "run-epochs.csv"));
      assert.equal(epochs.trim().split("\n").length, 5, "header and 4 epochs");
      const report = await Deno.readTextFile(join(out, "report.md"));
      assert.match(report, /\| embeddings +\| from the checkpoint /);
    });

    await t.step("--resume into another folder tests the best epoch", async () => {
      const moved = join(dir, "moved");
      const run = await hw4([
        "--data-dir",
        data,
        "--checkpoints",
        moved,
        "--single",
        "--out",
        join(dir, "moved-out"),
        "--resume",
        last,
        "--epochs",
        "5",
      ]);
      assert.equal(run.code, 0, run.stderr);
      const reported = run.stdout.match(
        /best dev accuracy \S+ at epoch (\d+); test accuracy there (\S+)/,
      );
      assert.ok(reported !== null, run.stdout);
      const movedBest = join(moved, "single", "best.ckpt");
      const predicted = await hw4([
        "--predict",
        movedBest,
        "--data-dir",
        data,
        "--result",
        join(dir, "r.txt"),
      ]);
      assert.equal(predicted.code, 0, predicted.stderr);
      assert.match(predicted.stdout, new RegExp(`checkpoint of epoch ${reported[1]},`));
      assert.match(
        predicted.stdout,
        new RegExp(`test accuracy ${reported[2].replace(".", "\\.")} `),
      );
    });

    await t.step("--resume names each flag that differs", async () => {
      const wider = ["--data-dir", data, "--checkpoints", checkpoints, ...SMALL];
      wider[wider.indexOf("--hidden") + 1] = "9";
      const run = await hw4([...wider, "--single", "--resume", last, "--cell", "gru"]);
      assert.equal(run.code, 1);
      const lines = run.stderr.trim().split("\n");
      assert.equal(lines.length, 1, run.stderr);
      assert.match(
        lines[0],
        /^error: Checkpoint .*last\.ckpt does not fit the flags: cell is lstm in the checkpoint but gru here; hidden is 8 in the checkpoint but 9 here\. Leave those flags out/,
      );
    });

    await t.step("--resume of a finished run says so", async () => {
      const resume = [
        "--data-dir",
        data,
        "--checkpoints",
        checkpoints,
        "--single",
        "--resume",
        last,
      ];
      const finished = await hw4(resume);
      assert.equal(finished.code, 1);
      assert.match(
        finished.stderr.trim(),
        /^error: Checkpoint .*last\.ckpt has already trained all 4 epochs of its run: pass --epochs above 4 to train more$/,
      );
      const fewer = await hw4([...resume, "--epochs", "2"]);
      assert.equal(fewer.code, 2);
      assert.equal(fewer.stderr.trim().split("\n").length, 1, fewer.stderr);
      assert.match(
        fewer.stderr,
        /^error: Invalid --epochs 2: checkpoint .* has already trained 4 epochs/,
      );
    });

    await t.step("--resume without the best.ckpt stops before training", async () => {
      const lone = join(dir, "lone");
      await Deno.mkdir(lone);
      // A history whose best dev epoch is the first, so resuming needs that epoch's best.ckpt.
      const bytes = editMeta(await Deno.readFile(last), (meta) => {
        (meta.history as { epochs: { devAcc: number }[] }).epochs[0].devAcc = 1;
      });
      await Deno.writeFile(join(lone, "last.ckpt"), bytes);
      const run = await hw4([
        "--data-dir",
        data,
        "--checkpoints",
        join(dir, "lone-ckpt"),
        "--single",
        "--resume",
        join(lone, "last.ckpt"),
        "--epochs",
        "6",
      ]);
      assert.equal(run.code, 1);
      assert.match(
        run.stderr.trim(),
        /^error: Checkpoint .*lone\/best\.ckpt not found: resuming .*last\.ckpt needs the best\.ckpt of its run, written at its best dev epoch 1$/,
      );
      assert.doesNotMatch(run.stdout, /epoch {2}\d\/6/);
    });

    await t.step("--train-on sentences trains, resumes, predicts", async () => {
      const sentenceCommon = [...common];
      sentenceCommon[sentenceCommon.indexOf("--checkpoints") + 1] = join(dir, "sentences");
      const sentenceOut = join(dir, "sentences-out");
      const sentenceLast = join(dir, "sentences", "single", "last.ckpt");
      const run = await hw4([
        ...sentenceCommon,
        "--single",
        "--train-on",
        "sentences",
        "--out",
        sentenceOut,
        "--epochs",
        "1",
      ]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /trainingExamples: +training sentences/);
      assert.doesNotMatch(run.stdout, /phrases:/);
      assert.match(run.stdout, /epoch {2}1\/1 {2}train loss \S+ acc \S+ {2}dev loss/);
      const report = await Deno.readTextFile(join(sentenceOut, "report.md"));
      assert.match(report, /\| training examples +\| 200 sentences \(--train-on sentences\) +\|/);
      assert.match(report, /\| epoch \| train loss \| train accuracy \|/);

      // Without --train-on, the checkpoint's setting applies.
      const byDefault = await hw4([...sentenceCommon, "--single", "--resume", sentenceLast]);
      assert.equal(byDefault.code, 1);
      assert.match(byDefault.stderr.trim(), /has already trained all 1 epoch of its run/);
      const phrases = await hw4([
        ...common,
        "--single",
        "--train-on",
        "sentences",
        "--resume",
        last,
      ]);
      assert.equal(phrases.code, 1);
      assert.match(
        phrases.stderr.trim(),
        /^error: Checkpoint .*last\.ckpt does not fit the flags: train-on is phrases in the checkpoint but sentences here\./,
      );

      const resumed = await hw4([
        ...sentenceCommon,
        "--single",
        "--train-on",
        "sentences",
        "--out",
        sentenceOut,
        "--resume",
        sentenceLast,
        "--epochs",
        "2",
      ]);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.match(resumed.stdout, /epoch {2}2\/2 {2}train loss/);

      const result = join(dir, "sentences-result.txt");
      const predicted = await hw4([
        "--predict",
        sentenceLast,
        "--data-dir",
        data,
        "--result",
        result,
      ]);
      assert.equal(predicted.code, 0, predicted.stderr);
      assert.match(
        predicted.stdout,
        /\(30 sentences, checkpoint of epoch 2, trained on sentences\)/,
      );
    });

    await t.step("a truncated checkpoint exits 1 in one line", async () => {
      const bytes = await Deno.readFile(best);
      const cut = join(dir, "cut.ckpt");
      await Deno.writeFile(cut, bytes.subarray(0, bytes.length - 100));
      const run = await hw4(["--predict", cut, "--data-dir", data]);
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        /^error: Invalid checkpoint .*cut\.ckpt: truncated: \d+ bytes, expected \d+$/m,
      );
      assert.doesNotMatch(run.stderr, /\n\s+at /, "printed a stack trace");
    });

    await t.step("bad paths and edited checkpoints exit in one line", async (t) => {
      const aFile = join(dir, "a-file.txt");
      await Deno.writeTextFile(aFile, "not a folder\n");
      const edited = async (name: string, edit: (meta: Record<string, unknown>) => void) => {
        const path = join(dir, name);
        await Deno.writeFile(path, editMeta(await Deno.readFile(best), edit));
        return path;
      };
      const cellEdited = await edited("cell.ckpt", (meta) => {
        (meta.spec as Record<string, unknown>).cell = "xxxx";
      });
      const padRenamed = await edited("pad.ckpt", (meta) => {
        (meta.vocab as string[])[0] = "_PADDING";
      });
      const negativeVocab = await edited("vocab.ckpt", (meta) => {
        (meta.spec as Record<string, unknown>).vocabSize = -5;
      });
      const single = ["--single", "--data-dir", data, "--epochs", "1", ...SMALL];
      const cases: [string, string[], number, RegExp][] = [
        [
          "--embeddings missing",
          [...single, "--embeddings", join(dir, "none.txt")],
          1,
          /^error: Embeddings file .*none\.txt not found$/,
        ],
        [
          "--embeddings a folder",
          [...single, "--embeddings", dir],
          1,
          /^error: Embeddings file .* is a folder, expected a GloVe text file/,
        ],
        [
          "--out a file",
          [...single, "--out", aFile],
          1,
          /^error: Invalid --out .*a-file\.txt: it is a file, not a folder\. Pass --out a folder, or a path where one can be created\.$/,
        ],
        [
          "--checkpoints a file",
          [...single, "--out", out, "--checkpoints", aFile],
          1,
          /^error: Invalid --checkpoints .*a-file\.txt: it is a file, not a folder\. Pass --checkpoints a folder, or a path where one can be created\.$/,
        ],
        [
          "--result a folder",
          ["--predict", best, "--data-dir", data, "--result", dir],
          2,
          /^error: --result .* is a folder, expected a file name such as .*result\.txt\. Run with --help/,
        ],
        [
          "--predict a folder",
          ["--predict", checkpoints, "--data-dir", data],
          1,
          /^error: Checkpoint .*ckpt is a folder, expected a checkpoint file such as .*best\.ckpt$/,
        ],
        [
          "cell edited",
          ["--predict", cellEdited, "--data-dir", data],
          1,
          /^error: Checkpoint .*cell\.ckpt has invalid metadata: spec\.cell is "xxxx", expected one of rnn, gru, lstm$/,
        ],
        [
          "_PAD renamed",
          ["--predict", padRenamed, "--data-dir", data],
          1,
          /^error: Checkpoint .*pad\.ckpt has invalid metadata: vocab\[0\] is "_PADDING", expected "_PAD"$/,
        ],
        [
          "--embeddings with --resume",
          [...single, "--resume", best, "--embeddings", join(dir, "none.txt")],
          2,
          /^error: --embeddings cannot change with --resume: the vocabulary and the embeddings come from the checkpoint .*best\.ckpt\. Run with --help/,
        ],
        [
          "--vocab-size with --resume",
          ["--single", "--data-dir", data, "--resume", best, "--vocab-size", "100"],
          2,
          /^error: --vocab-size cannot change with --resume/,
        ],
        [
          "--predict with training flags",
          ["--predict", best, "--data-dir", data, "--single", "--cell", "gru"],
          2,
          /^error: --predict takes only --result, --data-dir and --backend, but --single, --cell were given: the checkpoint fixes the network\. Run with --help/,
        ],
        [
          "--predict with --resume and --out",
          ["--predict", best, "--data-dir", data, "--resume", best, "--out", out],
          2,
          /^error: --predict takes only --result, --data-dir and --backend, but --resume, --out were given/,
        ],
        [
          // No --data-dir: the missing checkpoint is reported before SST would be downloaded.
          "--predict a missing checkpoint",
          ["--predict", join(dir, "none.ckpt")],
          1,
          /^error: Checkpoint .*none\.ckpt not found/,
        ],
        [
          "vocabSize negative",
          ["--single", "--data-dir", data, "--resume", negativeVocab],
          1,
          /^error: Checkpoint .*vocab\.ckpt has invalid metadata: spec\.vocabSize is -5, expected \d+, the length of vocab$/,
        ],
      ];
      for (const [name, args, code, pattern] of cases) {
        await t.step(name, async () => {
          const run = await hw4(args);
          assert.equal(run.code, code, run.stderr);
          assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
          assert.match(run.stderr.trim(), pattern);
        });
      }
      assert.equal(await Deno.readTextFile(aFile), "not a folder\n");
    });

    await t.step("the report mode writes hw4.md with the cell comparison", async () => {
      const run = await hw4([...common, "--out", out, "--epochs", "2", "--compare-epochs", "1"]);
      assert.equal(run.code, 0, run.stderr);
      const report = await Deno.readTextFile(join(out, "hw4.md"));
      for (const label of ["BasicRNN", "GRU", "LSTM", "final"]) {
        assert.match(report, new RegExp(`\\| ${label} +\\|`));
      }
      assert.match(report, /test accuracy: `deno task hw4 --predict .*best\.ckpt --data-dir /);
      assert.match(report, /With --train-on phrases, every run, the cell comparison included, /);
      assert.match(
        report,
        /trained for 1 epoch each \(fewer than the final network's 2, .*\)\. Training examples \(phrases\)/,
      );
      for (
        const file of [
          "compare-dev-acc.svg",
          "final-acc.svg",
          "compare-gru-epochs.csv",
          "result.txt",
        ]
      ) {
        assert.ok((await Deno.stat(join(out, "hw4", file))).isFile, file);
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hw4 command rejects bad flags and malformed data in one line", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "train.txt"), "(3 (2 a) (3 b))\n(2 (2 c)\n");
    await Deno.writeTextFile(join(dir, "dev.txt"), "(3 (3 b))\n");
    await Deno.writeTextFile(join(dir, "test.txt"), "(3 (3 b))\n");
    const cases: [string[], number, RegExp][] = [
      [["--cell", "tanh"], 2, /^error: Invalid --cell "tanh": expected one of rnn, gru, lstm/],
      [
        ["--train-on", "words"],
        2,
        /^error: Invalid --train-on "words": expected one of phrases, sentences/,
      ],
      [
        ["--dropout", "1"],
        2,
        /^error: Invalid --dropout "1": expected a value in \[0, 1\)\. Run with --help/,
      ],
      [
        ["--momentum", "1"],
        2,
        /^error: Invalid --momentum "1": expected a value in \[0, 1\)\. Run with --help/,
      ],
      [
        ["--lr-decay", "0"],
        2,
        /^error: Invalid --lr-decay "0": expected a factor in \(0, 1\]\. Run with --help/,
      ],
      [
        ["--lr-decay", "1.5"],
        2,
        /^error: Invalid --lr-decay "1\.5": expected a factor in \(0, 1\]\. Run with --help/,
      ],
      [
        ["--vocab-size", "2"],
        2,
        /^error: Invalid --vocab-size "2": expected an integer of at least 3, room for _PAD, _UNK and one word\./,
      ],
      [
        ["--data-dir", join(dir, "train.txt"), "--single"],
        1,
        /^error: SST data .*train\.txt is a file but not a ZIP archive: --data-dir expects a folder with train\.txt, dev\.txt and test\.txt, or trainDevTestTrees_PTB\.zip$/,
      ],
      [["--resume", "x.ckpt"], 1, /^error: --resume continues a --single run: add --single$/],
      [
        ["--data-dir", dir, "--single"],
        1,
        /^error: .*train\.txt:2:9: invalid tree: unbalanced brackets/,
      ],
      [["--data-dir", join(dir, "none")], 1, /^error: SST data directory .*none not found/],
    ];
    for (const [args, code, pattern] of cases) {
      await t.step(args.join(" "), async () => {
        const run = await hw4(args);
        assert.equal(run.code, code, run.stderr);
        assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
        assert.match(run.stderr.trim(), pattern);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compareConfigs() covers the three cells on the last state", () => {
  const runs = compareConfigs(DEFAULT_CONFIG, 4, 64, 0.02);
  assert.deepEqual(runs.map((r) => r.name), ["compare-rnn", "compare-gru", "compare-lstm"]);
  for (const run of runs) {
    assert.equal(run.config.pooling, "last");
    assert.equal(run.config.bidirectional, false);
    assert.equal(run.config.layers, 1);
    assert.equal(run.config.hidden, 64);
    assert.equal(run.config.epochs, 4);
    assert.equal(run.config.lr, 0.02);
    assert.equal(run.config.lrDecay, 1);
    assert.equal(run.config.trainPhrases, DEFAULT_CONFIG.trainPhrases);
  }
});

Deno.test("savedTrainPhrases() reads the setting, absent as sentences", () => {
  const checkpoint = (config: unknown) => ({ meta: { config } }) as unknown as Checkpoint;
  assert.equal(savedTrainPhrases(checkpoint({ trainPhrases: true })), true);
  assert.equal(savedTrainPhrases(checkpoint({ trainPhrases: false })), false);
  assert.equal(savedTrainPhrases(checkpoint({ lr: 0.2 })), false, "written before the field");
  assert.equal(savedTrainPhrases(checkpoint(null)), false, "no config");
});
