import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { join } from "node:path";
import { prepareOutputFolder, writeFileAtomic } from "./io.ts";

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

Deno.test("writeFileAtomic() writes text and bytes", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    await t.step("text is written as UTF-8", async () => {
      const path = join(dir, "note.txt");
      await writeFileAtomic(path, "loss 0.25 — epoch 3\n");
      equal(await Deno.readTextFile(path), "loss 0.25 — epoch 3\n");
    });

    await t.step("bytes are written unchanged", async () => {
      const path = join(dir, "blob.bin");
      const bytes = new Uint8Array([0, 1, 2, 250, 255]);
      await writeFileAtomic(path, bytes);
      deepEqual(await Deno.readFile(path), bytes);
    });

    await t.step("an empty string gives an empty file", async () => {
      const path = join(dir, "empty.txt");
      await writeFileAtomic(path, "");
      equal((await Deno.stat(path)).size, 0);
    });

    await t.step("a large buffer is written completely", async () => {
      const path = join(dir, "large.bin");
      const bytes = new Uint8Array(3_000_000).map((_, i) => i % 251);
      await writeFileAtomic(path, bytes);
      deepEqual(await Deno.readFile(path), bytes);
    });

    deepEqual(await listDir(dir), ["blob.bin", "empty.txt", "large.bin", "note.txt"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic() replaces an existing file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "log.csv");
    await Deno.writeTextFile(path, "old content that is longer than the new one\n");
    await writeFileAtomic(path, "new\n");
    equal(await Deno.readTextFile(path), "new\n");
    deepEqual(await listDir(dir), ["log.csv"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic() creates missing parent directories", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "reports", "hw1", "run-1", "log.csv");
    await writeFileAtomic(path, "epoch,loss\n");
    equal(await Deno.readTextFile(path), "epoch,loss\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic() cleans up after a failed rename", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Renaming a file over a non-empty directory fails after the temporary file is written.
    const target = join(dir, "taken");
    await Deno.mkdir(target);
    await Deno.writeTextFile(join(target, "keep.txt"), "keep");

    await rejects(() => writeFileAtomic(target, "data"));
    deepEqual(await listDir(dir), ["taken"]);
    equal(await Deno.readTextFile(join(target, "keep.txt")), "keep");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic() rejects a file as parent", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "file"), "x");
    await rejects(() => writeFileAtomic(join(dir, "file", "child.txt"), "data"));
    deepEqual(await listDir(dir), ["file"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic() keeps concurrent writes whole", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "race.txt");
    const versions = Array.from({ length: 8 }, (_, i) => `${i}`.repeat(100_000 + i));
    await Promise.all(versions.map((text) => writeFileAtomic(path, text)));

    const text = await Deno.readTextFile(path);
    ok(versions.includes(text), `file holds a mix of versions (${text.length} chars)`);
    deepEqual(await listDir(dir), ["race.txt"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("prepareOutputFolder() creates or rejects", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fresh = join(dir, "a", "b");
    await prepareOutputFolder(fresh, "--out");
    ok((await Deno.stat(fresh)).isDirectory);
    deepEqual(await listDir(fresh), [], "the write probe is removed");

    const file = join(dir, "file.txt");
    await Deno.writeTextFile(file, "x");
    await rejects(
      () => prepareOutputFolder(file, "--out"),
      /^UserError: Invalid --out .*file\.txt: it is a file, not a folder$/,
    );
    await rejects(
      () => prepareOutputFolder(join(file, "below"), "--logs"),
      /^UserError: Cannot write to --logs .*file\.txt\/below: /,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
