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

async function hw4(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const command = new Deno.Command(Deno.execPath(), {
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

    await t.step("--resume continues after the saved epoch", async () => {
      const run = await hw4([
        ...common,
        "--single",
        "--out",
        out,
        "--resume",
        last,
        "--epochs",
        "4",
      ]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /resuming: +.*last\.ckpt after epoch 3/);
      assert.match(run.stdout, /epoch {2}4\/4/);
      assert.doesNotMatch(run.stdout, /epoch {2}3\/4/);
      const epochs = await Deno.readTextFile(join(out, "run-epochs.csv"));
      assert.equal(epochs.trim().split("\n").length, 5, "header and 4 epochs");
    });

    await t.step("--resume with another architecture names the mismatch", async () => {
      const wider = ["--data-dir", data, "--checkpoints", checkpoints, ...SMALL];
      wider[wider.indexOf("--hidden") + 1] = "9";
      const run = await hw4([...wider, "--single", "--resume", last]);
      assert.equal(run.code, 1);
      const lines = run.stderr.trim().split("\n").filter((l) => l.startsWith("error"));
      assert.equal(lines.length, 1, run.stderr);
      assert.match(
        lines[0],
        /does not fit the network: shape mismatch: encoder\.l1\.fw\.W is \[14, 32\] in the file but \[15, 36\] in the network/,
      );
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

      const byDefault = await hw4([...sentenceCommon, "--single", "--resume", sentenceLast]);
      assert.equal(byDefault.code, 1);
      assert.match(
        byDefault.stderr.trim(),
        /^error: Checkpoint .*last\.ckpt was trained on sentences: resume it with --train-on sentences$/,
      );
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
        /^error: Checkpoint .*last\.ckpt was trained on phrases: resume it with --train-on phrases$/,
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
      [["--dropout", "1"], 1, /^error: Invalid --dropout 1: expected a value below 1$/],
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
