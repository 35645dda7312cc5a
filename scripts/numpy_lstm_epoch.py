"""Time epochs of a one-layer LSTM sentence classifier written from scratch in NumPy: the
reference that `scripts/compare_numpy_lstm.ts` puts beside the engine's hw4-rnn network.

The network is that of hw4-rnn with `--pooling last --direction uni --dropout 0`. Embeddings
feed an LSTM with TensorFlow 1.x's equations (gates i, j, f, o, forget bias 1 inside the
sigmoid). The last state of each sentence goes through a linear layer to 5 classes and softmax
cross-entropy. Training is SGD with momentum, global-norm clipping and sparse updates of the
embedding rows. The algorithm is the engine's too. The input projection of every step is one
matrix product, each batch is sorted by length so that step t computes only the sentences still
running, and the weight gradients of all steps are one product. Each step multiplies by the
whole state kernel in one `@`; the engine's blas backend splits that product into column blocks
that OpenBLAS multiplies without packing (see hw4-rnn/README.md, "Speed"), which NumPy's `@`
does not.

Inputs, written by the Deno script: `--batches` (JSON: vocabulary size, sizes, and every batch's
word ids per sentence, sorted by decreasing length, and labels) and `--params` (float32 initial
parameters: embedding table, W, b, classifier W and b, in that order).

Prints one JSON line: {"epoch_seconds": [...], "losses": [...first epoch's batch losses...],
"numpy": ..., "blas": ...}.
"""

import argparse
import json
import time

import numpy as np

F32 = np.float32


def sigmoid(x):
    return F32(1) / (F32(1) + np.exp(-x))


def train_epoch(params, velocity, batches, dims, lr, momentum, clip_norm):
    """Run one epoch of forward, backward and update; return each batch's loss."""
    d, h, k = dims["embedding"], dims["hidden"], dims["classes"]
    emb, w, b, wc, bc = params
    wx, wh = w[:d], w[d:]
    losses = []
    for sentences, labels in batches:
        lengths = np.array([len(s) for s in sentences])
        steps, n = int(lengths[0]), len(sentences)
        ids = np.zeros((steps, n), dtype=np.int64)
        for row, s in enumerate(sentences):
            ids[: len(s), row] = s
        active = (lengths[None, :] > np.arange(steps)[:, None]).sum(axis=1)

        # Forward. Z = X·Wx + b for every step at once, then h_{t-1}·Wh for the running rows.
        x = emb[ids]
        z = (x.reshape(steps * n, d) @ wx + b).reshape(steps, n, 4 * h)
        hs = np.zeros((steps + 1, n, h), F32)
        cs = np.zeros((steps + 1, n, h), F32)
        tanh_c = np.zeros((steps, n, h), F32)
        for t in range(steps):
            r = active[t]
            zt = z[t, :r]
            zt += hs[t, :r] @ wh
            zt[:, :h] = sigmoid(zt[:, :h])
            zt[:, h : 2 * h] = np.tanh(zt[:, h : 2 * h])
            zt[:, 2 * h : 3 * h] = sigmoid(zt[:, 2 * h : 3 * h] + F32(1))
            zt[:, 3 * h :] = sigmoid(zt[:, 3 * h :])
            cs[t + 1, :r] = cs[t, :r] * zt[:, 2 * h : 3 * h] + zt[:, :h] * zt[:, h : 2 * h]
            tanh_c[t, :r] = np.tanh(cs[t + 1, :r])
            hs[t + 1, :r] = tanh_c[t, :r] * zt[:, 3 * h :]
        final = hs[lengths, np.arange(n)]
        logits = final @ wc + bc

        # Softmax cross-entropy, mean over the batch.
        shifted = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(shifted)
        p /= p.sum(axis=1, keepdims=True)
        losses.append(float(-np.log(p[np.arange(n), labels]).mean()))
        dlogits = p
        dlogits[np.arange(n), labels] -= 1
        dlogits /= n

        # Backward through the classifier, then through time.
        dwc = final.T @ dlogits
        dbc = dlogits.sum(axis=0)
        dh = dlogits @ wc.T
        dc = np.zeros((n, h), F32)
        dz = np.zeros((steps, n, 4 * h), F32)
        # A contiguous copy of Wh transposed, as the engine keeps: OpenBLAS multiplies it faster
        # than the transposed view on these thin products.
        wh_t = np.ascontiguousarray(wh.T)
        for t in range(steps - 1, -1, -1):
            r = active[t]
            zt, dzt = z[t, :r], dz[t, :r]
            gi, gj, gf, go = zt[:, :h], zt[:, h : 2 * h], zt[:, 2 * h : 3 * h], zt[:, 3 * h :]
            tc = tanh_c[t, :r]
            dc_new = dc[:r] + dh[:r] * go * (1 - tc * tc)
            dzt[:, 3 * h :] = dh[:r] * tc * go * (1 - go)
            dzt[:, :h] = dc_new * gj * gi * (1 - gi)
            dzt[:, h : 2 * h] = dc_new * gi * (1 - gj * gj)
            dzt[:, 2 * h : 3 * h] = dc_new * cs[t, :r] * gf * (1 - gf)
            dc[:r] = dc_new * gf
            dh[:r] = dzt @ wh_t
        dz2 = dz.reshape(steps * n, 4 * h)
        dw = np.concatenate(
            [x.reshape(steps * n, d).T @ dz2, hs[:steps].reshape(steps * n, h).T @ dz2]
        )
        db = dz2.sum(axis=0)
        dx = (dz2 @ wx.T).reshape(steps, n, d)

        # Sparse embedding gradient: the rows of the batch's words only.
        valid = np.arange(steps)[:, None] < lengths[None, :]
        rows, inverse = np.unique(ids[valid], return_inverse=True)
        demb = np.zeros((len(rows), d), F32)
        np.add.at(demb, inverse, dx[valid])

        # Global-norm clipping, then momentum SGD; embedding rows update sparsely.
        dense = [(w, dw), (b, db), (wc, dwc), (bc, dbc)]
        norm = np.sqrt(sum(float((g * g).sum()) for _, g in dense) + float((demb * demb).sum()))
        scale = F32(clip_norm / norm) if clip_norm > 0 and norm > clip_norm else F32(1)
        for (value, grad), v in zip(dense, velocity[1:]):
            v *= F32(momentum)
            v += scale * grad
            value -= F32(lr) * v
        v_emb = velocity[0]
        v_emb[rows] = F32(momentum) * v_emb[rows] + scale * demb
        emb[rows] -= F32(lr) * v_emb[rows]
    return losses


def blas_name():
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas.get('version', '')}".strip()
    except Exception:  # Older NumPy has no dict mode; the name is only for the table.
        return "unknown BLAS"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", required=True, help="JSON file of batches and sizes")
    parser.add_argument("--params", required=True, help="float32 file of initial parameters")
    parser.add_argument("--epochs", type=int, default=1, help="epochs to time (default 1)")
    args = parser.parse_args()

    with open(args.batches) as f:
        spec = json.load(f)
    v, d, h, k = spec["vocab"], spec["embedding"], spec["hidden"], spec["classes"]
    flat = np.fromfile(args.params, dtype=F32)
    shapes = [(v, d), (d + h, 4 * h), (4 * h,), (h, k), (k,)]
    params, offset = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        params.append(flat[offset : offset + size].reshape(shape).copy())
        offset += size
    if offset != flat.size:
        raise SystemExit(f"error: {args.params} has {flat.size} floats, expected {offset}")
    velocity = [np.zeros_like(p) for p in params]
    batches = [(b["sentences"], np.array(b["labels"])) for b in spec["batches"]]

    seconds, first_losses = [], None
    for _ in range(args.epochs):
        start = time.perf_counter()
        losses = train_epoch(
            params, velocity, batches, spec, spec["lr"], spec["momentum"], spec["clip_norm"]
        )
        seconds.append(time.perf_counter() - start)
        first_losses = first_losses or losses
    print(
        json.dumps(
            {
                "epoch_seconds": seconds,
                "losses": first_losses,
                "numpy": np.__version__,
                "blas": blas_name(),
            }
        )
    )


if __name__ == "__main__":
    main()
