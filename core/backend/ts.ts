/**
 * The reference backend in plain TypeScript. Sums accumulate in float64, so this backend is the
 * oracle that the fast backends are tested against. It favors clarity over speed.
 *
 * @module
 */

import { Tensor } from "../tensor.ts";
import type {
  AvgPoolGeometry,
  Backend,
  ConvGeometry,
  MatmulOptions,
  MaxPoolGeometry,
  SgdOptions,
} from "./backend.ts";
import {
  check2d,
  checkAvgPool,
  checkChannelVector,
  checkIm2col,
  checkLstmCell,
  checkLstmCellBackward,
  checkMatmul,
  checkMaxPool,
  checkMaxPoolBackward,
  checkRowVector,
  checkSameShape,
  checkSwapAxes01,
} from "./checks.ts";
import { scalarSigmoid, scalarTanh } from "./scalar.ts";

/** Create the reference backend. */
export function createTsBackend(): Backend {
  return {
    name: "ts",
    description: "ts (plain TypeScript reference, float64 accumulation, 1 thread)",
    zeros: (shape) => new Tensor(shape),
    matmul,
    addRowVector,
    sumRows,
    relu,
    reluBackward,
    sigmoid,
    sigmoidBackward,
    softmax,
    lstmCell,
    lstmCellBackward,
    im2col,
    col2im,
    swapAxes01,
    addChannelBias,
    sumChannels,
    avgPool,
    avgPoolBackward,
    maxPool,
    maxPoolBackward,
    sgdMomentum,
  };
}

function matmul(a: Tensor, b: Tensor, out: Tensor, options: MatmulOptions = {}): void {
  const { m, n, k } = checkMatmul(a, b, out, options);

  // Strides of op(a) [M, K] and op(b) [K, N]: a transpose swaps the row and column strides.
  const aRowStride = options.transA ? 1 : k, aColStride = options.transA ? m : 1;
  const bRowStride = options.transB ? 1 : n, bColStride = options.transB ? k : 1;
  const A = a.data, B = b.data, C = out.data;
  const acc = new Float64Array(n);

  for (let i = 0; i < m; i++) {
    if (options.accumulate) { for (let j = 0; j < n; j++) acc[j] = C[i * n + j]; }
    else acc.fill(0);
    for (let p = 0; p < k; p++) {
      const aip = A[i * aRowStride + p * aColStride];
      if (aip === 0) continue;
      const bRow = p * bRowStride;
      for (let j = 0; j < n; j++) acc[j] += aip * B[bRow + j * bColStride];
    }
    for (let j = 0; j < n; j++) C[i * n + j] = acc[j];
  }
}

function addRowVector(x: Tensor, b: Tensor): void {
  const [n, d] = checkRowVector("addRowVector", x, b, "b");
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) x.data[i * d + j] += b.data[j];
  }
}

function sumRows(x: Tensor, out: Tensor): void {
  const [n, d] = checkRowVector("sumRows", x, out, "out");
  const acc = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) acc[j] += x.data[i * d + j];
  }
  out.data.set(acc);
}

function relu(x: Tensor, y: Tensor): void {
  checkSameShape("relu", ["x", "y"], [x, y]);
  for (let i = 0; i < x.size; i++) y.data[i] = x.data[i] > 0 ? x.data[i] : 0;
}

function reluBackward(y: Tensor, dY: Tensor, dX: Tensor): void {
  checkSameShape("reluBackward", ["y", "dY", "dX"], [y, dY, dX]);
  for (let i = 0; i < y.size; i++) dX.data[i] = y.data[i] > 0 ? dY.data[i] : 0;
}

function sigmoid(x: Tensor, y: Tensor): void {
  checkSameShape("sigmoid", ["x", "y"], [x, y]);
  for (let i = 0; i < x.size; i++) y.data[i] = scalarSigmoid(x.data[i]);
}

function sigmoidBackward(y: Tensor, dY: Tensor, dX: Tensor): void {
  checkSameShape("sigmoidBackward", ["y", "dY", "dX"], [y, dY, dX]);
  for (let i = 0; i < y.size; i++) {
    const s = y.data[i];
    dX.data[i] = dY.data[i] * s * (1 - s);
  }
}

function lstmCell(
  z: Tensor,
  cPrev: Tensor,
  c: Tensor,
  tanhC: Tensor,
  h: Tensor,
  forgetBias: number,
): void {
  const [k, hs] = checkLstmCell(z, cPrev, c, tanhC, h);
  const zd = z.data;
  for (let row = 0; row < k; row++) {
    const zRow = row * 4 * hs, s = row * hs;
    for (let j = 0; j < hs; j++) {
      const gi = scalarSigmoid(zd[zRow + j]);
      const gj = scalarTanh(zd[zRow + hs + j]);
      const gf = scalarSigmoid(zd[zRow + 2 * hs + j] + forgetBias);
      const go = scalarSigmoid(zd[zRow + 3 * hs + j]);
      zd[zRow + j] = gi;
      zd[zRow + hs + j] = gj;
      zd[zRow + 2 * hs + j] = gf;
      zd[zRow + 3 * hs + j] = go;
      const cNew = cPrev.data[s + j] * gf + gi * gj;
      const tc = scalarTanh(cNew);
      c.data[s + j] = cNew;
      tanhC.data[s + j] = tc;
      h.data[s + j] = tc * go;
    }
  }
}

function lstmCellBackward(
  gates: Tensor,
  cPrev: Tensor,
  tanhC: Tensor,
  dh: Tensor,
  dc: Tensor,
  dZ: Tensor,
): void {
  const [k, hs] = checkLstmCellBackward(gates, cPrev, tanhC, dh, dc, dZ);
  const g = gates.data, dz = dZ.data;
  for (let row = 0; row < k; row++) {
    const zRow = row * 4 * hs, s = row * hs;
    for (let j = 0; j < hs; j++) {
      const gi = g[zRow + j], gj = g[zRow + hs + j];
      const gf = g[zRow + 2 * hs + j], go = g[zRow + 3 * hs + j];
      const tc = tanhC.data[s + j], dhv = dh.data[s + j];
      // h = tanh(c)·σ(o): the output gate, and the memory's share of dh.
      const dcNew = dc.data[s + j] + dhv * go * (1 - tc * tc);
      dz[zRow + 3 * hs + j] = dhv * tc * go * (1 - go);
      // c = cPrev·σ(f) + σ(i)·tanh(j), through each sigmoid or tanh.
      dz[zRow + j] = dcNew * gj * gi * (1 - gi);
      dz[zRow + hs + j] = dcNew * gi * (1 - gj * gj);
      dz[zRow + 2 * hs + j] = dcNew * cPrev.data[s + j] * gf * (1 - gf);
      dc.data[s + j] = dcNew * gf;
    }
  }
}

function softmax(x: Tensor, y: Tensor): void {
  const [n, d] = check2d("softmax", "x", x);
  checkSameShape("softmax", ["x", "y"], [x, y]);
  for (let i = 0; i < n; i++) {
    const row = i * d;

    // Subtract the row max so exp never overflows, even for logits of magnitude 1000.
    let max = -Infinity;
    for (let j = 0; j < d; j++) max = Math.max(max, x.data[row + j]);

    let sum = 0;
    for (let j = 0; j < d; j++) {
      const e = Math.exp(x.data[row + j] - max);
      y.data[row + j] = e;
      sum += e;
    }
    for (let j = 0; j < d; j++) y.data[row + j] /= sum;
  }
}

function sgdMomentum(w: Tensor, g: Tensor, v: Tensor, options: SgdOptions): void {
  checkSameShape("sgdMomentum", ["w", "g", "v"], [w, g, v]);
  const { lr, momentum, weightDecay } = options;
  for (let i = 0; i < w.size; i++) {
    const vi = momentum * v.data[i] + (g.data[i] + weightDecay * w.data[i]);
    v.data[i] = vi;
    w.data[i] -= lr * vi;
  }
}

// ---------------------------------------------------------------------------------------------
// Convolution and pooling over [N, C, H, W]

function im2col(x: Tensor, cols: Tensor, geometry: ConvGeometry): void {
  const { n, c, h, w, ho, wo } = checkIm2col("im2col", x, "x", cols, geometry);
  const { kernelSize: k, pad, stride } = geometry;
  const colStride = n * ho * wo;

  // Row (ci, ky, kx) of cols contains, for every output position, the input pixel that the
  // kernel tap (ky, kx) of channel ci multiplies there.
  for (let ci = 0; ci < c; ci++) {
    for (let ky = 0; ky < k; ky++) {
      for (let kx = 0; kx < k; kx++) {
        const row = ((ci * k + ky) * k + kx) * colStride;
        for (let ni = 0; ni < n; ni++) {
          const plane = (ni * c + ci) * h * w;
          for (let oy = 0; oy < ho; oy++) {
            const iy = oy * stride + ky - pad;
            for (let ox = 0; ox < wo; ox++) {
              const ix = ox * stride + kx - pad;
              const inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
              cols.data[row + (ni * ho + oy) * wo + ox] = inside ? x.data[plane + iy * w + ix] : 0;
            }
          }
        }
      }
    }
  }
}

function col2im(cols: Tensor, dX: Tensor, geometry: ConvGeometry): void {
  const { n, c, h, w, ho, wo } = checkIm2col("col2im", dX, "dX", cols, geometry);
  const { kernelSize: k, pad, stride } = geometry;
  const colStride = n * ho * wo;

  // Each input pixel collects every cols entry that im2col copied from it.
  const acc = new Float64Array(dX.size);
  for (let ci = 0; ci < c; ci++) {
    for (let ky = 0; ky < k; ky++) {
      for (let kx = 0; kx < k; kx++) {
        const row = ((ci * k + ky) * k + kx) * colStride;
        for (let ni = 0; ni < n; ni++) {
          const plane = (ni * c + ci) * h * w;
          for (let oy = 0; oy < ho; oy++) {
            const iy = oy * stride + ky - pad;
            if (iy < 0 || iy >= h) continue;
            for (let ox = 0; ox < wo; ox++) {
              const ix = ox * stride + kx - pad;
              if (ix < 0 || ix >= w) continue;
              acc[plane + iy * w + ix] += cols.data[row + (ni * ho + oy) * wo + ox];
            }
          }
        }
      }
    }
  }
  dX.data.set(acc);
}

function swapAxes01(x: Tensor, y: Tensor): void {
  const [a, b, rest] = checkSwapAxes01(x, y);
  for (let i = 0; i < a; i++) {
    for (let j = 0; j < b; j++) {
      y.data.set(x.data.subarray((i * b + j) * rest, (i * b + j + 1) * rest), (j * a + i) * rest);
    }
  }
}

function addChannelBias(x: Tensor, b: Tensor): void {
  const [n, c, plane] = checkChannelVector("addChannelBias", x, b, "b");
  for (let ni = 0; ni < n; ni++) {
    for (let ci = 0; ci < c; ci++) {
      const start = (ni * c + ci) * plane;
      for (let i = start; i < start + plane; i++) x.data[i] += b.data[ci];
    }
  }
}

function sumChannels(x: Tensor, out: Tensor): void {
  const [n, c, plane] = checkChannelVector("sumChannels", x, out, "out");
  for (let ci = 0; ci < c; ci++) {
    let sum = 0;
    for (let ni = 0; ni < n; ni++) {
      const start = (ni * c + ci) * plane;
      for (let i = start; i < start + plane; i++) sum += x.data[i];
    }
    out.data[ci] = sum;
  }
}

function avgPool(x: Tensor, y: Tensor, geometry: AvgPoolGeometry): void {
  const { n, c, h, w, ho, wo } = checkAvgPool("avgPool", x, "x", y, "y", geometry);
  const { kernelSize: k, pad } = geometry;
  for (let p = 0; p < n * c; p++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        // Sum the window's pixels inside the input; its padded zeros add nothing to the sum but
        // still count in the divisor K·K.
        let sum = 0;
        for (let iy = oy * k - pad; iy < oy * k - pad + k; iy++) {
          for (let ix = ox * k - pad; ix < ox * k - pad + k; ix++) {
            if (iy >= 0 && iy < h && ix >= 0 && ix < w) sum += x.data[(p * h + iy) * w + ix];
          }
        }
        y.data[(p * ho + oy) * wo + ox] = sum / (k * k);
      }
    }
  }
}

function avgPoolBackward(dY: Tensor, dX: Tensor, geometry: AvgPoolGeometry): void {
  const { n, c, h, w, ho, wo } = checkAvgPool("avgPoolBackward", dX, "dX", dY, "dY", geometry);
  const { kernelSize: k, pad } = geometry;
  // Pixels past the last whole window get no gradient.
  dX.data.fill(0);
  for (let p = 0; p < n * c; p++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        const g = dY.data[(p * ho + oy) * wo + ox] / (k * k);
        for (let iy = oy * k - pad; iy < oy * k - pad + k; iy++) {
          for (let ix = ox * k - pad; ix < ox * k - pad + k; ix++) {
            if (iy >= 0 && iy < h && ix >= 0 && ix < w) dX.data[(p * h + iy) * w + ix] = g;
          }
        }
      }
    }
  }
}

function maxPool(x: Tensor, y: Tensor, argmax: Tensor, geometry: MaxPoolGeometry): void {
  const { n, c, h, w, ho, wo } = checkMaxPool("maxPool", x, y, argmax, geometry);
  const { kernelSize: k, stride } = geometry;
  for (let p = 0; p < n * c; p++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        // A strictly greater value replaces the best, so ties keep the first position.
        let best = (oy * stride) * w + ox * stride;
        for (let iy = oy * stride; iy < oy * stride + k; iy++) {
          for (let ix = ox * stride; ix < ox * stride + k; ix++) {
            if (x.data[p * h * w + iy * w + ix] > x.data[p * h * w + best]) best = iy * w + ix;
          }
        }
        y.data[(p * ho + oy) * wo + ox] = x.data[p * h * w + best];
        argmax.data[(p * ho + oy) * wo + ox] = best;
      }
    }
  }
}

function maxPoolBackward(dY: Tensor, argmax: Tensor, dX: Tensor): void {
  const { n, c, h, w, ho, wo } = checkMaxPoolBackward(dY, argmax, dX);
  dX.data.fill(0);
  for (let p = 0; p < n * c; p++) {
    for (let o = 0; o < ho * wo; o++) {
      // Overlapping windows (stride < K) can pick the same pixel, so gradients add up.
      dX.data[p * h * w + argmax.data[p * ho * wo + o]] += dY.data[p * ho * wo + o];
    }
  }
}
