/**
 * From treebank sentences to what training reads: the vocabulary, word ids and the initial
 * embedding table.
 *
 * @module
 */

import { formatPercent, Rng } from "@nn/core";
import type { EncodedSentence } from "./batches.ts";
import type { Hw4Data } from "./run.ts";
import type { LabeledSentence, Sst } from "./sst.ts";
import { buildVocabulary, embeddingTable, readEmbeddings, UNK, type Vocabulary } from "./vocab.ts";

/** Standard deviation of the random vectors of words without a pretrained vector. */
export const UNKNOWN_STD = 0.1;

/** Options of {@linkcode prepareData}. */
export interface PrepareOptions {
  /** Largest vocabulary, `_PAD` and `_UNK` included. */
  vocabSize: number;
  /** GloVe-format vectors to start from; random vectors when left out. */
  embeddingsPath?: string;
  /** Features D of random embeddings; ignored when a file gives D. */
  embeddingSize: number;
  /** Seed of the random vectors. */
  seed: number;
  /** A vocabulary to use instead of building one, e.g. a checkpoint's. */
  vocab?: Vocabulary;
}

/** Prepared data and a one-line description of where the embeddings came from. */
export interface PreparedData {
  data: Hw4Data;
  embeddingsSource: string;
}

/**
 * Build the vocabulary from the training split, encode the three splits and build the initial
 * embedding table.
 *
 * @throws {DataError} when the embeddings file is malformed or covers no vocabulary word
 */
export async function prepareData(sst: Sst, options: PrepareOptions): Promise<PreparedData> {
  const vocab = options.vocab ?? buildVocabulary(sst.train, options.vocabSize);
  const train = encodeSentences(vocab, sst.train);
  const dev = encodeSentences(vocab, sst.dev);
  const test = encodeSentences(vocab, sst.test);
  // A generator of its own, so the network's initialization does not depend on the vocabulary.
  const rng = new Rng((options.seed ^ 0x5eed) >>> 0);

  if (options.embeddingsPath === undefined) {
    const dim = options.embeddingSize;
    return {
      data: {
        vocab,
        train,
        dev,
        test,
        embeddings: embeddingTable(vocab, dim, rng, null, UNKNOWN_STD),
        embeddingSize: dim,
      },
      embeddingsSource: `random, ${dim} features, std ${UNKNOWN_STD}`,
    };
  }

  const pretrained = await readEmbeddings(options.embeddingsPath, vocab);
  const dim = pretrained.dim;
  let covered = 0, total = 0;
  for (const sentence of train) {
    for (const id of sentence.ids) {
      total++;
      if (id !== UNK && pretrained.found[id]) covered++;
    }
  }
  return {
    data: {
      vocab,
      train,
      dev,
      test,
      embeddings: embeddingTable(vocab, dim, rng, pretrained, UNKNOWN_STD),
      embeddingSize: dim,
    },
    embeddingsSource: `${options.embeddingsPath}: ${dim} features for ` +
      `${pretrained.foundCount} of ${vocab.size} words (${
        formatPercent(covered / total, 1)
      } of training words); others random, std ${UNKNOWN_STD}`,
  };
}

/** Return the word ids and label of each sentence. */
export function encodeSentences(
  vocab: Vocabulary,
  sentences: readonly LabeledSentence[],
): EncodedSentence[] {
  return sentences.map((s) => ({ ids: vocab.encode(s.tokens), label: s.label }));
}
