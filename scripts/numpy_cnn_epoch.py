"""Time one epoch of the course's HW2 skeleton CNN written from scratch in NumPy with im2col, the
reference that `scripts/compare_numpy_cnn.ts` and `scripts/bench.ts` put beside the engine's own
epoch.

The network: conv 1->4 3x3 pad 1, ReLU, avg-pool 2, conv 4->4 3x3 pad 1, ReLU, avg-pool 2,
reshape to 196, Linear 196->10, softmax cross-entropy, momentum SGD with weight decay, batch 100.
Convolution is im2col (a strided view copied into [C*K*K, N*Ho*Wo]) plus one matrix product,
and col2im adds the K*K shifted slices back, as the engine does. The first layer's input
gradient is not computed.

The data are random arrays of MNIST's shape: the cost of an epoch does not depend on the pixel
values. Prints one JSON line: {"epoch_seconds": [...], "threads": ..., "numpy": ...}.
"""

import argparse
import json
import os
import time

import numpy as np
from numpy.lib.stride_tricks import as_strided


def im2col(x, k, pad):
    """x [N, C, H, W] -> cols [C*k*k, N*Ho*Wo] for stride 1."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = h + 2 * pad - k + 1, w + 2 * pad - k + 1
    s0, s1, s2, s3 = xp.strides
    view = as_strided(xp, shape=(c, k, k, n, ho, wo), strides=(s1, s2, s3, s0, s2, s3))
    return view.reshape(c * k * k, n * ho * wo)


def col2im(cols, shape, k, pad):
    """Fold cols [C*k*k, N*Ho*Wo] back onto dx [N, C, H, W]: the adjoint of im2col."""
    n, c, h, w = shape
    ho, wo = h + 2 * pad - k + 1, w + 2 * pad - k + 1
    dxp = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=cols.dtype)
    c6 = cols.reshape(c, k, k, n, ho, wo)
    for ky in range(k):
        for kx in range(k):
            dxp[:, :, ky:ky + ho, kx:kx + wo] += c6[:, ky, kx].transpose(1, 0, 2, 3)
    return dxp[:, :, pad:pad + h, pad:pad + w]


def conv_forward(x, w, b, pad):
    n, _, h, wd = x.shape
    o, _, k, _ = w.shape
    cols = im2col(x, k, pad)
    ho, wo = h + 2 * pad - k + 1, wd + 2 * pad - k + 1
    # [O, N*Ho*Wo] -> [N, O, Ho*Wo], then add each channel's bias in place.
    y = np.ascontiguousarray((w.reshape(o, -1) @ cols).reshape(o, n, ho * wo).transpose(1, 0, 2))
    y += b[None, :, None]
    return y.reshape(n, o, ho, wo), cols


def conv_backward(dy, x_shape, w, cols, pad, need_dx):
    o, _, k, _ = w.shape
    dy_rows = dy.transpose(1, 0, 2, 3).reshape(o, -1)
    dw = (dy_rows @ cols.T).reshape(w.shape)
    db = dy.sum(axis=(0, 2, 3))
    dx = col2im(w.reshape(o, -1).T @ dy_rows, x_shape, k, pad) if need_dx else None
    return dx, dw, db


def avg_pool(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


def avg_pool_backward(dy):
    return np.repeat(np.repeat(dy, 2, axis=2), 2, axis=3) * 0.25


def epoch(params, velocity, x, labels, batch, lr=0.1, momentum=0.9, wd=1e-4):
    """Run one shuffled epoch of forward, backward and update; return the mean loss."""
    n = x.shape[0]
    order = np.random.permutation(n)
    total = 0.0
    w1, b1, w2, b2, w3, b3 = params
    for start in range(0, n, batch):
        idx = order[start:start + batch]
        xb = x[idx]
        m = len(idx)
        t = np.zeros((m, 10), dtype=np.float32)
        t[np.arange(m), labels[idx]] = 1.0

        # Forward: conv, ReLU, avg-pool, conv, ReLU, avg-pool, reshape, Linear.
        z1, cols1 = conv_forward(xb, w1, b1, 1)
        a1 = np.maximum(z1, 0)
        p1 = avg_pool(a1)
        z2, cols2 = conv_forward(p1, w2, b2, 1)
        a2 = np.maximum(z2, 0)
        p2 = avg_pool(a2)
        flat = p2.reshape(m, -1)
        logits = flat @ w3 + b3

        # Softmax cross-entropy, stable.
        shifted = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(shifted)
        p /= p.sum(axis=1, keepdims=True)
        total += float(-(t * np.log(p + 1e-12)).sum() / m)
        dlogits = (p - t) / m

        # Backward.
        dw3 = flat.T @ dlogits
        db3 = dlogits.sum(axis=0)
        dp2 = (dlogits @ w3.T).reshape(p2.shape)
        dz2 = avg_pool_backward(dp2) * (a2 > 0)
        dp1, dw2, db2 = conv_backward(dz2, p1.shape, w2, cols2, 1, True)
        dz1 = avg_pool_backward(dp1) * (a1 > 0)
        _, dw1, db1 = conv_backward(dz1, xb.shape, w1, cols1, 1, False)

        # Momentum SGD with weight decay: v = m v + (g + wd w); w -= lr v.
        for param, grad, v in zip(params, (dw1, db1, dw2, db2, dw3, db3), velocity):
            v *= momentum
            v += grad + wd * param
            param -= lr * v
    return total / (n // batch)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3, help="epochs to time (default 3)")
    parser.add_argument("--batch", type=int, default=100, help="batch size (default 100)")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    np.random.seed(0)
    x = rng.random((60000, 1, 28, 28), dtype=np.float32) - 0.5
    labels = rng.integers(0, 10, 60000)
    params = [
        rng.standard_normal((4, 1, 3, 3), dtype=np.float32) * np.float32(np.sqrt(2 / 9)),
        np.zeros(4, np.float32),
        rng.standard_normal((4, 4, 3, 3), dtype=np.float32) * np.float32(np.sqrt(2 / 36)),
        np.zeros(4, np.float32),
        rng.standard_normal((196, 10), dtype=np.float32) * np.float32(np.sqrt(2 / 196)),
        np.zeros(10, np.float32),
    ]
    velocity = [np.zeros_like(p) for p in params]

    seconds = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        epoch(params, velocity, x, labels, args.batch)
        seconds.append(time.perf_counter() - start)
    threads = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or "default"
    print(json.dumps({"epoch_seconds": seconds, "threads": threads, "numpy": np.__version__}))


if __name__ == "__main__":
    main()
