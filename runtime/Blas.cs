using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace AutoSpIR.Runtime;

/// <summary>
/// Row-major GEMM for the matmul and linear kernels: <c>C = A op(B) (+ C)</c> with A [m, k] and
/// op(B) either B [k, n] or B^T for B [n, k]. It calls OpenBLAS (<c>cblas_dgemm</c> /
/// <c>cblas_sgemm</c> from <see cref="LibraryName"/>, Debian's libopenblas0-pthread) when it
/// loads, and otherwise a blocked, vectorized C# loop, after one message on stderr saying so.
/// </summary>
public static unsafe partial class Blas
{
    public const string LibraryName = "libopenblas.so.0";

    /// <summary>Which implementation a kernel set uses.</summary>
    public enum Backend
    {
        /// <summary>OpenBLAS when it loads, the C# loop otherwise.</summary>
        Auto,
        /// <summary>OpenBLAS; an error when it cannot be loaded.</summary>
        OpenBlas,
        /// <summary>The C# loop, always.</summary>
        Fallback,
    }

    private static readonly Lazy<bool> s_available = new(() => Probe(LibraryName, Console.Error));

    /// <summary>True when OpenBLAS loaded (probed once; a failure prints one message on stderr).</summary>
    public static bool Available => s_available.Value;

    /// <summary>
    /// Whether <paramref name="library"/> loads and exports cblas_dgemm and cblas_sgemm; when not,
    /// writes one line to <paramref name="log"/> saying the C# loop will be used and how to fix it.
    /// </summary>
    public static bool Probe(string library, TextWriter? log)
    {
        string why;
        if (NativeLibrary.TryLoad(library, out var handle))
        {
            if (NativeLibrary.TryGetExport(handle, "cblas_dgemm", out _) && NativeLibrary.TryGetExport(handle, "cblas_sgemm", out _))
                return true;
            why = "it does not export cblas_dgemm and cblas_sgemm";
        }
        else why = "the library was not found";
        log?.WriteLine($"AutoSpIR.Runtime: cannot load {library} ({why}); tensor.matmul and tensor.linear fall back to a slower C# loop. "
                       + "Install the Debian package libopenblas0-pthread (bin/setup does) for BLAS speed.");
        return false;
    }

    private static bool UseBlas(Backend backend, long m, long n, long k)
    {
        bool fits = m <= int.MaxValue && n <= int.MaxValue && k <= int.MaxValue;
        return backend switch
        {
            Backend.Fallback => false,
            Backend.OpenBlas => Available && fits ? true
                : throw new InvalidOperationException(Available ? $"GEMM {m}x{n}x{k} exceeds BLAS's 32-bit sizes" : $"{LibraryName} cannot be loaded"),
            _ => fits && Available,
        };
    }

    // CBLAS enums.
    private const int RowMajor = 101, NoTrans = 111, Trans = 112;

    [LibraryImport(LibraryName)]
    private static partial void cblas_dgemm(int order, int transA, int transB, int m, int n, int k,
        double alpha, double* a, int lda, double* b, int ldb, double beta, double* c, int ldc);

    [LibraryImport(LibraryName)]
    private static partial void cblas_sgemm(int order, int transA, int transB, int m, int n, int k,
        float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc);

    /// <summary>C [m, n] = A [m, k] op(B) (+ C when <paramref name="accumulate"/>), doubles.</summary>
    public static void Gemm(bool transB, long m, long n, long k, ReadOnlySpan<double> a, ReadOnlySpan<double> b, Span<double> c,
        bool accumulate, Backend backend = Backend.Auto)
    {
        Check(m, n, k, a.Length, b.Length, c.Length);
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            if (!accumulate) c[..(int)(m * n)].Clear();
            return;
        }
        if (UseBlas(backend, m, n, k))
        {
            fixed (double* pa = a, pb = b, pc = c)
                cblas_dgemm(RowMajor, NoTrans, transB ? Trans : NoTrans, (int)m, (int)n, (int)k,
                    1.0, pa, (int)k, pb, transB ? (int)k : (int)n, accumulate ? 1.0 : 0.0, pc, (int)n);
            return;
        }
        Fallback(transB, (int)m, (int)n, (int)k, a, b, c, accumulate);
    }

    /// <summary>C [m, n] = A [m, k] op(B) (+ C when <paramref name="accumulate"/>), floats (f32 accumulation).</summary>
    public static void Gemm(bool transB, long m, long n, long k, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c,
        bool accumulate, Backend backend = Backend.Auto)
    {
        Check(m, n, k, a.Length, b.Length, c.Length);
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            if (!accumulate) c[..(int)(m * n)].Clear();
            return;
        }
        if (UseBlas(backend, m, n, k))
        {
            fixed (float* pa = a, pb = b, pc = c)
                cblas_sgemm(RowMajor, NoTrans, transB ? Trans : NoTrans, (int)m, (int)n, (int)k,
                    1.0f, pa, (int)k, pb, transB ? (int)k : (int)n, accumulate ? 1.0f : 0.0f, pc, (int)n);
            return;
        }
        Fallback(transB, (int)m, (int)n, (int)k, a, b, c, accumulate);
    }

    private static void Check(long m, long n, long k, int a, int b, int c)
    {
        if (m < 0 || n < 0 || k < 0 || a < m * k || b < k * n || c < m * n)
            throw new ArgumentException($"GEMM {m}x{n}x{k} with spans of {a}, {b} and {c} elements");
    }

    // Block sizes of the C# loop: a [MB x KB] panel of A against [KB x NB] of B stays in L1/L2.
    private const int MB = 32, KB = 128, NB = 512;

    /// <summary>The C# GEMM: i-p-j order with a vectorized row update (B [k, n]) or row dot products (B^T), blocked.</summary>
    internal static void Fallback<T>(bool transB, int m, int n, int k, ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!accumulate) c[..(m * n)].Clear();
        if (transB)
        {
            for (int i0 = 0; i0 < m; i0 += MB)
                for (int j0 = 0; j0 < n; j0 += MB)
                    for (int i = i0; i < Math.Min(m, i0 + MB); i++)
                    {
                        var arow = a.Slice(i * k, k);
                        for (int j = j0; j < Math.Min(n, j0 + MB); j++)
                            c[i * n + j] += TensorPrimitives.Dot(arow, b.Slice(j * k, k));
                    }
            return;
        }
        for (int i0 = 0; i0 < m; i0 += MB)
            for (int p0 = 0; p0 < k; p0 += KB)
                for (int j0 = 0; j0 < n; j0 += NB)
                {
                    int nb = Math.Min(NB, n - j0);
                    for (int i = i0; i < Math.Min(m, i0 + MB); i++)
                    {
                        var crow = c.Slice(i * n + j0, nb);
                        for (int p = p0; p < Math.Min(k, p0 + KB); p++)
                        {
                            TensorPrimitives.MultiplyAdd(b.Slice(p * n + j0, nb), a[i * k + p], crow, crow);
                        }
                    }
                }
    }
}
