/**
 * A chain of layers, the course's `Network`.
 *
 * @module
 */

import type { Layer, Param } from "../layer.ts";
import type { Tensor } from "../tensor.ts";

/** Options of {@linkcode Sequential}. */
export interface SequentialOptions {
  /** Network name for logs, default `sequential`. */
  name?: string;
}

/**
 * Layers applied in order: `forward` runs them first to last, `backward` last to first.
 *
 * Input and output shapes are those of the first layer's input and the last layer's output. The
 * parameters are those of the layers, in layer order.
 *
 * @example
 * ```ts
 * import { createTsBackend, Linear, Relu, Rng, Sequential } from "@nn/core";
 * const backend = createTsBackend();
 * const rng = new Rng(1);
 * const net = new Sequential([
 *   new Linear(backend, 784, 128, { initStd: 0.01, rng, name: "fc1" }),
 *   new Relu(backend),
 *   new Linear(backend, 128, 10, { initStd: 0.01, rng, name: "fc2" }),
 * ]);
 * const logits = net.forward(backend.zeros([32, 784]), true); // [32, 10]
 * ```
 */
export class Sequential implements Layer {
  readonly name: string;
  readonly layers: readonly Layer[];

  /**
   * @throws {RangeError} when `layers` is empty or two parameters share a name, because logs and
   *   checkpoints identify parameters by name (give each layer its own `name`)
   */
  constructor(layers: readonly Layer[], options: SequentialOptions = {}) {
    this.name = options.name ?? "sequential";
    if (layers.length === 0) {
      throw new RangeError(`Sequential ${this.name}: expected at least one layer`);
    }
    this.layers = [...layers];

    const owners = new Map<string, number>();
    for (const [index, layer] of this.layers.entries()) {
      for (const param of layer.params()) {
        const owner = owners.get(param.name);
        if (owner !== undefined) {
          throw new RangeError(
            `Sequential ${this.name}: layers ${owner} and ${index} both have a parameter named ` +
              `${param.name}; give each layer a unique name`,
          );
        }
        owners.set(param.name, index);
      }
    }
  }

  /** Run every layer's forward pass in order and return the last output. */
  forward(x: Tensor, training: boolean): Tensor {
    let out = x;
    for (const layer of this.layers) out = layer.forward(out, training);
    return out;
  }

  /**
   * Run every layer's backward pass in reverse order, setting every parameter's gradient.
   *
   * NOTE: `needInputGrad` defaults to false here, unlike in single layers, because a Sequential is
   * usually a whole network whose input is data. The first layer then skips computing `dX`, which
   * for a `Linear(784, …)` saves as much work as its forward pass, and the method returns `null`.
   */
  backward(dY: Tensor, needInputGrad = false): Tensor | null {
    let grad = dY;
    for (let i = this.layers.length - 1; i > 0; i--) {
      const dX = this.layers[i].backward(grad, true);
      if (dX === null) {
        throw new Error(
          `Sequential ${this.name}: layer ${i} (${this.layers[i].name}) returned no input gradient`,
        );
      }
      grad = dX;
    }
    return this.layers[0].backward(grad, needInputGrad);
  }

  /** Return the parameters of all layers, in layer order. */
  params(): Param[] {
    return this.layers.flatMap((layer) => layer.params());
  }
}

/** Return the number of scalar values in `params`, e.g. `784·512 + 512` for one Linear layer. */
export function countParameters(params: readonly Param[]): number {
  let count = 0;
  for (const param of params) count += param.value.size;
  return count;
}
