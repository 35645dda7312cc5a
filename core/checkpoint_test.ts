import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CHECKPOINT_MAGIC,
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
  restoreParams,
  restoreState,
  saveCheckpoint,
} from "./checkpoint.ts";
import { Param } from "./layer.ts";
import { Tensor } from "./tensor.ts";

function param(name: string, shape: number[], fill: (i: number) => number): Param {
  const value = new Tensor(shape);
  for (let i = 0; i < value.size; i++) value.data[i] = fill(i);
  return new Param(name, value, new Tensor(shape));
}

/** Return a small network's parameters: lstm.W [3, 8], lstm.b [8], fc.W [2, 5]. */
function network(scale = 1): Param[] {
  return [
    param("lstm.W", [3, 8], (i) => scale * (i - 7.5)),
    param("lstm.b", [8], (i) => scale * i * 0.25),
    param("fc.W", [2, 5], (i) => scale * Math.sin(i)),
  ];
}

Deno.test("saveCheckpoint() and loadCheckpoint() round-trip params, state and meta", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const saved = network();
    const velocity = Tensor.from([2, 2], [0.5, -1, 1e-30, 3.25]);
    const path = join(dir, "sub", "last.ckpt");
    const meta = { epoch: 3, cell: "lstm", vocab: ["_PAD", "_UNK", "the"], history: [{ a: 1 }] };
    await saveCheckpoint(path, { params: saved, state: { "velocity/fc.W": velocity }, meta });

    const bytes = await Deno.readFile(path);
    assert.equal(new TextDecoder().decode(bytes.subarray(0, 8)), CHECKPOINT_MAGIC);
    const entries = [...Deno.readDirSync(join(dir, "sub"))].map((e) => e.name);
    assert.deepEqual(entries, ["last.ckpt"], "a temporary file was left behind");

    const checkpoint = await loadCheckpoint(path);
    assert.deepEqual(checkpoint.meta, meta);
    assert.deepEqual([...checkpoint.params.keys()], ["lstm.W", "lstm.b", "fc.W"]);
    assert.deepEqual(checkpoint.state.get("velocity/fc.W")?.shape, [2, 2]);
    assert.deepEqual(checkpoint.state.get("velocity/fc.W")?.data, velocity.data);

    const restored = network(0);
    restoreParams(checkpoint, restored);
    for (const [i, p] of restored.entries()) {
      assert.deepEqual(p.value.data, saved[i].value.data, p.name);
    }
    const into = new Tensor([2, 2]);
    restoreState(checkpoint, { "velocity/fc.W": into });
    assert.deepEqual(into.data, velocity.data);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("decodeCheckpoint() rejects truncated and damaged files", async (t) => {
  const good = encodeCheckpoint({ params: network(), meta: { epoch: 1 } });
  const cases: { name: string; bytes: Uint8Array; message: RegExp }[] = [
    {
      name: "cut inside the data",
      bytes: good.subarray(0, good.length - 7),
      message: /^Invalid checkpoint a\.ckpt: truncated: \d+ bytes, expected \d+$/,
    },
    {
      name: "cut inside the header",
      bytes: good.subarray(0, 40),
      message: /^Invalid checkpoint a\.ckpt: truncated: the header needs bytes 12\.\.\d+/,
    },
    {
      name: "shorter than the prefix",
      bytes: good.subarray(0, 5),
      message: /fewer than the 12-byte prefix/,
    },
    {
      name: "not a checkpoint",
      bytes: new TextEncoder().encode("(3 (2 It) (4 works))\n"),
      message: /^Invalid checkpoint a\.ckpt: it starts with "\(3 \(2 It", expected NNCKPT01$/,
    },
    {
      name: "a flipped data byte",
      bytes: (() => {
        const bad = good.slice();
        bad[bad.length - 3] ^= 1;
        return bad;
      })(),
      message: /SHA-256 of the data is [0-9a-f]{64}, expected [0-9a-f]{64} \(damaged file\?\)$/,
    },
    {
      name: "bytes appended",
      bytes: Uint8Array.from([...good, 0, 0, 0, 0]),
      message: /4 unexpected bytes after the data$/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.throws(() => decodeCheckpoint(c.bytes, "a.ckpt"), {
        name: "CheckpointError",
        message: c.message,
      });
    });
  }
});

Deno.test("restoreParams() names missing, unexpected and mismatched parameters", async (t) => {
  const checkpoint = decodeCheckpoint(encodeCheckpoint({ params: network() }), "a.ckpt");
  const cases: { name: string; params: Param[]; message: RegExp }[] = [
    {
      name: "a parameter the file lacks",
      params: [...network(), param("fc.b", [5], () => 0)],
      message: /does not fit the network: missing parameters fc\.b$/,
    },
    {
      name: "a parameter the network lacks",
      params: network().slice(0, 2),
      message: /does not fit the network: unexpected parameters fc\.W$/,
    },
    {
      name: "another hidden size",
      params: [
        param("lstm.W", [3, 16], () => 0),
        param("lstm.b", [16], () => 0),
        param("fc.W", [2, 5], () => 0),
      ],
      message: new RegExp(
        "shape mismatch: lstm\\.W is \\[3, 8\\] in the file but \\[3, 16\\] in the network; " +
          "lstm\\.b is \\[8\\] in the file but \\[16\\] in the network$",
      ),
    },
    {
      name: "renamed parameters",
      params: [param("gru.W", [3, 8], () => 0), ...network().slice(1)],
      message: /missing parameters gru\.W; unexpected parameters lstm\.W$/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const before = c.params.map((p) => p.value.data.slice());
      assert.throws(() => restoreParams(checkpoint, c.params), {
        name: "CheckpointError",
        message: c.message,
      });
      // A failed restore copies nothing.
      for (const [i, p] of c.params.entries()) assert.deepEqual(p.value.data, before[i]);
    });
  }
});

Deno.test("loadCheckpoint() rejects a missing file in one line", async () => {
  await assert.rejects(loadCheckpoint("/nonexistent/dir/x.ckpt"), {
    name: "CheckpointError",
    message: "Checkpoint /nonexistent/dir/x.ckpt not found",
  });
});

Deno.test("loadCheckpoint() rejects a folder in one line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(loadCheckpoint(dir), {
      name: "CheckpointError",
      message: `Checkpoint ${dir} is a folder, expected a checkpoint file such as ${dir}/best.ckpt`,
    });
  } finally {
    await Deno.remove(dir);
  }
});

Deno.test("encodeCheckpoint() rejects duplicate names and non-JSON metadata", async (t) => {
  await t.step("duplicate parameter names", () => {
    const params = [param("fc.W", [1], () => 0), param("fc.W", [1], () => 0)];
    assert.throws(() => encodeCheckpoint({ params }), {
      name: "RangeError",
      message: "Cannot save checkpoint: two params tensors are named fc.W",
    });
  });
  await t.step("NaN in the metadata", () => {
    assert.throws(() => encodeCheckpoint({ params: [], meta: { history: [{ loss: NaN }] } }), {
      name: "TypeError",
      message: "Cannot save checkpoint: meta.history[0].loss is NaN, which JSON cannot store",
    });
  });
});
