namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%y = tensor.concat %a, %b {dim = -1} : (tensor&lt;2x3xf32&gt;, tensor&lt;2x5xf32&gt;) -&gt; tensor&lt;2x8xf32&gt;</c>:
/// joins tensors along one dimension (<c>torch.cat</c>).
/// <para>
/// Operands: one or more tensors of one rank (1 or more) and one element type (any).
/// Attribute <c>dim</c> (integer, required; negative counts from the end, -1 is the last).
/// Sizes must be equal in every other dimension; along <c>dim</c> the result size is the
/// sum of the operands' sizes (dynamic if one is). Semantics: the operands' slabs in
/// operand order: y[..., o_k + j, ...] = inputs[k][..., j, ...] with o_k the sum of the
/// sizes of the operands before k.
/// </para>
/// <para>Costs: 0 FLOPs; bytes = operands read + result written. Folds: a single operand to it.</para>
/// <para>Gradient: operand k's is the slab of dy at o_k along <c>dim</c> (a <c>tensor.slice</c>).</para>
/// <para>Sharding rule: every other dimension is one Parallel factor shared by all operands and the
/// result; <c>dim</c> is a NeedReplication factor of its own in each operand and in the result
/// (each operand is one slab of the joined dimension).</para>
/// </summary>
public static class Concat
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.concat",
        Summary = "Concatenates tensors along a dimension.",
        Operands = new[] { "inputs" },
        VariadicOperands = true,
        Attributes = new[] { new AttrSpec("dim", AttrKind.Integer, Required: true, Doc: "the dimension to join along; negative counts from the end") },
        Traits = OpTraits.Pure,
        InferResultTypes = Infer,
        Flops = _ => 0,
        Fold = (op, _) => op.NumOperands == 1 && ReferenceEquals(op.Operand(0).Type, op.Result(0).Type) ? FoldResult.Of(op.Operand(0)) : null,
        Gradient = Gradient,
        ShardingRule = Sharding,
    };

    private static ShardingRule? Sharding(OpState s)
    {
        if (s.OperandTypes.Count == 0 || s.Tensor(0) is not { Rank: > 0 } first || s.ResultTypes.Count != 1
            || s.ResultTypes[0] is not TensorType y || y.Rank != first.Rank || s.Int("dim") is not { } raw) return null;
        int dim = Dims.Normalize(raw, first.Rank);
        if (dim < 0) return null;
        var b = new ShardingRuleBuilder();
        var shared = new int[first.Rank];
        for (int d = 0; d < first.Rank; d++) shared[d] = d == dim ? -1 : b.Factor(first.Dim(d));
        for (int k = 0; k < s.OperandTypes.Count; k++)
        {
            if (s.Tensor(k) is not { } t || t.Rank != first.Rank) return null;
            var dims = (int[])shared.Clone();
            dims[dim] = b.Factor(t.Dim(dim), FactorKind.NeedReplication);
            b.Operand(dims);
        }
        var result = (int[])shared.Clone();
        result[dim] = b.Factor(y.Dim(dim), FactorKind.NeedReplication);
        return b.Result(result).Build();
    }

    private static Value?[] Gradient(GradientContext g)
    {
        var y = (TensorType)g.Result().Type;
        int dim = Dims.Normalize(g.Op.GetInt("dim")!.Value, y.Rank);
        var grads = new Value?[g.Op.NumOperands];
        long offset = 0;
        for (int k = 0; k < grads.Length; k++)
        {
            var t = (TensorType)g.Operand(k).Type;
            if (!t.IsStatic) throw new InvalidOperationException($"cannot slice the gradient of operand #{k} of the dynamic type {t}");
            var offsets = new long[y.Rank];
            offsets[dim] = offset;
            grads[k] = Grad.Op(g.Builder, Slice.Def, new[] { g.Grad()! },
                ("offsets", g.Context.IntArray(offsets)), ("sizes", g.Context.IntArray(t.Shape.ToArray())));
            offset += t.Dim(dim);
        }
        return grads;
    }

    private static Type[]? Infer(OpState s)
    {
        if (s.OperandTypes.Count == 0) return s.Fail("expects at least 1 operand, but got 0");
        if (!s.RequireTensor(0, out var first)) return null;
        if (!Dims.RequireInt(s, "dim", out var rawDim)) return null;
        if (first.Rank == 0) return s.Fail("cannot concatenate rank-0 tensors (operand #0 has type " + first + ")");
        if (!Dims.NormalizeAttr(s, "dim", rawDim, first.Rank, "operand #0", out int dim)) return null;
        var shape = first.Shape.ToArray();
        for (int k = 1; k < s.OperandTypes.Count; k++)
        {
            if (!s.RequireTensor(k, out var t)) return null;
            if (t.Rank != first.Rank)
                return s.Fail($"operand #{k} has rank {t.Rank}, expected {first.Rank} (the rank of operand #0)");
            if (t.Element != first.Element)
                return s.Fail($"operand #{k} has element type {t.Element}, expected {first.Element} (the element type of operand #0)");
            for (int i = 0; i < first.Rank; i++)
            {
                if (i == dim) continue;
                if (t.Dim(i) != first.Dim(i))
                    return s.Fail($"operand #{k} has size {Dims.Text(t.Dim(i))} in dimension {i}, expected {Dims.Text(first.Dim(i))} (the size of operand #0; only dimension {dim} may differ)");
            }
            shape[dim] = Dims.Add(shape[dim], t.Dim(dim));
        }
        return new Type[] { s.Context.Tensor(shape, first.Element) };
    }
}
