import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { encodeZip } from "@nn/core";
import { loadSst, parseTree, parseTreeFile, SST_ZIP_NAME } from "./sst.ts";

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
  assert.deepEqual(good, [{ label: 3, tokens: ["a", "b"] }, { label: 1, tokens: ["c"] }]);
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

function assertSplits(sst: { train: unknown[]; dev: unknown[]; test: unknown[] }) {
  assert.deepEqual(sst.train, [
    { label: 3, tokens: ["good", "film"] },
    { label: 1, tokens: ["bad", "plot"] },
  ]);
  assert.deepEqual(sst.dev, [{ label: 4, tokens: ["great"] }]);
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
  },
});
