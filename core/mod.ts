/**
 * The engine shared by every homework: tensors, backends, layers, data, training and reports.
 *
 * @module
 */

export { assertShape, sameShape, shapeSize, Tensor } from "./tensor.ts";
export * from "./backend/mod.ts";
export { Rng } from "./random.ts";
export { type Layer, type Loss, Param } from "./layer.ts";
