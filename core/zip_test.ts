import assert from "node:assert/strict";
import { crc32, encodeZip, listZipEntries, readZip, readZipEntry } from "./zip.ts";

const text = (s: string) => new TextEncoder().encode(s);
const TREES = text("(3 (2 It) (4 (4 (2 's) (4 great)) (2 .)))\n".repeat(50));

Deno.test("crc32() matches the standard check value", () => {
  // The CRC-32 check value of the ASCII digits 1 to 9.
  assert.equal(crc32(text("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});

Deno.test("readZip() reads stored and deflated members and skips folders", () => {
  const zip = encodeZip([
    { name: "trees/", data: new Uint8Array(0), method: 0 },
    { name: "trees/train.txt", data: TREES, method: 8 },
    { name: "trees/dev.txt", data: text("(1 (1 bad))\n"), method: 0 },
  ], "archive comment");
  const entries = listZipEntries(zip, "a.zip");
  assert.deepEqual(entries.map((e) => e.name), ["trees/", "trees/train.txt", "trees/dev.txt"]);
  assert.equal(entries[1].method, 8);
  assert.ok(entries[1].compressedSize < TREES.length, "deflate did not shrink the text");

  const files = readZip(zip, "a.zip");
  assert.deepEqual([...files.keys()], ["trees/train.txt", "trees/dev.txt"]);
  assert.deepEqual(files.get("trees/train.txt"), TREES);
  assert.equal(new TextDecoder().decode(files.get("trees/dev.txt")), "(1 (1 bad))\n");
});

Deno.test("readZip() rejects damaged archives naming the file", async (t) => {
  const good = encodeZip([{ name: "trees/train.txt", data: TREES, method: 8 }]);
  const bodyStart = 30 + "trees/train.txt".length;
  const cases: { name: string; bytes: () => Uint8Array; message: RegExp }[] = [
    {
      name: "not a zip file",
      bytes: () => TREES,
      message: /^a\.zip: invalid ZIP archive: no end-of-central-directory record/,
    },
    {
      name: "truncated before the end record",
      bytes: () => good.subarray(0, good.length - 30),
      message: /^a\.zip: invalid ZIP archive: no end-of-central-directory record.*truncated/,
    },
    {
      name: "corrupt deflate data",
      bytes: () => {
        const bad = good.slice();
        bad.fill(0xff, bodyStart, bodyStart + 8);
        return bad;
      },
      message:
        /^a\.zip: member trees\/train\.txt: (corrupt deflate data|CRC-32 mismatch|\d+ bytes)/,
    },
    {
      name: "CRC mismatch",
      bytes: () => {
        const bad = good.slice();
        // The CRC field of the central directory entry, 16 bytes into it.
        const central = good.length - 22 - (46 + "trees/train.txt".length);
        bad[central + 16] ^= 0xff;
        return bad;
      },
      message: /^a\.zip: member trees\/train\.txt: CRC-32 mismatch: expected 0x[0-9a-f]{8}/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.throws(() => readZip(c.bytes(), "a.zip"), { name: "DataError", message: c.message });
    });
  }
});

Deno.test("readZipEntry() rejects an unsupported compression method", () => {
  const zip = encodeZip([{ name: "x.txt", data: text("abc"), method: 0 }]);
  const [entry] = listZipEntries(zip, "b.zip");
  assert.throws(() => readZipEntry(zip, { ...entry, method: 12 }, "b.zip"), {
    name: "DataError",
    message: /^b\.zip: member x\.txt: compression method 12 is not supported/,
  });
});
