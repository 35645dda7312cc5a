import assert from "node:assert/strict";
import { type Backend, createTsBackend, Rng, type Tensor } from "@nn/core";
import {
  assertClose,
  finiteDifferenceCheck,
  forEachBackend,
  type GoldenCase,
  goldenTensor,
  loadGolden,
  tensorFrom,
} from "@nn/core/testing";
import { BasicRnn } from "./basic_rnn.ts";
import { createRecurrentLayer } from "./encoder.ts";
import { Gru } from "./gru.ts";
import { Lstm } from "./lstm.ts";
import { type CellName, CELLS, type RecurrentLayer } from "./recurrent.ts";

const golden = await loadGolden(new URL("./testdata/rnn_cells.json", import.meta.url));

/** Build the layer of a golden case and load its weights. */
function goldenLayer(backend: Backend, c: GoldenCase): RecurrentLayer {
  const [, d] = c.inputs.x.shape;
  const [, h] = c.inputs.h.shape;
  const rng = new Rng(0);
  const copy = (target: Tensor, name: string) =>
    target.copyFrom(goldenTensor(backend, c, "inputs", name));
  switch (c.attrs.cell) {
    case "basic_rnn": {
      const layer = new BasicRnn(backend, d, h, { rng });
      copy(layer.W.value, "W");
      copy(layer.b.value, "b");
      return layer;
    }
    case "gru": {
      const layer = new Gru(backend, d, h, { rng });
      copy(layer.Wg.value, "Wg");
      copy(layer.bg.value, "bg");
      copy(layer.Wc.value, "Wc");
      copy(layer.bc.value, "bc");
      return layer;
    }
    case "lstm": {
      const layer = new Lstm(backend, d, h, { rng });
      assert.equal(c.attrs.gate_order, "i, j, f, o");
      assert.equal(c.attrs.forget_bias, layer.forgetBias);
      copy(layer.W.value, "W");
      copy(layer.b.value, "b");
      return layer;
    }
  }
  throw new Error(`unknown cell ${c.attrs.cell}`);
}

Deno.test("recurrent cells match the golden values and every gradient", async (t) => {
  await forEachBackend(t, async (backend, t) => {
    for (const c of golden.cases) {
      await t.step(c.name, () => {
        const layer = goldenLayer(backend, c);
        const [n, d] = c.inputs.x.shape;
        // One step of a batch whose sentences all have length 1: x [1, N, D].
        const x = goldenTensor(backend, c, "inputs", "x").reshape([1, n, d]);
        const lengths = new Int32Array(n).fill(1);
        const initial = {
          h: goldenTensor(backend, c, "inputs", "h"),
          c: c.inputs.c ? goldenTensor(backend, c, "inputs", "c") : undefined,
        };
        const result = layer.forward(x, lengths, initial);
        assertClose(result.final.h, c.outputs.h_next, c.tolerance, `${c.name} h_next`);
        assertClose(result.outputs.data, c.outputs.h_next.data, c.tolerance, `${c.name} outputs`);
        if (c.outputs.c_next) {
          assert.ok(result.final.c !== undefined);
          assertClose(result.final.c, c.outputs.c_next, c.tolerance, `${c.name} c_next`);
        }

        const grads = layer.backward(null, {
          h: goldenTensor(backend, c, "inputs", "dh_next"),
          c: c.inputs.dc_next ? goldenTensor(backend, c, "inputs", "dc_next") : null,
        });
        assertClose(grads.dX.data, c.grads.dx.data, c.tolerance, `${c.name} dx`);
        assertClose(grads.dInitial.h, c.grads.dh, c.tolerance, `${c.name} dh`);
        if (c.grads.dc) {
          assert.ok(grads.dInitial.c !== undefined);
          assertClose(grads.dInitial.c, c.grads.dc, c.tolerance, `${c.name} dc`);
        }
        for (const param of layer.params()) {
          const key = `d${param.name.split(".").pop()}`;
          assert.ok(c.grads[key], `golden case has no ${key}`);
          assertClose(param.grad, c.grads[key], c.tolerance, `${c.name} ${key}`);
        }
      });
    }
  });
});

/** Random inputs of a batch `[T, N, D]` with lengths sorted as packBatch sorts them. */
function randomBatch(backend: Backend, rng: Rng, lengths: number[], d: number) {
  const steps = Math.max(...lengths), n = lengths.length;
  const x = tensorFrom(backend, [steps, n, d], rng.fillNormal(new Float32Array(steps * n * d), 1));
  return { x, lengths: Int32Array.from(lengths), steps, n };
}

Deno.test("back-propagation through time matches finite differences", async (t) => {
  await forEachBackend(t, async (backend, t) => {
    for (const cell of CELLS) {
      await t.step(cell, () => {
        const rng = new Rng(11);
        const D = 3, H = 4;
        const layer = createRecurrentLayer(backend, cell, D, H, { rng, name: cell });
        const { x, lengths, steps, n } = randomBatch(backend, rng, [4, 3, 1], D);
        const h0 = tensorFrom(backend, [n, H], rng.fillNormal(new Float32Array(n * H), 0.5));
        const c0 = tensorFrom(backend, [n, H], rng.fillNormal(new Float32Array(n * H), 0.5));
        // f = Σ outputs ⊙ dOut + Σ h_final ⊙ dh + Σ c_final ⊙ dc, whose gradients backward
        // computes from those upstream values.
        const dOut = rng.fillNormal(new Float32Array(steps * n * H), 1);
        const dh = rng.fillNormal(new Float32Array(n * H), 1);
        const dc = rng.fillNormal(new Float32Array(n * H), 1);
        const initial = { h: h0, c: cell === "lstm" ? c0 : undefined };
        const f = () => {
          const r = layer.forward(x, lengths, initial);
          let sum = 0;
          for (let i = 0; i < r.outputs.size; i++) sum += r.outputs.data[i] * dOut[i];
          for (let i = 0; i < n * H; i++) sum += r.final.h.data[i] * dh[i];
          if (r.final.c) { for (let i = 0; i < n * H; i++) sum += r.final.c.data[i] * dc[i]; }
          return sum;
        };
        f();
        const grads = layer.backward(tensorFrom(backend, [steps, n, H], dOut), {
          h: tensorFrom(backend, [n, H], dh),
          c: cell === "lstm" ? tensorFrom(backend, [n, H], dc) : null,
        });
        const targets = [
          { name: "x", values: x.data, grad: grads.dX.data },
          { name: "h0", values: h0.data, grad: grads.dInitial.h.data },
          ...layer.params().map((p) => ({ name: p.name, values: p.value.data, grad: p.grad.data })),
        ];
        if (cell === "lstm") {
          targets.push({ name: "c0", values: c0.data, grad: grads.dInitial.c!.data });
        }
        finiteDifferenceCheck(f, targets, { label: `${cell} BPTT on ${backend.name}` });
      });
    }
  });
});

/** Outputs and gradients of one forward and backward pass, copied out of the layer. */
interface PassResult {
  outputs: Float32Array;
  finalH: Float32Array;
  dX: Float32Array;
  grads: Float32Array[];
}

function runPass(
  layer: RecurrentLayer,
  backend: Backend,
  x: Tensor,
  lengths: Int32Array,
  dOut: Float32Array,
  dFinal: Float32Array,
): PassResult {
  const r = layer.forward(x, lengths);
  const outputs = r.outputs.data.slice(), finalH = r.final.h.data.slice();
  const [steps, n] = x.shape;
  const H = layer.hiddenSize;
  const g = layer.backward(tensorFrom(backend, [steps, n, H], dOut), {
    h: tensorFrom(backend, [n, H], dFinal),
  });
  return {
    outputs,
    finalH,
    dX: g.dX.data.slice(),
    grads: layer.params().map((p) => p.grad.data.slice()),
  };
}

Deno.test("padded batches give the outputs and gradients of each sentence alone", async (t) => {
  const backend = createTsBackend();
  for (const cell of CELLS) {
    await t.step(cell, () => {
      const rng = new Rng(3);
      const D = 3, H = 5;
      const layer = createRecurrentLayer(backend, cell, D, H, { rng });
      const lengths = [5, 3, 3, 1];
      const { x, steps, n } = randomBatch(backend, rng, lengths, D);
      // Upstream gradients at padded positions are garbage that must be ignored.
      const dOut = rng.fillNormal(new Float32Array(steps * n * H), 1);
      const dFinal = rng.fillNormal(new Float32Array(n * H), 1);
      const batch = runPass(layer, backend, x, Int32Array.from(lengths), dOut, dFinal);

      const summed = batch.grads.map((g) => new Float64Array(g.length));
      for (let row = 0; row < n; row++) {
        const length = lengths[row];
        // The sentence alone: its own steps, N = 1.
        const pick = (src: Float32Array, width: number, count: number) => {
          const out = new Float32Array(count * width);
          for (let t = 0; t < count; t++) {
            out.set(src.subarray((t * n + row) * width, (t * n + row + 1) * width), t * width);
          }
          return out;
        };
        const alone = runPass(
          layer,
          backend,
          tensorFrom(backend, [length, 1, D], pick(x.data, D, length)),
          Int32Array.of(length),
          pick(dOut, H, length),
          dFinal.subarray(row * H, (row + 1) * H),
        );
        const tol = { atol: 1e-6, rtol: 1e-5 };
        assertClose(pick(batch.outputs, H, length), alone.outputs, tol, `${cell} row ${row} h`);
        assertClose(batch.finalH.subarray(row * H, (row + 1) * H), alone.finalH, tol, "final");
        assertClose(pick(batch.dX, D, length), alone.dX, tol, `${cell} row ${row} dX`);
        // Padded positions: zero outputs and zero input gradients.
        for (let t = length; t < steps; t++) {
          assert.deepEqual(
            pick(batch.outputs, H, steps).subarray(t * H, (t + 1) * H),
            new Float32Array(H),
          );
          assert.deepEqual(
            pick(batch.dX, D, steps).subarray(t * D, (t + 1) * D),
            new Float32Array(D),
          );
        }
        alone.grads.forEach((g, i) => g.forEach((v, j) => summed[i][j] += v));
      }
      // The batch's parameter gradients are the sums of the sentences' gradients.
      for (const [i, param] of layer.params().entries()) {
        assertClose(batch.grads[i], summed[i], { atol: 1e-5, rtol: 1e-4 }, `${cell} ${param.name}`);
      }
    });
  }
});

Deno.test("recurrent layers reject unsorted lengths and wrong shapes", async (t) => {
  const backend = createTsBackend();
  const layer = new Lstm(backend, 3, 4, { rng: new Rng(0), name: "enc" });
  const cases = [
    {
      name: "increasing lengths",
      run: () => layer.forward(backend.zeros([4, 2, 3]), Int32Array.of(2, 4)),
      error: { name: "RangeError", message: /lengths must not increase, but row 1 has 4 after 2/ },
    },
    {
      name: "length beyond T",
      run: () => layer.forward(backend.zeros([4, 2, 3]), Int32Array.of(5, 1)),
      error: { name: "RangeError", message: /length 5 of row 0 is outside \[1, T = 4\]/ },
    },
    {
      name: "zero length",
      run: () => layer.forward(backend.zeros([4, 2, 3]), Int32Array.of(4, 0)),
      error: { name: "RangeError", message: /length 0 of row 1 is outside/ },
    },
    {
      name: "wrong feature count",
      run: () => layer.forward(backend.zeros([4, 2, 5]), Int32Array.of(4, 1)),
      error: {
        name: "TypeError",
        message: "Lstm(3, 4) enc: forward x has shape [4, 2, 5], expected [T, N, 3]",
      },
    },
    {
      name: "backward before forward",
      run: () => new Gru(backend, 3, 4, { rng: new Rng(0) }).backward(null, {}),
      error: { name: "Error", message: /backward called before forward/ },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.throws(c.run, c.error);
    });
  }
});

Deno.test("cells initialize their biases as TensorFlow does", () => {
  const backend = createTsBackend();
  const gru = new Gru(backend, 2, 3, { rng: new Rng(0) });
  assert.deepEqual([...gru.bg.value.data], [1, 1, 1, 1, 1, 1]);
  assert.deepEqual([...gru.bc.value.data], [0, 0, 0]);
  const lstm = new Lstm(backend, 2, 3, { rng: new Rng(0), name: "l" });
  assert.deepEqual([...lstm.b.value.data], new Array(12).fill(0));
  assert.deepEqual(lstm.params().map((p) => [p.name, p.value.shape]), [
    ["l.W", [5, 12]],
    ["l.b", [12]],
  ]);
  // Glorot uniform: |w| <= √(6 / (fanIn + fanOut)) = √(6 / 17).
  const limit = Math.sqrt(6 / 17);
  assert.ok(lstm.W.value.data.every((w) => Math.abs(w) <= limit));
  const cellNames: CellName[] = [...CELLS];
  assert.deepEqual(cellNames, ["rnn", "gru", "lstm"]);
});
