using System.Globalization;
using System.Numerics.Tensors;
using AutoSpIR.Runtime.Kernels;

namespace AutoSpIR.Runtime.Comm;

/// <summary>The collectives of <see cref="ICommunicator"/>, plus the barrier.</summary>
internal enum CollectiveKind { AllReduce, AllGather, ReduceScatter, AllToAll, Shift, Barrier }

/// <summary>
/// One rank's call of a collective, with its arguments normalized: what ranks compare to match
/// their calls, the result shape, the reference semantics (each rank computes its own result
/// from the G inputs, indexed by position) and the bytes the rank sends. Backend-independent.
/// </summary>
internal sealed class CollectiveCall
{
    /// <summary>
    /// The group as an array, checked for a call by <paramref name="rank"/> in a world of <paramref name="size"/>:
    /// it holds the rank, names no rank twice, and only ranks of the world (every backend's ArgumentException).
    /// </summary>
    public static int[] CheckGroup(IReadOnlyList<int> group, int rank, int size)
    {
        ArgumentNullException.ThrowIfNull(group);
        var g = group.ToArray();
        var seen = new HashSet<int>();
        foreach (var r in g)
        {
            if (r < 0 || r >= size) throw new ArgumentException($"group {ThreadWorld.List(g)} names rank {r}, but the world has ranks 0..{size - 1}", nameof(group));
            if (!seen.Add(r)) throw new ArgumentException($"group {ThreadWorld.List(g)} names rank {r} twice", nameof(group));
        }
        if (!seen.Contains(rank)) throw new ArgumentException($"group {ThreadWorld.List(g)} does not hold this rank", nameof(group));
        return g;
    }

    private CollectiveCall(CollectiveKind kind, TensorType? input, ReduceOp reduce = ReduceOp.Sum, int dim = 0, int dim2 = 0, int offset = 0, bool rotate = false)
    {
        Kind = kind;
        Input = input;
        Reduce = reduce;
        Dim = dim;
        Dim2 = dim2;
        Offset = offset;
        Rotate = rotate;
    }

    public CollectiveKind Kind { get; }
    /// <summary>The input's type; null for a barrier.</summary>
    public TensorType? Input { get; }
    public ReduceOp Reduce { get; }
    /// <summary>dim (all_gather, reduce_scatter) or split_dim (all_to_all), normalized.</summary>
    public int Dim { get; }
    /// <summary>concat_dim of all_to_all, normalized.</summary>
    public int Dim2 { get; }
    public int Offset { get; }
    public bool Rotate { get; }

    // ------------------------------------------------------------------ construction (argument checks)

    public static CollectiveCall AllReduce(HostTensor x, ReduceOp op) =>
        Enum.IsDefined(op) ? new(CollectiveKind.AllReduce, x.Type, reduce: op) : throw new ArgumentException($"unknown reduction {op}");

    public static CollectiveCall AllGather(HostTensor x, int dim) => new(CollectiveKind.AllGather, x.Type, dim: Normalize(x, dim, "dim"));

    public static CollectiveCall ReduceScatter(HostTensor x, int dim, int g)
    {
        int d = Normalize(x, dim, "dim");
        Divisible(x, d, g, "dist.reduce_scatter");
        return new(CollectiveKind.ReduceScatter, x.Type, dim: d);
    }

    public static CollectiveCall AllToAll(HostTensor x, int splitDim, int concatDim, int g)
    {
        int a = Normalize(x, splitDim, "split_dim"), b = Normalize(x, concatDim, "concat_dim");
        Divisible(x, a, g, "dist.all_to_all");
        return new(CollectiveKind.AllToAll, x.Type, dim: a, dim2: b);
    }

    public static CollectiveCall Shift(HostTensor x, int offset, bool rotate) => new(CollectiveKind.Shift, x.Type, offset: offset, rotate: rotate);

    public static CollectiveCall Barrier() => new(CollectiveKind.Barrier, null);

    private static int Normalize(HostTensor x, int dim, string what)
    {
        int rank = x.Type.Rank;
        if (dim < -rank || dim >= rank)
            throw new ArgumentException($"{what} {dim} is out of range for {x.Type} (rank {rank}: -{rank} <= {what} < {rank})");
        return dim < 0 ? dim + rank : dim;
    }

    private static void Divisible(HostTensor x, int d, int g, string op)
    {
        if (x.Type.Dim(d) % g != 0)
            throw new ArgumentException($"{op}: dimension {d} of {x.Type} has size {x.Type.Dim(d)}, which a group of {g} ranks cannot split evenly");
    }

    // ------------------------------------------------------------------ matching

    public string Name => Kind switch
    {
        CollectiveKind.AllReduce => "dist.all_reduce",
        CollectiveKind.AllGather => "dist.all_gather",
        CollectiveKind.ReduceScatter => "dist.reduce_scatter",
        CollectiveKind.AllToAll => "dist.all_to_all",
        CollectiveKind.Shift => "dist.shift",
        _ => "barrier",
    };

    /// <summary>The call as messages show it: <c>dist.all_gather(tensor&lt;4x8xf32&gt;) {dim = 1}</c>.</summary>
    public override string ToString()
    {
        var ci = CultureInfo.InvariantCulture;
        string args = Kind switch
        {
            CollectiveKind.AllReduce => $" {{reduction = \"{(Reduce == ReduceOp.Sum ? "sum" : "max")}\"}}",
            CollectiveKind.AllGather or CollectiveKind.ReduceScatter => $" {{dim = {Dim.ToString(ci)}}}",
            CollectiveKind.AllToAll => $" {{split_dim = {Dim.ToString(ci)}, concat_dim = {Dim2.ToString(ci)}}}",
            CollectiveKind.Shift => $" {{offset = {Offset.ToString(ci)}{(Rotate ? ", rotate" : "")}}}",
            _ => "",
        };
        return Input is null ? Name : $"{Name}({Input}){args}";
    }

    /// <summary>Two ranks made the same call: kind, arguments, input shape and element type.</summary>
    public bool Matches(CollectiveCall o) =>
        Kind == o.Kind && Reduce == o.Reduce && Dim == o.Dim && Dim2 == o.Dim2 && Offset == o.Offset && Rotate == o.Rotate
        && (Input is null ? o.Input is null : o.Input is not null && Interpreter.SameType(Input, o.Input));

    // ------------------------------------------------------------------ results

    /// <summary>The shape of the result in a group of <paramref name="g"/>.</summary>
    public long[] ResultShape(int g)
    {
        var s = Input!.Shape.ToArray();
        switch (Kind)
        {
            case CollectiveKind.AllGather: s[Dim] *= g; break;
            case CollectiveKind.ReduceScatter: s[Dim] /= g; break;
            case CollectiveKind.AllToAll:
                s[Dim] /= g;
                s[Dim2] *= g;
                break;
        }
        return s;
    }

    /// <summary>The result type: <paramref name="given"/> after checking its shape and element type, or a new one.</summary>
    public TensorType ResultType(int g, TensorType? given)
    {
        var shape = ResultShape(g);
        if (given is null) return RuntimeTypes.WithShape(Input!, shape);
        if (given.Element.Kind != Input!.Element.Kind || !given.Shape.SequenceEqual(shape))
            throw new ArgumentException($"{Name} over {g} ranks makes {RuntimeTypes.Tensor(shape, Input.Element)} from {Input}, but the result type given is {given}");
        return given;
    }

    /// <summary>The result of the rank at <paramref name="position"/>, from the inputs of all positions.</summary>
    public HostTensor Compute(IReadOnlyList<HostTensor> inputs, int position, TensorType type)
    {
        int g = inputs.Count;
        switch (Kind)
        {
            case CollectiveKind.AllReduce:
                return Combine(inputs, Reduce, type);
            case CollectiveKind.AllGather:
            {
                var r = new HostTensor(type);
                var start = new long[type.Rank];
                for (int q = 0; q < g; q++)
                {
                    start[Dim] = q * Input!.Dim(Dim);
                    TensorBoxes.Copy(inputs[q], new long[type.Rank], r, start, inputs[q].Type.Shape);
                }
                return r;
            }
            case CollectiveKind.ReduceScatter:
            {
                var start = new long[type.Rank];
                start[Dim] = position * type.Dim(Dim);
                var chunks = inputs.Select(x => TensorBoxes.Extract(x, start, type)).ToArray();
                return Combine(chunks, ReduceOp.Sum, type);
            }
            case CollectiveKind.AllToAll:
            {
                var r = new HostTensor(type);
                var box = Input!.Shape.ToArray();
                box[Dim] /= g;
                var from = new long[type.Rank];
                from[Dim] = position * box[Dim];
                var to = new long[type.Rank];
                for (int q = 0; q < g; q++)
                {
                    to[Dim2] = q * box[Dim2];
                    TensorBoxes.Copy(inputs[q], from, r, to, box);
                }
                return r;
            }
            case CollectiveKind.Shift:
            {
                int src = Source(position, g);
                if (src < 0) return new HostTensor(type);
                var x = inputs[src];
                return new HostTensor(type, f64: (double[]?)x.F64?.Clone(), f32: (float[]?)x.F32?.Clone(), ints: (long[]?)x.Ints?.Clone());
            }
            default:
                throw new InvalidOperationException("a barrier has no result");
        }
    }

    /// <summary>The position a shift's position receives from, or -1 for none (zeros).</summary>
    private int Source(int position, int g)
    {
        long src = (long)position - Offset;
        if (Rotate) return (int)(((src % g) + g) % g);
        return src >= 0 && src < g ? (int)src : -1;
    }

    /// <summary>The position a shift's position sends to, or -1 for none.</summary>
    private int Destination(int position, int g)
    {
        long dst = (long)position + Offset;
        if (Rotate) return (int)(((dst % g) + g) % g);
        return dst >= 0 && dst < g ? (int)dst : -1;
    }

    /// <summary>Elementwise sum or max in position order: floats in double, rounded once; integer sums wrap.</summary>
    private static HostTensor Combine(IReadOnlyList<HostTensor> xs, ReduceOp op, TensorType type)
    {
        int n = checked((int)type.NumElements);
        if (!type.Element.IsFloat)
        {
            var acc = (long[])xs[0].Ints!.Clone();
            for (int q = 1; q < xs.Count; q++)
            {
                var x = xs[q].Ints!;
                if (op == ReduceOp.Sum)
                    for (int i = 0; i < n; i++) acc[i] = unchecked(acc[i] + x[i]);
                else
                    for (int i = 0; i < n; i++) acc[i] = Math.Max(acc[i], x[i]);
            }
            if (op == ReduceOp.Sum)
                for (int i = 0; i < n; i++) acc[i] = Numerics.Wrap(acc[i], type.Element);
            return new HostTensor(type, ints: acc);
        }
        var sum = (double[])KernelUtil.Read(xs[0]).Clone();
        for (int q = 1; q < xs.Count; q++)
        {
            var x = KernelUtil.Read(xs[q]);
            if (op == ReduceOp.Sum) TensorPrimitives.Add(sum, x, sum);
            else
                for (int i = 0; i < n; i++) sum[i] = Math.Max(sum[i], x[i]);   // NaN wins, as in torch.max
        }
        return KernelUtil.Write(type, sum);
    }

    // ------------------------------------------------------------------ traffic

    /// <summary>Bytes the rank at <paramref name="position"/> sends (see <see cref="ICommunicator.BytesSent"/>).</summary>
    public long BytesSent(int g, int position)
    {
        long b = Input?.ByteSize ?? 0;
        return Kind switch
        {
            CollectiveKind.AllReduce => 2 * (g - 1) * b / g,
            CollectiveKind.AllGather => (g - 1) * b,
            CollectiveKind.ReduceScatter or CollectiveKind.AllToAll => (g - 1) * b / g,
            CollectiveKind.Shift => Destination(position, g) is var d && d >= 0 && d != position ? b : 0,
            _ => 0,
        };
    }
}
