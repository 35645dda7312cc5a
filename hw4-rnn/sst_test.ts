import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { encodeZip } from "@nn/core";
import { type LabeledSentence, loadSst, parseTree, parseTreeFile, SST_ZIP_NAME } from "./sst.ts";

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("parseTree() reads the root label and the leaves of tricky lines", async (t) => {
  const cases = [
    {
      name: "nested brackets",
      line: "(3 (2 (2 The) (2 Rock)) (4 (3 (2 is) (4 great)) (2 .)))",
      label: 3,
      tokens: ["The", "Rock", "is", "great", "."],
    },
    {
      name: "escaped brackets and clitics",
      line: "(1 (2 (2 -LRB-) (2 it)) (1 (1 (2 does) (1 n't)) (2 -RRB-)))",
      label: 1,
      tokens: ["-LRB-", "it", "does", "n't", "-RRB-"],
    },
    {
      name: "escaped slash and star, accents",
      line: "(4 (2 (2 1\\/2) (2 \\*\\*\\*)) (4 André))",
      label: 4,
      tokens: ["1\\/2", "\\*\\*\\*", "André"],
    },
    {
      name: "one word, extra spaces and a carriage return",
      line: "  (0   (0 awful) )\r",
      label: 0,
      tokens: ["awful"],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const tree = parseTree(c.line);
      assert.equal(tree.label, c.label);
      assert.deepEqual(tree.tokens, c.tokens);
    });
  }
});

Deno.test("parseTree() rejects malformed trees with their column", async (t) => {
  const cases = [
    {
      line: "(3 (2 a)",
      message:
        "1:9: invalid tree: unbalanced brackets: 1 node not closed (the innermost opened at column 1)",
    },
    { line: "(3 (2 a) (2 b)))", message: "1:16: invalid tree: text after the end of the tree" },
    { line: "(3 (2 a)) (2 b)", message: "1:11: invalid tree: text after the end of the tree" },
    { line: "(5 (2 a) (2 b))", message: '1:2: invalid tree: label "5" is not 0-4' },
    { line: "(3 (x a))", message: '1:5: invalid tree: label "x" is not 0-4' },
    { line: "(3 (2 a) ( b))", message: '1:11: invalid tree: missing label after "("' },
    {
      line: "(3 (2 ) (2 b))",
      message: "1:7: invalid tree: the node opened at column 4 has no word and no subtrees",
    },
    {
      line: "(3 (2 a b))",
      message:
        "1:9: invalid tree: the node opened at column 4 has more than one word or a word after subtrees",
    },
    {
      line: "(3 a (2 b))",
      message: "1:6: invalid tree: the node opened at column 1 has both a word and subtrees",
    },
    {
      line: "3 (2 b)",
      message: '1:1: invalid tree: expected "(" to open the tree, found "3 (2 b)"',
    },
    { line: ")", message: '1:1: invalid tree: expected "(" to open the tree, found ")"' },
  ];
  for (const c of cases) {
    await t.step(c.line, () => {
      assert.throws(() => parseTree(c.line, "f.txt", 1), {
        name: "TreeSyntaxError",
        message: `f.txt:${c.message}`,
      });
    });
  }
});

Deno.test("parseTreeFile() names the file and line and skips blank lines", () => {
  const file = "(3 (2 a) (3 b))\n\n(1 (1 c))\n(4 (4 d)\n";
  assert.throws(() => parseTreeFile(file, "dev.txt"), (err: Error) => {
    assert.equal(err.name, "TreeSyntaxError");
    assert.match(err.message, /^dev\.txt:4:9: invalid tree: unbalanced brackets/);
    return true;
  });
  const good = parseTreeFile("(3 (2 a) (3 b))\n\n(1 (1 c))\n", "dev.txt");
  assert.deepEqual(good, [
    {
      label: 3,
      tokens: ["a", "b"],
      phrases: [{ label: 3, start: 0, end: 2 }, { label: 2, start: 0, end: 1 }, {
        label: 3,
        start: 1,
        end: 2,
      }],
    },
    {
      label: 1,
      tokens: ["c"],
      phrases: [{ label: 1, start: 0, end: 1 }, { label: 1, start: 0, end: 1 }],
    },
  ]);
});

/**
 * Return every node of a well-formed tree line in pre-order with its label and words, found by
 * matching brackets in the text: an oracle independent of `parseTree`'s spans.
 */
function nodesByBrackets(line: string): { label: number; words: string[] }[] {
  const nodes: { label: number; words: string[] }[] = [];
  for (let open = line.indexOf("("); open >= 0; open = line.indexOf("(", open + 1)) {
    let depth = 0, close = open;
    for (; close < line.length; close++) {
      if (line[close] === "(") depth++;
      if (line[close] === ")" && --depth === 0) break;
    }
    const inner = line.slice(open + 1, close);
    const label = Number(inner.trimStart()[0]);
    // A word is a run without brackets or spaces that directly follows a label.
    const words = [...inner.matchAll(/\([0-4]\s+([^()\s]+)/g)].map((m) => m[1]);
    const own = /^\s*[0-4]\s+([^()\s]+)/.exec(inner);
    nodes.push({ label, words: own ? [own[1]] : words });
  }
  return nodes;
}

Deno.test("parseTree() records each node's label and leaf span", async (t) => {
  const cases = [
    {
      name: "nested brackets",
      line: "(3 (2 (2 The) (2 Rock)) (4 (3 (2 is) (4 great)) (2 .)))",
      phrases: [
        [3, 0, 5],
        [2, 0, 2],
        [2, 0, 1],
        [2, 1, 2],
        [4, 2, 5],
        [3, 2, 4],
        [2, 2, 3],
        [4, 3, 4],
        [2, 4, 5],
      ],
    },
    {
      name: "left-branching escaped brackets",
      line: "(1 (1 (1 (2 -LRB-) (1 n't)) (2 -RRB-)) (2 .))",
      phrases: [[1, 0, 4], [1, 0, 3], [1, 0, 2], [2, 0, 1], [1, 1, 2], [2, 2, 3], [2, 3, 4]],
    },
    { name: "one word", line: "  (0   (0 awful) )\r", phrases: [[0, 0, 1], [0, 0, 1]] },
    { name: "a bare leaf as the root", line: "(4 great)", phrases: [[4, 0, 1]] },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const tree = parseTree(c.line);
      const expected = c.phrases.map(([label, start, end]) => ({ label, start, end }));
      assert.deepEqual(tree.phrases, expected);
    });
  }
});

Deno.test("parseTree() phrases cover the leaves under their node", async (t) => {
  const lines = [
    "(3 (2 (2 The) (2 Rock)) (4 (3 (2 is) (4 great)) (2 .)))",
    "(1 (2 (2 -LRB-) (2 it)) (1 (1 (2 does) (1 n't)) (2 -RRB-)))",
    "(4 (2 (2 1\\/2) (2 \\*\\*\\*)) (4 André))",
    "(2 (2 (2 (2 a) (2 b)) (2 (2 c) (2 d))) (2 (2 (2 e) (2 f)) (2 g)))",
  ];
  for (const line of lines) {
    await t.step(line, () => {
      const tree = parseTree(line);
      const nodes = nodesByBrackets(line);
      assert.equal(tree.phrases.length, nodes.length);
      assert.equal(tree.phrases.length, 2 * tree.tokens.length - 1, "a binary tree's nodes");
      assert.deepEqual(tree.phrases[0], { label: tree.label, start: 0, end: tree.tokens.length });
      for (const [i, phrase] of tree.phrases.entries()) {
        assert.equal(phrase.label, nodes[i].label, `label of node ${i}`);
        assert.deepEqual(tree.tokens.slice(phrase.start, phrase.end), nodes[i].words, `node ${i}`);
      }
    });
  }
});

const SPLITS = {
  train: "(3 (2 good) (3 film))\n(1 (1 bad) (2 plot))\n",
  dev: "(4 (4 great))\n",
  test: "(0 (0 awful) (2 .))\n(2 (2 fine))\n",
};

function treebankZip(): Uint8Array<ArrayBuffer> {
  return encodeZip([
    { name: "trees/", data: new Uint8Array(0), method: 0 },
    ...Object.entries(SPLITS).map(([split, body]) => ({
      name: `trees/${split}.txt`,
      data: text(body),
      method: 8 as const,
    })),
  ]);
}

function assertSplits(sst: { train: LabeledSentence[]; dev: LabeledSentence[]; test: unknown[] }) {
  const sentence = ({ label, tokens }: LabeledSentence) => ({ label, tokens });
  assert.deepEqual(sst.train.map(sentence), [
    { label: 3, tokens: ["good", "film"] },
    { label: 1, tokens: ["bad", "plot"] },
  ]);
  assert.deepEqual(sst.train[1].phrases, [
    { label: 1, start: 0, end: 2 },
    { label: 1, start: 0, end: 1 },
    { label: 2, start: 1, end: 2 },
  ]);
  assert.deepEqual(sst.dev.map(sentence), [{ label: 4, tokens: ["great"] }]);
  assert.equal(sst.test.length, 2);
}

Deno.test("loadSst() reads a data directory of text, gzip or zip files", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    await t.step("text and gzip files, some in trees/", async () => {
      const folder = join(dir, "mixed");
      await Deno.mkdir(join(folder, "trees"), { recursive: true });
      await Deno.writeTextFile(join(folder, "train.txt"), SPLITS.train);
      await Deno.writeFile(join(folder, "dev.txt.gz"), gzipSync(text(SPLITS.dev)));
      await Deno.writeTextFile(join(folder, "trees", "test.txt"), SPLITS.test);
      const sst = await loadSst({ dataDir: folder });
      assertSplits(sst);
      assert.match(sst.source, /\(train\.txt, dev\.txt\.gz, test\.txt\)$/);
    });
    await t.step("the zip in a folder, and the zip itself", async () => {
      const folder = join(dir, "zipped");
      await Deno.mkdir(folder);
      await Deno.writeFile(join(folder, SST_ZIP_NAME), treebankZip());
      assertSplits(await loadSst({ dataDir: folder }));
      assertSplits(await loadSst({ dataDir: join(folder, SST_ZIP_NAME) }));
    });
    await t.step("a folder without the files", async () => {
      const folder = join(dir, "partial");
      await Deno.mkdir(folder);
      await Deno.writeTextFile(join(folder, "train.txt"), SPLITS.train);
      await assert.rejects(loadSst({ dataDir: folder }), {
        name: "DataError",
        message: new RegExp(`has no dev\\.txt, test\\.txt and no ${SST_ZIP_NAME}`),
      });
    });
    await t.step("a malformed tree inside a gzip file", async () => {
      const folder = join(dir, "bad");
      await Deno.mkdir(folder);
      await Deno.writeTextFile(join(folder, "train.txt"), SPLITS.train);
      await Deno.writeTextFile(join(folder, "dev.txt"), SPLITS.dev);
      await Deno.writeFile(join(folder, "test.txt.gz"), gzipSync(text("(2 (2 ok))\n(7 (2 x))\n")));
      await assert.rejects(loadSst({ dataDir: folder }), {
        name: "TreeSyntaxError",
        message: /test\.txt\.gz:2:2: invalid tree: label "7" is not 0-4$/,
      });
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadSst() downloads the zip once, checks its SHA-256 and caches it", async (t) => {
  const zip = treebankZip();
  const sha256 = createHash("sha256").update(zip).digest("hex");
  let requests = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    requests++;
    const path = new URL(request.url).pathname;
    return path === `/${SST_ZIP_NAME}`
      ? new Response(zip)
      : new Response("not found", { status: 404 });
  });
  const url = `http://127.0.0.1:${server.addr.port}/${SST_ZIP_NAME}`;
  const cacheDir = await Deno.makeTempDir();
  try {
    await t.step("a wrong checksum is rejected and nothing is cached", async () => {
      await assert.rejects(loadSst({ cacheDir, url, sha256: "0".repeat(64) }), {
        name: "DataError",
        message: new RegExp(`SHA-256 mismatch: expected 0{64}, got ${sha256}; not cached$`),
      });
      assert.deepEqual([...Deno.readDirSync(cacheDir)], []);
    });
    await t.step("the first load downloads and caches", async () => {
      const messages: string[] = [];
      const sst = await loadSst({ cacheDir, url, sha256, onProgress: (m) => messages.push(m) });
      assertSplits(sst);
      assert.deepEqual(messages, [`Downloading ${url}`]);
      assert.deepEqual(await Deno.readFile(join(cacheDir, SST_ZIP_NAME)), zip);
    });
    await t.step("the next load reads the cache only", async () => {
      const before = requests;
      const sst = await loadSst({ cacheDir, url, sha256, allowDownload: false });
      assertSplits(sst);
      assert.equal(requests, before);
      assert.equal(sst.source, `cache ${join(cacheDir, SST_ZIP_NAME)}`);
    });
    await t.step("an HTTP error names the URL", async () => {
      const missing = url.replace(SST_ZIP_NAME, "missing.zip");
      await assert.rejects(loadSst({ cacheDir: join(cacheDir, "other"), url: missing, sha256 }), {
        name: "DataError",
        message: new RegExp(`Download of ${missing} failed: HTTP 404`),
      });
    });
  } finally {
    await server.shutdown();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

const SHARED_SST = "/work/shared/data/sst";
const hasSharedSst = (() => {
  try {
    return Deno.statSync(SHARED_SST).isDirectory;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "loadSst() reads the standard splits of the real treebank",
  ignore: !hasSharedSst,
  fn: async () => {
    const sst = await loadSst({ dataDir: join(SHARED_SST, SST_ZIP_NAME) });
    assert.deepEqual([sst.train.length, sst.dev.length, sst.test.length], [8544, 1101, 2210]);
    const counts = [0, 0, 0, 0, 0];
    for (const s of sst.train) counts[s.label]++;
    assert.deepEqual(counts, [1092, 2218, 1624, 2322, 1288]);
    const nodes = sst.train.reduce((sum, s) => sum + s.phrases.length, 0);
    const leaves = sst.train.reduce((sum, s) => sum + s.tokens.length, 0);
    assert.equal(nodes, 2 * leaves - sst.train.length, "every tree is binary");
  },
});
