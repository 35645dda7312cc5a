import assert from "node:assert/strict";
import { BatchNorm2d, type Conv2D, createTsBackend, Dropout, type Linear, Rng } from "@nn/core";
import { defaultConfig } from "./config.ts";
import { buildModel, cnnSizes, describeModel, layerChain, modelState } from "./model.ts";

Deno.test("buildModel() builds the course's layer order", async (t) => {
  const backend = createTsBackend();
  const cases = [
    {
      name: "MLP with batch norm",
      spec: { ...defaultConfig("mlp"), hidden: 16 },
      layers: ["flatten", "fc1", "bn1", "relu1", "drop1", "fc2"],
      state: ["bn1.running_mean", "bn1.running_var"],
    },
    {
      name: "MLP without batch norm",
      spec: { ...defaultConfig("mlp"), hidden: 16, batchNorm: false },
      layers: ["flatten", "fc1", "relu1", "drop1", "fc2"],
      state: [],
    },
    {
      name: "CNN with batch norm",
      spec: { ...defaultConfig("cnn"), channels: [2, 3] as [number, number] },
      layers: [
        "conv1",
        "bn1",
        "relu1",
        "drop1",
        "pool1",
        "conv2",
        "bn2",
        "relu2",
        "drop2",
        "pool2",
        "flatten",
        "fc",
      ],
      state: ["bn1.running_mean", "bn1.running_var", "bn2.running_mean", "bn2.running_var"],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const model = buildModel(backend, c.spec, new Rng(1));
      assert.deepEqual(model.layers.map((layer) => layer.name), c.layers);
      assert.deepEqual(Object.keys(modelState(model)), c.state);
      const y = model.forward(backend.zeros([3, 1, 28, 28]), true);
      assert.deepEqual(y.shape, [3, 10]);
      for (const layer of model.layers) {
        if (layer instanceof Dropout) assert.equal(layer.rate, c.spec.dropRate);
      }
    });
  }
});

Deno.test("cnnSizes() follows padding and kernel size", () => {
  assert.deepEqual(cnnSizes({ kernelSize: 3, padding: "same" }), [28, 14, 14, 7]);
  assert.deepEqual(cnnSizes({ kernelSize: 5, padding: "valid" }), [24, 12, 8, 4]);
  assert.deepEqual(cnnSizes({ kernelSize: 3, padding: "valid" }), [26, 13, 11, 5]);
  assert.throws(
    () =>
      buildModel(
        createTsBackend(),
        { ...defaultConfig("cnn"), kernelSize: 13, padding: "valid" },
        new Rng(1),
      ),
    /kernel size 13 with valid padding leaves no pixel after pool2/,
  );
});

Deno.test("buildModel() gives valid 5×5 convolutions no padding", () => {
  const backend = createTsBackend();
  const model = buildModel(backend, {
    ...defaultConfig("cnn"),
    channels: [2, 3],
    kernelSize: 5,
    padding: "valid",
  }, new Rng(1));
  assert.equal((model.layers[0] as Conv2D).geometry.pad, 0);
  assert.deepEqual(model.forward(backend.zeros([2, 1, 28, 28]), false).shape, [2, 10]);
  assert.equal((model.layers.at(-1) as Linear).inFeatures, 3 * 4 * 4);
});

Deno.test("buildModel() pads 5×5 convolutions to keep the size", () => {
  const backend = createTsBackend();
  const model = buildModel(backend, {
    ...defaultConfig("cnn"),
    channels: [2, 3],
    kernelSize: 5,
    padding: "same",
  }, new Rng(1));
  const conv1 = model.layers[0] as Conv2D;
  assert.equal(conv1.kernelSize, 5);
  assert.equal(conv1.geometry.pad, 2);
  assert.deepEqual(model.forward(backend.zeros([2, 1, 28, 28]), false).shape, [2, 10]);
});

Deno.test("buildModel() gives BatchNorm2d the channels of each convolution", () => {
  const model = buildModel(createTsBackend(), {
    ...defaultConfig("cnn"),
    channels: [5, 7],
  }, new Rng(1));
  const bns = model.layers.filter((layer) => layer instanceof BatchNorm2d);
  assert.deepEqual(bns.map((bn) => bn.channels), [5, 7]);
});

Deno.test("describeModel() and layerChain() name widths and layers", () => {
  assert.equal(
    describeModel({ ...defaultConfig("mlp"), hidden: 256, dropRate: 0.5 }),
    "MLP 784-256-10, BN, dropout 0.5",
  );
  assert.equal(
    describeModel({
      ...defaultConfig("cnn"),
      channels: [32, 64],
      kernelSize: 3,
      padding: "same",
      batchNorm: false,
      dropRate: 0.1,
    }),
    "CNN conv3×3 32, conv3×3 64 (same), Linear 3136→10, no BN, dropout 0.1",
  );
  assert.equal(
    describeModel({
      ...defaultConfig("cnn"),
      kernelSize: 5,
      padding: "valid",
      channels: [8, 16],
      dropRate: 0.2,
    }),
    "CNN conv5×5 8, conv5×5 16 (valid), Linear 256→10, BN, dropout 0.2",
  );
  assert.equal(layerChain(defaultConfig("mlp")), "Linear → BN → ReLU → Dropout → Linear");
  assert.equal(
    layerChain({ ...defaultConfig("cnn"), batchNorm: false }),
    "Conv → ReLU → Dropout → MaxPool → Conv → ReLU → Dropout → MaxPool → Linear",
  );
});
