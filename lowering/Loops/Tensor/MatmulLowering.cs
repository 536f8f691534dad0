namespace AutoSpIR.Lowering.Loops.Tensor;

/// <summary>
/// Loop lowerings of matmul, linear and linear_wgrad: BLAS calls (<c>loop.gemm</c>) on the row-major
/// buffers, the leading dimensions flattened where the op contracts or keeps them together.
/// </summary>
internal static class MatmulLowering
{
    public static readonly (string Op, OpLowering Lower)[] Rules =
    {
        ("tensor.linear", Linear),
        ("tensor.linear_wgrad", LinearWgrad),
        ("tensor.matmul", Matmul),
    };

    /// <summary>y[M, N] = x[M, K] W[N, K]^T (+ bias[N] on every row, written first and accumulated into).</summary>
    private static void Linear(LoopBuilder b, Operation op, Value[] ins, Value[] outs)
    {
        var w = (TensorType)ins[1].Type;
        long n = w.Shape[0], k = w.Shape[1], m = ((TensorType)outs[0].Type).NumElements / n;
        var y = b.Reinterpret(outs[0], m, n);
        if (ins.Length > 2)
            b.Parallel(new[] { m, n }, i => b.Store(b.Load(ins[2], i[1]), y, i[0], i[1]));
        var zero = b.I(0);
        b.Gemm(ins[0], ins[1], outs[0], zero, zero, zero, m, n, k, lda: k, ldb: k, ldc: n, transA: false, transB: true,
            beta: ins.Length > 2 ? 1 : 0);
    }

    /// <summary>dw[N, K] = dy[M, N]^T x[M, K], every leading dimension flattened into M.</summary>
    private static void LinearWgrad(LoopBuilder b, Operation op, Value[] ins, Value[] outs)
    {
        var dw = (TensorType)outs[0].Type;
        long n = dw.Shape[0], k = dw.Shape[1], m = ((TensorType)ins[0].Type).NumElements / n;
        var zero = b.I(0);
        b.Gemm(ins[0], ins[1], outs[0], zero, zero, zero, n, k, m, lda: n, ldb: k, ldc: k, transA: true, transB: false);
    }

    /// <summary>Batched C[.., M, N] = A[.., M, K] B[.., K, N] (or B[.., N, K]^T with transpose_b): one GEMM per batch.</summary>
    private static void Matmul(LoopBuilder b, Operation op, Value[] ins, Value[] outs)
    {
        var a = (TensorType)ins[0].Type;
        var c = (TensorType)outs[0].Type;
        bool tb = op.HasAttr("transpose_b");
        long m = c.Shape[^2], n = c.Shape[^1], k = a.Shape[^1];
        long batch = c.NumElements / (m * n);
        if (batch == 1)
        {
            var zero = b.I(0);
            b.Gemm(ins[0], ins[1], outs[0], zero, zero, zero, m, n, k, lda: k, ldb: tb ? k : n, ldc: n, transA: false, transB: tb);
            return;
        }
        b.For(batch, i => b.Gemm(ins[0], ins[1], outs[0], b.Mul(i, b.I(m * k)), b.Mul(i, b.I(k * n)), b.Mul(i, b.I(m * n)),
            m, n, k, lda: k, ldb: tb ? k : n, ldc: n, transA: false, transB: tb));
    }
}
