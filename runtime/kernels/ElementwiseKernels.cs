using System.Numerics.Tensors;
using static AutoSpIR.Runtime.Kernels.KernelUtil;

namespace AutoSpIR.Runtime.Kernels;

/// <summary>
/// tensor.add, sub, mul, div, neg, exp, log, rsqrt, silu, gelu (dialects/tensor/Elementwise.cs):
/// float element types only. Every element is computed in double and rounded once to the
/// result type. f32 add/sub/mul/div run directly in float: IEEE float arithmetic is exactly
/// that single rounding of the exact result.
/// </summary>
public sealed class ElementwiseKernels : IKernelSet
{
    public void Register(KernelTable table)
    {
        table.Add("tensor.add", Binary(TensorPrimitives.Add, TensorPrimitives.Add, TensorPrimitives.Add));
        table.Add("tensor.sub", Binary(TensorPrimitives.Subtract, TensorPrimitives.Subtract, TensorPrimitives.Subtract));
        table.Add("tensor.mul", Binary(TensorPrimitives.Multiply, TensorPrimitives.Multiply, TensorPrimitives.Multiply));
        table.Add("tensor.div", Binary(TensorPrimitives.Divide, TensorPrimitives.Divide));
        table.Add("tensor.neg", Unary((x, y) => TensorPrimitives.Negate(x, y)));
        table.Add("tensor.exp", Unary((x, y) => TensorPrimitives.Exp(x, y)));
        table.Add("tensor.log", Unary((x, y) => TensorPrimitives.Log(x, y)));
        table.Add("tensor.rsqrt", Unary((x, y) => TensorPrimitives.ReciprocalSqrt(x, y)));
        // silu(x) = x / (1 + e^-x), as the dialect writes it.
        table.Add("tensor.silu", Unary((x, y) =>
        {
            TensorPrimitives.Negate(x, y);
            TensorPrimitives.Exp(y, y);
            TensorPrimitives.Add(y, 1.0, y);
            TensorPrimitives.Divide(x, y, y);
        }));
        // gelu(x) = 0.5 x (1 + erf(x / sqrt 2)), the exact form.
        table.Add("tensor.gelu", Unary((x, y) =>
        {
            double invSqrt2 = 1.0 / Math.Sqrt(2.0);
            for (int i = 0; i < x.Length; i++) y[i] = 0.5 * x[i] * (1.0 + Numerics.Erf(x[i] * invSqrt2));
        }));
    }

    private delegate void SpanOp<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> r);
    private delegate void MapOp(ReadOnlySpan<double> x, Span<double> y);

    private static Kernel Binary(SpanOp<double> f64, SpanOp<float> f32, SpanOp<long>? ints = null) => k =>
    {
        var type = k.ResultType(0);
        var a = k.Input(0);
        var b = k.Input(1);
        if (HostTensor.Kind(type.Element) == HostTensor.Storage.Int)
        {
            if (ints is null) throw new RuntimeErrorException(k.Op.Location, $"'{k.Op.Name}' has no integer kernel");
            var r = new long[type.NumElements];
            ints(a.Ints!, b.Ints!, r);
            for (int i = 0; i < r.Length; i++) r[i] = Numerics.Wrap(r[i], type.Element);
            return new[] { new HostTensor(type, ints: r) };
        }
        if (type.Element.Kind == ScalarKind.F32)
        {
            var r = k.NewResult();
            f32(a.F32!, b.F32!, r.F32!);
            return new[] { r };
        }
        var y = new double[type.NumElements];
        f64(Read(a), Read(b), y);
        return new[] { Write(type, y) };
    };

    private static Kernel Unary(MapOp f) => k =>
    {
        var type = k.ResultType(0);
        var y = new double[type.NumElements];
        f(Read(k.Input(0)), y);
        return new[] { Write(type, y) };
    };
}
