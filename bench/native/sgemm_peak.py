#!/usr/bin/python3
"""The machine's measured single-precision GEMM peak: OpenBLAS's cblas_sgemm (libopenblas.so.0, Debian's
libopenblas0-pthread, the BLAS the native code calls) on N x N x N row-major matrices, called through ctypes
on torch-allocated buffers, with OPENBLAS_NUM_THREADS threads. Prints 'peak GFLOPS' (the best of --repeat)."""

import argparse
import ctypes
import time

import torch


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    blas = ctypes.CDLL("libopenblas.so.0")
    f = ctypes.c_float
    blas.cblas_sgemm.argtypes = [ctypes.c_int] * 6 + [f, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                                                      f, ctypes.c_void_p, ctypes.c_int]
    n = args.n
    a, b, c = (torch.rand(n, n, dtype=torch.float32) for _ in range(3))
    best = 0.0
    for _ in range(args.repeat):
        start = time.perf_counter()
        blas.cblas_sgemm(101, 111, 111, n, n, n, 1.0, a.data_ptr(), n, b.data_ptr(), n, 0.0, c.data_ptr(), n)
        best = max(best, 2.0 * n ** 3 / (time.perf_counter() - start) / 1e9)
    print(f"cblas_sgemm {n}x{n}x{n}: peak {best:.1f}")


if __name__ == "__main__":
    main()
