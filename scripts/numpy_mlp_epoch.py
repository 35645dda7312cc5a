"""Time one epoch of the course MLP (784-512-512-10, ReLU, softmax cross-entropy, batch 100,
momentum SGD with weight decay) written from scratch in NumPy, the reference that
`scripts/compare_numpy.ts` puts beside the engine's own epoch.

The data are random arrays of MNIST's shape: the cost of an epoch does not depend on the pixel
values. Prints one JSON line: {"epoch_seconds": [...], "threads": ..., "numpy": ...}.
"""

import argparse
import json
import os
import time

import numpy as np


def epoch(params, velocity, x, labels, batch, lr=0.1, momentum=0.9, wd=5e-4):
    """Run one shuffled epoch of forward, backward and update; return the mean loss."""
    n = x.shape[0]
    order = np.random.permutation(n)
    total = 0.0
    for start in range(0, n, batch):
        idx = order[start:start + batch]
        xb = x[idx]
        t = np.zeros((len(idx), 10), dtype=np.float32)
        t[np.arange(len(idx)), labels[idx]] = 1.0

        # Forward: Linear, ReLU, Linear, ReLU, Linear.
        (w1, b1), (w2, b2), (w3, b3) = params
        h1 = np.maximum(xb @ w1 + b1, 0)
        h2 = np.maximum(h1 @ w2 + b2, 0)
        logits = h2 @ w3 + b3

        # Softmax cross-entropy, stable.
        shifted = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(shifted)
        p /= p.sum(axis=1, keepdims=True)
        total += float(-(t * np.log(p + 1e-12)).sum() / len(idx))
        d3 = (p - t) / len(idx)

        # Backward; the input gradient of the first layer is not needed.
        grads = []
        grads.append((h2.T @ d3, d3.sum(axis=0)))
        d2 = (d3 @ w3.T) * (h2 > 0)
        grads.append((h1.T @ d2, d2.sum(axis=0)))
        d1 = (d2 @ w2.T) * (h1 > 0)
        grads.append((xb.T @ d1, d1.sum(axis=0)))
        grads.reverse()

        # Momentum SGD with weight decay: v = m v + (g + wd w); w -= lr v.
        for (w, b), (gw, gb), (vw, vb) in zip(params, grads, velocity):
            vw *= momentum
            vw += gw + wd * w
            w -= lr * vw
            vb *= momentum
            vb += gb + wd * b
            b -= lr * vb
    return total / (n // batch)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3, help="epochs to time (default 3)")
    parser.add_argument("--batch", type=int, default=100, help="batch size (default 100)")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    np.random.seed(0)
    x = rng.random((60000, 784), dtype=np.float32) - 0.5
    labels = rng.integers(0, 10, 60000)
    sizes = [784, 512, 512, 10]
    params = [(rng.standard_normal((i, o), dtype=np.float32) * 0.01, np.zeros(o, np.float32))
              for i, o in zip(sizes[:-1], sizes[1:])]
    velocity = [(np.zeros_like(w), np.zeros_like(b)) for w, b in params]

    seconds = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        epoch(params, velocity, x, labels, args.batch)
        seconds.append(time.perf_counter() - start)
    threads = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or "default"
    print(json.dumps({"epoch_seconds": seconds, "threads": threads, "numpy": np.__version__}))


if __name__ == "__main__":
    main()
