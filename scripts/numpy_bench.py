"""The NumPy side of `deno task bench`: the same matrix products as the engine's benchmark, timed
the same way, printed as one JSON line {"numpy": version, "blas": name, "matmul": {name: gflops}}.

Also runs with PyTorch (`--torch`) when it is installed, on one thread as the engine's
comparison states.
"""

import argparse
import json
import time

import numpy as np

# name, M, N, K, transA, transB: C [M, N] = op(A) [M, K] @ op(B) [K, N]
PRODUCTS = [
    ("X·W 100x784 · 784x512", 100, 512, 784, False, False),
    ("Xᵀ·dY 784x100 · 100x512", 784, 512, 100, True, False),
    ("dY·Wᵀ 100x512 · 512x784", 100, 784, 512, False, True),
    ("512³", 512, 512, 512, False, False),
]


def best_gflops(run, flops, min_seconds=0.3):
    """Return the best GFLOPS of three timed batches of repeated calls."""
    for _ in range(3):
        run()
    reps = 1
    while True:
        start = time.perf_counter()
        for _ in range(reps):
            run()
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds / 3:
            break
        reps *= 2
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(reps):
            run()
        best = min(best, (time.perf_counter() - start) / reps)
    return flops / best / 1e9


def numpy_products():
    rng = np.random.default_rng(0)
    result = {}
    for name, m, n, k, trans_a, trans_b in PRODUCTS:
        a = rng.standard_normal((k, m) if trans_a else (m, k), dtype=np.float32)
        b = rng.standard_normal((n, k) if trans_b else (k, n), dtype=np.float32)
        out = np.empty((m, n), dtype=np.float32)
        opa = a.T if trans_a else a
        opb = b.T if trans_b else b
        result[name] = best_gflops(lambda: np.matmul(opa, opb, out=out), 2.0 * m * n * k)
    return result


def torch_products():
    import torch  # noqa: PLC0415 - optional dependency

    torch.set_num_threads(1)
    result = {}
    for name, m, n, k, trans_a, trans_b in PRODUCTS:
        a = torch.randn((k, m) if trans_a else (m, k))
        b = torch.randn((n, k) if trans_b else (k, n))
        opa = a.T if trans_a else a
        opb = b.T if trans_b else b
        result[name] = best_gflops(lambda: torch.mm(opa, opb), 2.0 * m * n * k)
    return {"torch": torch.__version__, "matmul": result}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--torch", action="store_true", help="time PyTorch instead of NumPy")
    args = parser.parse_args()
    if args.torch:
        print(json.dumps(torch_products()))
        return
    config = np.show_config(mode="dicts")
    blas = config.get("Build Dependencies", {}).get("blas", {})
    print(json.dumps({
        "numpy": np.__version__,
        "blas": f"{blas.get('name', '?')} {blas.get('version', '')}".strip(),
        "matmul": numpy_products(),
    }))


if __name__ == "__main__":
    main()
