import assert from "node:assert/strict";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Rng } from "@nn/core";
import {
  buildVocabulary,
  embeddingTable,
  normalizeToken,
  PAD,
  readEmbeddings,
  UNK,
  Vocabulary,
} from "./vocab.ts";

Deno.test("normalizeToken() lower-cases and undoes the treebank's escapes", () => {
  assert.equal(normalizeToken("The"), "the");
  assert.equal(normalizeToken("-LRB-"), "-lrb-");
  assert.equal(normalizeToken("1\\/2"), "1/2");
  assert.equal(normalizeToken("\\*\\*\\*"), "***");
  assert.equal(normalizeToken("n't"), "n't");
});

Deno.test("buildVocabulary() orders words by count, then alphabetically, and caps the size", () => {
  const sentences = [
    { tokens: ["The", "film", "is", "good"] },
    { tokens: ["the", "plot", "is", "THE", "point"] },
    { tokens: ["_PAD", "good"] },
  ];
  const full = buildVocabulary(sentences, 100);
  // the ×3, good ×2, is ×2, then _pad, film, plot, point once each: the word `_PAD` is
  // lower-cased like every word, so it does not take the padding id.
  assert.deepEqual(full.tokens, [
    "_PAD",
    "_UNK",
    "the",
    "good",
    "is",
    "_pad",
    "film",
    "plot",
    "point",
  ]);
  const capped = buildVocabulary(sentences, 4);
  assert.deepEqual(capped.tokens, ["_PAD", "_UNK", "the", "good"]);
  assert.equal(capped.id("Good"), 3);
  assert.equal(capped.id("plot"), UNK);
  assert.deepEqual([...capped.encode(["THE", "plot", "good"])], [2, UNK, 3]);
  assert.throws(() => buildVocabulary(sentences, 2), { name: "RangeError" });
});

Deno.test("Vocabulary rejects a list without _PAD and _UNK first", () => {
  assert.throws(() => new Vocabulary(["_UNK", "_PAD", "a"]), {
    name: "RangeError",
    message: 'Vocabulary: expected _PAD and _UNK as ids 0 and 1, got ["_UNK","_PAD"]',
  });
  assert.throws(() => new Vocabulary(["_PAD", "_UNK", "a", "a"]), {
    name: "RangeError",
    message: 'Vocabulary: the word "a" appears twice',
  });
});

Deno.test("readEmbeddings() reads raw and gzip GloVe files for the vocabulary", async (t) => {
  const vocab = new Vocabulary(["_PAD", "_UNK", "good", "1/2", "n't", "absent"]);
  const glove = [
    "good 0.5 -1 2",
    "bad 9 9 9",
    "1/2 1e-1 0 -0.25",
    "good 7 7 7",
    "",
  ].join("\n");
  const dir = await Deno.makeTempDir();
  try {
    for (
      const [name, bytes] of [
        ["glove.txt", new TextEncoder().encode(glove)],
        ["glove.txt.gz", gzipSync(new TextEncoder().encode(glove))],
        ["w2v.txt", new TextEncoder().encode("4 3\n" + glove)],
      ] as const
    ) {
      await t.step(name, async () => {
        const path = join(dir, name);
        await Deno.writeFile(path, bytes);
        const vectors = await readEmbeddings(path, vocab);
        assert.equal(vectors.dim, 3);
        assert.equal(vectors.foundCount, 2);
        assert.deepEqual([...vectors.found], [0, 0, 1, 1, 0, 0]);
        // The first line of a word wins.
        assert.deepEqual([...vectors.vectors.subarray(6, 12)], [
          0.5,
          -1,
          2,
          Math.fround(0.1),
          0,
          -0.25,
        ]);
      });
    }

    await t.step("initial table", async () => {
      const vectors = await readEmbeddings(join(dir, "glove.txt"), vocab);
      const table = embeddingTable(vocab, 3, new Rng(1), vectors, 0.1);
      assert.deepEqual([...table.subarray(PAD * 3, PAD * 3 + 3)], [0, 0, 0]);
      assert.deepEqual([...table.subarray(6, 9)], [0.5, -1, 2]);
      const unknown = table.subarray(UNK * 3, UNK * 3 + 3);
      assert.ok(unknown.some((v) => v !== 0) && unknown.every((v) => Math.abs(v) < 1));
    });

    const cases = [
      { name: "a short line", body: "good 1 2 3\nn't 1 2\n", message: /:2: 2 values, expected 3/ },
      { name: "a bad number", body: "good 1 x 3\n", message: /:1: value 2 "x" is not a number$/ },
      { name: "no known word", body: "bad 1 2 3\n", message: /none of the 6 vocabulary words/ },
      {
        name: "a longer vector of a vocabulary word",
        body: "good 1 2 3\nn't 1 2 3 4\n",
        message: /:2: 4 values for "n't", expected 3 as on the first line$/,
      },
      {
        name: "a shorter first line",
        body: "bad 1 2\ngood 1 2 3\n",
        message: /:2: 3 values for "good", expected 2 as on the first line$/,
      },
      {
        name: "longer vectors of other words",
        body: "good 1 2 3\nzzz 1 2 3 4\nyyy 1 2 3 4 5\n",
        message: /: 2 lines hold vectors of more than the first line's 3 values \(line 2 has 4\): /,
      },
    ];
    for (const c of cases) {
      await t.step(c.name, async () => {
        const path = join(dir, "bad.txt");
        await Deno.writeTextFile(path, c.body);
        await assert.rejects(readEmbeddings(path, vocab), {
          name: "DataError",
          message: c.message,
        });
      });
    }

    await t.step("a word with spaces", async () => {
      const path = join(dir, "spaces.txt");
      await Deno.writeTextFile(path, "good 1 2 3\nnew york 4 5 6\n1/2 7 8 9\n");
      const vectors = await readEmbeddings(path, vocab);
      assert.equal(vectors.foundCount, 2);
      assert.deepEqual([...vectors.vectors.subarray(9, 12)], [7, 8, 9]);
    });

    for (
      const [name, path, message] of [
        ["a missing file", join(dir, "none.txt"), /^Embeddings file .*none\.txt not found$/],
        ["a folder", dir, /^Embeddings file .* is a folder, expected a GloVe text file/],
      ] as const
    ) {
      await t.step(name, async () => {
        await assert.rejects(readEmbeddings(path, vocab), { name: "DataError", message });
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
