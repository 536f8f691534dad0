using static AutoSpIR.Runtime.Kernels.KernelUtil;

namespace AutoSpIR.Runtime.Kernels;

/// <summary>
/// tensor.matmul (batched, optional transpose_b), tensor.linear (y = x W^T + b) and
/// tensor.linear_wgrad (dW = dy^T x over the flattened leading dimensions) through
/// <see cref="Blas"/>: f64 with dgemm; f32 with sgemm (f32 accumulation, as every BLAS does:
/// the one place a kernel does not compute in double); bf16 and f16 widened to double, dgemm,
/// rounded once. Integer matmul (the dialect allows any element type for matmul) wraps in
/// the element width like two's complement hardware (i1 is arithmetic mod 2).
/// </summary>
public sealed class MatmulKernels : IKernelSet
{
    private readonly Blas.Backend _backend;

    public MatmulKernels() : this(Blas.Backend.Auto) { }

    /// <summary>Kernels that use <paramref name="backend"/> (tests compare OpenBLAS with the C# loop).</summary>
    public MatmulKernels(Blas.Backend backend) { _backend = backend; }

    public void Register(KernelTable table)
    {
        table.Add("tensor.matmul", Matmul);
        table.Add("tensor.linear", Linear);
        table.Add("tensor.linear_wgrad", LinearWgrad);
    }

    private HostTensor[] Matmul(KernelContext k)
    {
        var a = k.Input(0);
        var b = k.Input(1);
        var type = k.ResultType(0);
        bool tb = k.Op.HasAttr("transpose_b");
        int r = a.Type.Rank;
        long m = a.Type.Dim(r - 2), kk = a.Type.Dim(r - 1), n = type.Dim(r - 1);
        long batch = Product(a.Type.Shape, 0, r - 2);
        long sa = m * kk, sb = kk * n, sc = m * n;
        switch (type.Element.Kind)
        {
            case ScalarKind.F64:
            {
                var c = new double[type.NumElements];
                for (long i = 0; i < batch; i++)
                    Blas.Gemm(tb, m, n, kk, a.F64.AsSpan((int)(i * sa), (int)sa), b.F64.AsSpan((int)(i * sb), (int)sb),
                        c.AsSpan((int)(i * sc), (int)sc), accumulate: false, _backend);
                return new[] { new HostTensor(type, f64: c) };
            }
            case ScalarKind.F32:
            {
                var c = new float[type.NumElements];
                for (long i = 0; i < batch; i++)
                    Blas.Gemm(tb, m, n, kk, a.F32.AsSpan((int)(i * sa), (int)sa), b.F32.AsSpan((int)(i * sb), (int)sb),
                        c.AsSpan((int)(i * sc), (int)sc), accumulate: false, _backend);
                return new[] { new HostTensor(type, f32: c) };
            }
            case ScalarKind.BF16 or ScalarKind.F16:
            {
                var ad = Read(a);
                var bd = Read(b);
                var c = new double[type.NumElements];
                for (long i = 0; i < batch; i++)
                    Blas.Gemm(tb, m, n, kk, ad.AsSpan((int)(i * sa), (int)sa), bd.AsSpan((int)(i * sb), (int)sb),
                        c.AsSpan((int)(i * sc), (int)sc), accumulate: false, _backend);
                return new[] { Write(type, c) };
            }
            default:
            {
                var res = k.NewResult();
                var ai = a.Ints!;
                var bi = b.Ints!;
                var ci = res.Ints!;
                for (long bt = 0; bt < batch; bt++)
                    for (long i = 0; i < m; i++)
                        for (long j = 0; j < n; j++)
                        {
                            long acc = 0;
                            for (long p = 0; p < kk; p++)
                                acc = unchecked(acc + ai[bt * sa + i * kk + p] * bi[bt * sb + (tb ? j * kk + p : p * n + j)]);
                            ci[bt * sc + i * n + j] = Numerics.Wrap(acc, type.Element);
                        }
                return new[] { res };
            }
        }
    }

    private HostTensor[] Linear(KernelContext k)
    {
        var x = k.Input(0);
        var w = k.Input(1);
        var bias = k.Inputs.Length > 2 ? k.Input(2) : null;
        var type = k.ResultType(0);
        int r = x.Type.Rank;
        long rows = Product(x.Type.Shape, 0, r - 1), inF = x.Type.Dim(r - 1), outF = w.Type.Dim(0);
        switch (type.Element.Kind)
        {
            case ScalarKind.F64:
            {
                var c = new double[type.NumElements];
                if (bias is not null) FillRows(c, bias.F64!, rows);
                Blas.Gemm(true, rows, outF, inF, x.F64, w.F64, c, accumulate: bias is not null, _backend);
                return new[] { new HostTensor(type, f64: c) };
            }
            case ScalarKind.F32:
            {
                var c = new float[type.NumElements];
                if (bias is not null) FillRows(c, bias.F32!, rows);
                Blas.Gemm(true, rows, outF, inF, x.F32, w.F32, c, accumulate: bias is not null, _backend);
                return new[] { new HostTensor(type, f32: c) };
            }
            default:
            {
                var c = new double[type.NumElements];
                if (bias is not null) FillRows(c, Read(bias), rows);
                Blas.Gemm(true, rows, outF, inF, Read(x), Read(w), c, accumulate: bias is not null, _backend);
                return new[] { Write(type, c) };
            }
        }
    }

    // dW [N, K] = dy2^T [N, M] x2 [M, K]: dy transposed into a buffer, then one GEMM (Blas takes
    // no transposed A), the same GEMM a reshape + transpose + matmul would run.
    private HostTensor[] LinearWgrad(KernelContext k)
    {
        var dy = k.Input(0);
        var x = k.Input(1);
        var type = k.ResultType(0);
        int r = x.Type.Rank;
        long m = Product(x.Type.Shape, 0, r - 1), n = dy.Type.Dim(r - 1), kk = x.Type.Dim(r - 1);
        switch (type.Element.Kind)
        {
            case ScalarKind.F64:
            {
                var c = new double[type.NumElements];
                Blas.Gemm(false, n, kk, m, TransposeRows(dy.F64!, m, n), x.F64, c, accumulate: false, _backend);
                return new[] { new HostTensor(type, f64: c) };
            }
            case ScalarKind.F32:
            {
                var c = new float[type.NumElements];
                Blas.Gemm(false, n, kk, m, TransposeRows(dy.F32!, m, n), x.F32, c, accumulate: false, _backend);
                return new[] { new HostTensor(type, f32: c) };
            }
            default:
            {
                var c = new double[type.NumElements];
                Blas.Gemm(false, n, kk, m, TransposeRows(Read(dy), m, n), Read(x), c, accumulate: false, _backend);
                return new[] { Write(type, c) };
            }
        }
    }

    /// <summary>The [cols, rows] transpose of a row-major [rows, cols] matrix.</summary>
    private static T[] TransposeRows<T>(T[] a, long rows, long cols)
    {
        var t = new T[a.LongLength];
        for (long i = 0; i < rows; i++)
            for (long j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
        return t;
    }

    private static void FillRows<T>(T[] c, T[] row, long rows)
    {
        for (long i = 0; i < rows; i++) Array.Copy(row, 0, c, i * row.LongLength, row.LongLength);
    }
}
