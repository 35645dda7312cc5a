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
import {
  buildVocabulary,
  embeddingTable,
  normalizeToken,
  readEmbeddings,
  UNK,
  type Vocabulary,
} from "./vocab.ts";

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
  /**
   * Train on every distinct labeled phrase of the training trees (see
   * {@linkcode trainingPhrases}) instead of the training sentences (default: false).
   */
  trainPhrases?: boolean;
}

/** Prepared data and a one-line description of where the embeddings came from. */
export interface PreparedData {
  data: Hw4Data;
  embeddingsSource: string;
  /** With `trainPhrases`: the phrase set that replaced the training sentences. */
  phrases?: PhraseSet;
}

/** The training examples that {@linkcode trainingPhrases} returns, with counts for the log. */
export interface PhraseSet {
  /** Distinct phrases, each with its label and its leaves, in order of first appearance. */
  examples: { label: number; tokens: string[] }[];
  /** Tokens over all examples. */
  tokens: number;
  /** Phrases skipped because an earlier one had the same tokens but another label. */
  conflicts: number;
}

/**
 * Return every distinct labeled phrase of `sentences`' trees as a training example: the node's
 * label and the leaves under it. The whole sentence is one of them, with its root label.
 *
 * Phrases are distinct by their tokens after {@linkcode normalizeToken}, the vocabulary's
 * lower-casing and unescaping. Trees are read in order, each one's nodes in pre-order (root
 * first), and the first phrase seen with a token sequence is kept, with its label. A later
 * phrase with the same tokens is dropped even when its label differs; `conflicts` counts those.
 */
export function trainingPhrases(sentences: readonly LabeledSentence[]): PhraseSet {
  const seen = new Map<string, number>();
  const examples: PhraseSet["examples"] = [];
  let tokens = 0, conflicts = 0;
  for (const sentence of sentences) {
    const normalized = sentence.tokens.map(normalizeToken);
    for (const phrase of sentence.phrases) {
      // SST tokens contain no spaces, so the joined words identify the sequence.
      const key = normalized.slice(phrase.start, phrase.end).join(" ");
      const label = seen.get(key);
      if (label !== undefined) {
        if (label !== phrase.label) conflicts++;
        continue;
      }
      seen.set(key, phrase.label);
      examples.push({
        label: phrase.label,
        tokens: sentence.tokens.slice(phrase.start, phrase.end),
      });
      tokens += phrase.end - phrase.start;
    }
  }
  return { examples, tokens, conflicts };
}

/**
 * Build the vocabulary from the training sentences, encode the three splits and build the
 * initial embedding table. With `trainPhrases`, the training examples are the phrases of the
 * training trees, while the vocabulary, dev and test stay the same.
 *
 * @throws {DataError} when the embeddings file is malformed or covers no vocabulary word
 */
export async function prepareData(sst: Sst, options: PrepareOptions): Promise<PreparedData> {
  const vocab = options.vocab ?? buildVocabulary(sst.train, options.vocabSize);
  const sentences = encodeSentences(vocab, sst.train);
  const phrases = options.trainPhrases ? trainingPhrases(sst.train) : undefined;
  const train = phrases === undefined ? sentences : encodeSentences(vocab, phrases.examples);
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
      phrases,
    };
  }

  const pretrained = await readEmbeddings(options.embeddingsPath, vocab);
  const dim = pretrained.dim;
  let covered = 0, total = 0;
  for (const sentence of sentences) {
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
    phrases,
  };
}

/** Return the word ids and label of each sentence or phrase. */
export function encodeSentences(
  vocab: Vocabulary,
  sentences: readonly { label: number; tokens: readonly string[] }[],
): EncodedSentence[] {
  return sentences.map((s) => ({ ids: vocab.encode(s.tokens), label: s.label }));
}
