import assert from "node:assert/strict";
import type { Backend } from "../backend/backend.ts";
import { createTsBackend } from "../backend/ts.ts";
import type { Layer, Param } from "../layer.ts";
import { Rng } from "../random.ts";
import type { Tensor } from "../tensor.ts";
import { finiteDifferenceCheck, forEachBackend, tensorFrom } from "../testing.ts";
import { Relu, Sigmoid } from "./activations.ts";
import { Linear } from "./linear.ts";
import { SoftmaxCrossEntropyLoss } from "./losses.ts";
import { countParameters, Sequential } from "./sequential.ts";

/** Build Linear(3, 4) → Sigmoid → Linear(4, 2) with weights of standard deviation 1. */
function smallNetwork(backend: Backend, rng: Rng): Sequential {
  return new Sequential([
    new Linear(backend, 3, 4, { initStd: 1, rng, name: "fc1" }),
    new Sigmoid(backend),
    new Linear(backend, 4, 2, { initStd: 1, rng, name: "fc2" }),
  ]);
}

/** A layer that records the needInputGrad flag of each backward call. */
class RecordingLayer implements Layer {
  readonly flags: boolean[] = [];
  constructor(readonly name: string) {}
  forward(x: Tensor): Tensor {
    return x;
  }
  backward(dY: Tensor, needInputGrad = true): Tensor | null {
    this.flags.push(needInputGrad);
    return needInputGrad ? dY : null;
  }
  params(): Param[] {
    return [];
  }
}

Deno.test("Sequential gradients match finite differences through a loss", async (t) => {
  await forEachBackend(t, (backend) => {
    const rng = new Rng(21);
    const net = smallNetwork(backend, rng);
    const loss = new SoftmaxCrossEntropyLoss(backend);
    const x = tensorFrom(backend, [5, 3], rng.fillNormal(new Float32Array(15), 1));
    const target = backend.zeros([5, 2]);
    for (let i = 0; i < 5; i++) target.data[i * 2 + (i % 2)] = 1;

    const f = () => loss.forward(net.forward(x, true), target);
    f();
    const dX = net.backward(loss.backward(), true);
    assert.ok(dX !== null);
    assert.deepEqual(dX.shape, [5, 3]);

    finiteDifferenceCheck(f, [
      { name: "x", values: x.data, grad: dX.data },
      ...net.params().map((p) => ({ name: p.name, values: p.value.data, grad: p.grad.data })),
    ], { label: `Sequential on ${backend.name}` });
  });
});

Deno.test("Sequential.backward() passes needInputGrad only to the first layer", async (t) => {
  const cases = [
    { name: "default", flag: undefined, first: false, returnsNull: true },
    { name: "needInputGrad true", flag: true, first: true, returnsNull: false },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const layers = [new RecordingLayer("a"), new RecordingLayer("b"), new RecordingLayer("c")];
      const net = new Sequential(layers);
      const x = createTsBackend().zeros([1, 1]);
      net.forward(x, true);
      const dX = net.backward(x, c.flag);
      assert.equal(dX === null, c.returnsNull);
      assert.deepEqual(layers.map((l) => l.flags), [[c.first], [true], [true]]);
    });
  }
});

Deno.test("Sequential.params() concatenates layer parameters in order", () => {
  const backend = createTsBackend();
  const net = new Sequential([
    new Linear(backend, 784, 512, { initStd: 0.01, rng: new Rng(1), name: "fc1" }),
    new Relu(backend),
    new Linear(backend, 512, 10, { initStd: 0.01, rng: new Rng(2), name: "fc2" }),
  ]);
  assert.deepEqual(net.params().map((p) => p.name), ["fc1.W", "fc1.b", "fc2.W", "fc2.b"]);
  // 784·512 + 512 + 512·10 + 10.
  assert.equal(countParameters(net.params()), 407_050);
});

Deno.test("Sequential.forward() reports the layer whose input shape is wrong", () => {
  const backend = createTsBackend();
  const rng = new Rng(0);
  const net = new Sequential([
    new Linear(backend, 4, 8, { initStd: 1, rng, name: "fc1" }),
    new Linear(backend, 7, 2, { initStd: 1, rng, name: "fc2" }),
  ]);
  assert.throws(() => net.forward(backend.zeros([3, 4]), true), {
    name: "TypeError",
    message: /^Linear\(7, 2\) fc2: forward x has shape \[3, ?8\], expected \[\*, 7\]$/,
  });
});

Deno.test("Sequential rejects invalid layer lists with RangeError", async (t) => {
  const backend = createTsBackend();
  const rng = new Rng(0);
  const cases = [
    { name: "no layers", layers: [], message: /expected at least one layer/ },
    {
      name: "two layers with the default name",
      layers: [
        new Linear(backend, 2, 2, { initStd: 1, rng }),
        new Linear(backend, 2, 2, { initStd: 1, rng }),
      ],
      message: /layers 0 and 1 both have a parameter named linear.W/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.throws(() => new Sequential(c.layers), { name: "RangeError", message: c.message });
    });
  }
});
