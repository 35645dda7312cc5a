import assert from "node:assert/strict";
import { prepareData, trainingPhrases } from "./data.ts";
import { parseTree, type Sst } from "./sst.ts";

const TRAIN = [
  "(3 (2 (2 The) (2 film)) (4 (4 great) (2 .)))",
  // "the film" again, lower-case, with another label: the first label stays.
  "(1 (0 (2 the) (2 film)) (1 (2 is) (1 bad)))",
  // A whole sentence equal to an earlier phrase is dropped too.
  "(4 (4 great) (2 .))",
].map((line) => parseTree(line));

Deno.test("trainingPhrases() keeps every distinct phrase once", () => {
  const phrases = trainingPhrases(TRAIN);
  const listed = phrases.examples.map((e) => `${e.label} ${e.tokens.join(" ")}`);
  assert.deepEqual(listed, [
    "3 The film great .",
    "2 The film",
    "2 The",
    "2 film",
    "4 great .",
    "4 great",
    "2 .",
    "1 the film is bad",
    "1 is bad",
    "2 is",
    "1 bad",
  ]);
  assert.equal(phrases.tokens, 4 + 2 + 1 + 1 + 2 + 1 + 1 + 4 + 2 + 1 + 1);
  // "the film", "the", "film" and the third sentence's three nodes are repeats, and only
  // "the film" has another label (0 after 2).
  assert.equal(phrases.conflicts, 1);
});

Deno.test("trainingPhrases() unescapes like the vocabulary", () => {
  const trees = ["(2 (2 1\\/2) (2 X))", "(4 (4 1/2) (4 x))"].map((line) => parseTree(line));
  const phrases = trainingPhrases(trees);
  assert.deepEqual(phrases.examples.map((e) => e.tokens), [["1\\/2", "X"], ["1\\/2"], ["X"]]);
  assert.equal(phrases.conflicts, 3);
});

Deno.test("prepareData() with trainPhrases changes only the training examples", async () => {
  const sst: Sst = {
    train: TRAIN,
    dev: [parseTree("(1 (2 (2 the) (2 plot)) (1 bad))")],
    test: [parseTree("(4 (4 great) (2 film))")],
    source: "test",
  };
  const options = { vocabSize: 100, embeddingSize: 4, seed: 1 };
  const sentences = await prepareData(sst, options);
  const phrases = await prepareData(sst, { ...options, trainPhrases: true });
  assert.equal(sentences.phrases, undefined);
  assert.equal(phrases.phrases?.examples.length, 11);
  assert.deepEqual(phrases.data.vocab.tokens, sentences.data.vocab.tokens);
  assert.deepEqual(phrases.data.embeddings, sentences.data.embeddings);
  assert.deepEqual(phrases.data.dev, sentences.data.dev);
  assert.deepEqual(phrases.data.test, sentences.data.test);
  assert.equal(sentences.data.train.length, 3);
  assert.equal(phrases.data.train.length, 11);
  assert.deepEqual(phrases.data.train[0], sentences.data.train[0], "the first sentence");
  assert.deepEqual(phrases.data.train[1].ids, sentences.data.vocab.encode(["the", "film"]));
});
