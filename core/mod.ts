/**
 * The engine shared by every homework: tensors, backends, layers, data, training and reports.
 *
 * @module
 */

export { assertShape, sameShape, shapeSize, Tensor } from "./tensor.ts";
export * from "./backend/mod.ts";
export { Rng } from "./random.ts";
export { type Layer, type Loss, Param } from "./layer.ts";
export {
  DataError,
  encodeIdx,
  gunzipIfCompressed,
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  type IdxArray,
  parseIdx,
  readIdxFile,
} from "./idx.ts";
export {
  defaultMnistCacheDir,
  loadMnist,
  type LoadMnistOptions,
  type Mnist,
  MNIST_FILES,
  MNIST_MIRROR,
  MNIST_SHA256,
  type MnistSplit,
  normalizeImages,
  oneHot,
} from "./mnist.ts";
