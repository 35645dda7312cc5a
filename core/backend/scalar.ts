/**
 * Scalar activations in float64, shared by the reference backend's kernels and by layers that
 * loop over units themselves.
 *
 * @module
 */

/** Logistic sigmoid `1 / (1 + e^−x)`. */
export function scalarSigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/**
 * Hyperbolic tangent as `1 − 2 / (e^{2x} + 1)`: one `Math.exp` costs about half a `Math.tanh`
 * in V8, and the absolute error stays near 1e-16, far below float32 resolution. Large `|x|`
 * saturate to ±1 because `e^{2x}` overflows to Infinity or underflows to 0.
 */
export function scalarTanh(x: number): number {
  return 1 - 2 / (Math.exp(2 * x) + 1);
}
