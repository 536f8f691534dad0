using AutoSpIR.Runtime;
using AutoSpIR.Runtime.Comm;

namespace AutoSpIR.Tests.Comm;

/// <summary>
/// Helpers of the communicator tests: per-rank inputs, straightforward references of the
/// collectives computed by index loops from every rank's input, exact comparisons.
/// </summary>
internal static class CT
{
    public static readonly int[] RankCounts = { 1, 2, 3, 4, 8 };
    public static readonly string[] Elements = { "f64", "f32", "bf16" };

    public static IEnumerable<object[]> RanksByElement() =>
        from p in RankCounts from e in Elements select new object[] { p, e };

    /// <summary>A tensor type in <paramref name="ctx"/>, element by name.</summary>
    public static TensorType Type(Context ctx, string elem, params long[] shape) =>
        ctx.Tensor(shape, ctx.LookupScalar(elem) ?? throw new ArgumentException(elem));

    /// <summary>Deterministic values for rank <paramref name="rank"/>, rounded to the element type (integers in [-50, 50)).</summary>
    public static HostTensor Input(TensorType type, int rank, int seed = 0)
    {
        var rng = new Random(1000 * seed + rank + 1);
        var t = new HostTensor(type);
        for (long i = 0; i < t.Count; i++)
        {
            double v = -2 + 4 * rng.NextDouble();
            if (t.Ints is not null) t.Ints[i] = rng.Next(-50, 50);
            else if (t.F64 is not null) t.F64[i] = v;
            else t.F32![i] = (float)Context.RoundTo(v, type.Element);
        }
        return t;
    }

    public static HostTensor[] Inputs(TensorType type, int ranks, int seed = 0) =>
        Enumerable.Range(0, ranks).Select(r => Input(type, r, seed)).ToArray();

    // ------------------------------------------------------------------ references (index loops)

    public static long[] Unflatten(long flat, IReadOnlyList<long> shape)
    {
        var idx = new long[shape.Count];
        for (int i = shape.Count - 1; i >= 0; i--)
        {
            idx[i] = flat % shape[i];
            flat /= shape[i];
        }
        return idx;
    }

    public static long Flatten(long[] idx, IReadOnlyList<long> shape)
    {
        long f = 0;
        for (int i = 0; i < shape.Count; i++) f = f * shape[i] + idx[i];
        return f;
    }

    private static double At(HostTensor x, long[] idx) => x.Get(Flatten(idx, x.Type.Shape.ToArray()));

    /// <summary>Sum in group order in double, rounded once (or max), elementwise; <paramref name="xs"/> by position.</summary>
    public static double[] Reduce(IReadOnlyList<HostTensor> xs, bool max, ScalarType elem)
    {
        var r = new double[xs[0].Count];
        for (long i = 0; i < r.Length; i++)
        {
            double acc = xs[0].Get(i);
            for (int q = 1; q < xs.Count; q++) acc = max ? Math.Max(acc, xs[q].Get(i)) : acc + xs[q].Get(i);
            r[i] = elem.IsFloat ? Context.RoundTo(acc, elem) : acc;
        }
        return r;
    }

    public static double[] AllGather(IReadOnlyList<HostTensor> xs, int dim, out long[] shape)
    {
        var s = xs[0].Type.Shape.ToArray();
        int d = dim < 0 ? dim + s.Length : dim;
        shape = (long[])s.Clone();
        shape[d] *= xs.Count;
        var r = new double[shape.Aggregate(1L, (a, b) => a * b)];
        for (long f = 0; f < r.Length; f++)
        {
            var idx = Unflatten(f, shape);
            int q = (int)(idx[d] / s[d]);
            idx[d] %= s[d];
            r[f] = At(xs[q], idx);
        }
        return r;
    }

    public static double[] ReduceScatter(IReadOnlyList<HostTensor> xs, int dim, int position, out long[] shape)
    {
        var s = xs[0].Type.Shape.ToArray();
        int d = dim < 0 ? dim + s.Length : dim;
        shape = (long[])s.Clone();
        shape[d] /= xs.Count;
        var elem = xs[0].Type.Element;
        var r = new double[shape.Aggregate(1L, (a, b) => a * b)];
        for (long f = 0; f < r.Length; f++)
        {
            var idx = Unflatten(f, shape);
            idx[d] += position * shape[d];
            double acc = At(xs[0], idx);
            for (int q = 1; q < xs.Count; q++) acc += At(xs[q], idx);
            r[f] = elem.IsFloat ? Context.RoundTo(acc, elem) : acc;
        }
        return r;
    }

    public static double[] AllToAll(IReadOnlyList<HostTensor> xs, int splitDim, int concatDim, int position, out long[] shape)
    {
        var s = xs[0].Type.Shape.ToArray();
        int a = splitDim < 0 ? splitDim + s.Length : splitDim, b = concatDim < 0 ? concatDim + s.Length : concatDim;
        int g = xs.Count;
        var chunk = (long[])s.Clone();
        chunk[a] /= g;
        shape = (long[])chunk.Clone();
        shape[b] *= g;
        var r = new double[shape.Aggregate(1L, (x, y) => x * y)];
        for (long f = 0; f < r.Length; f++)
        {
            var idx = Unflatten(f, shape);
            int q = (int)(idx[b] / chunk[b]);
            idx[b] %= chunk[b];
            idx[a] += position * chunk[a];
            r[f] = At(xs[q], idx);
        }
        return r;
    }

    public static double[] Shift(IReadOnlyList<HostTensor> xs, int offset, bool rotate, int position)
    {
        int g = xs.Count;
        int src = position - offset;
        if (rotate) src = ((src % g) + g) % g;
        return src >= 0 && src < g ? xs[src].ToDoubles() : new double[xs[0].Count];
    }

    // ------------------------------------------------------------------ checks

    /// <summary>Exact equality of shape, element kind and every value (bit patterns of -0 and NaN aside).</summary>
    public static void Equal(double[] expected, long[] shape, HostTensor actual, string what)
    {
        Assert.True(actual.Type.Shape.SequenceEqual(shape), $"{what}: shape {actual.Type.ShapeString}, expected {string.Join("x", shape)}");
        Assert.Equal(expected.LongLength, actual.Count);
        for (long i = 0; i < expected.LongLength; i++)
            if (!(expected[i] == actual.Get(i) || double.IsNaN(expected[i]) && double.IsNaN(actual.Get(i))))
                Assert.Fail($"{what}: element {i} is {actual.Get(i):R}, expected {expected[i]:R}");
    }

    /// <summary>Runs <paramref name="program"/> on every rank of a fresh world and returns the values (rethrowing the first real error).</summary>
    public static T[] Run<T>(int ranks, Func<ThreadCommunicator, T> program, TimeSpan? timeout = null) =>
        new ThreadWorld(ranks, timeout).Run(program);

    /// <summary>The ranks 0..p-1.</summary>
    public static int[] All(int p) => Enumerable.Range(0, p).ToArray();
}
