using System.Text;

namespace AutoSpIR.IR;

/// <summary>
/// What sharding a factor of an op does to the op (see <see cref="ShardingRule"/>). The kind
/// tells sharding propagation and the partitioner whether an op can run on its shards as it
/// is, and if not, what it needs.
/// </summary>
public enum FactorKind
{
    /// <summary>
    /// Pass-through: every tensor that has the factor is cut along it the same way, and each
    /// shard computes its slice of the result from its slices of the operands, with no
    /// communication and no knowledge of where the slice sits. Examples: every dimension of an
    /// elementwise op; the batch, M and N of a matmul; the leading dimensions and the output
    /// features of a linear; the heads of rope and attention.
    /// </summary>
    Parallel,

    /// <summary>
    /// Contracting: the op sums over the factor. Sharding it leaves every result that lacks the
    /// factor a partial value over its shards, which must still be combined across them, with
    /// <see cref="ShardingRule.Combine"/> (a sum unless the rule says otherwise); a result that
    /// has the factor (only backward ops with several results: <c>rms_norm_grad</c>'s dx,
    /// <c>attention_grad</c>'s dq) is cut along it as for <see cref="Parallel"/>. Examples: K of
    /// a matmul; the input features of a linear (with a bias, the bias must then be added once,
    /// after the combination); the reduced dimensions of <c>reduce_sum</c> (sum),
    /// <c>reduce_mean</c> (mean of equal shards) and <c>reduce_max</c> (max); the rows of
    /// <c>rms_norm_grad</c> for dweight; batch and sequence of <c>cross_entropy</c>
    /// (<see cref="PartialCombine.CountedMean"/>).
    /// </summary>
    Reduction,

    /// <summary>
    /// The op needs the whole factor on every rank to compute locally: a sharded operand must
    /// be gathered first (or the op rewritten into another algorithm, which the partitioner
    /// does not do for it). Examples: the <c>softmax</c> dimension (the max and the sum run
    /// over all of it); the hidden dimension of <c>rms_norm</c>; the rows of an
    /// <c>embedding</c> table (a gather by data-dependent ids); the head dimension of
    /// <c>rope</c> (rotate-half pairs d with d + D/2); the key/value sequence of
    /// <c>attention</c>; the vocabulary of <c>cross_entropy</c>; sliced, padded and
    /// concatenated dimensions; a reshape the factors cannot describe.
    /// </summary>
    NeedReplication,

    /// <summary>
    /// Parallel, but the result depends on the GLOBAL index along the factor, not only on the
    /// operand values: sharding it is valid only when the partitioner gives each rank its offset
    /// (rope's <c>offset</c>, the row offset of a causal mask) or, with a <see cref="ShardingFactor.Halo"/>,
    /// the elements past its shard. Examples: the sequence of <c>rope</c>; the query sequence of
    /// causal <c>attention</c>; the sequence of <c>cross_entropy_grad</c> (label shift: halo);
    /// the table rows of <c>embedding_grad</c> (a rank owns the ids of its row range).
    /// </summary>
    Positional,
}

/// <summary>
/// How the partial results a sharded <see cref="FactorKind.Reduction"/> factor leaves are
/// combined across its shards.
/// </summary>
public enum PartialCombine
{
    /// <summary>Add them (matmul, linear, reduce_sum, the weight gradients of backward ops).</summary>
    Sum,
    /// <summary>Take the elementwise maximum (reduce_max).</summary>
    Max,
    /// <summary>Average them: each is the mean of an equal-size shard (reduce_mean).</summary>
    Mean,
    /// <summary>
    /// A mean over a data-dependent count (cross_entropy: the positions whose target is not
    /// ignore_index): each shard contributes its sum and its count, and the result is the sum
    /// of the sums divided by the sum of the counts; neither the local means nor a plain sum
    /// are right.
    /// </summary>
    CountedMean,
}

/// <summary>
/// One factor of a <see cref="ShardingRule"/>: a size and a kind. <see cref="Halo"/> counts the
/// elements past the end of a shard along the factor that the op reads too (cross_entropy reads
/// labels[s + shift], so its sequence factor has halo = shift): sharding the factor needs them
/// brought from the next shard (and the global end known, where there is no next shard).
/// A size may be <see cref="TensorType.Dynamic"/>.
/// </summary>
public sealed record ShardingFactor(long Size, FactorKind Kind, long Halo = 0);

/// <summary>
/// Shardy's factor-based sharding rule of one op instance: the op's iteration space as a list of
/// <see cref="Factors"/>, and, for every dimension of every operand and result, the factors whose
/// product is that dimension, major to minor. Usually a dimension is one factor, and a factor
/// shared by several tensors ties their dimensions together: sharding one of them along the
/// factor means sharding the others along it too (that is what propagation follows, in both
/// directions). A reshape merges factors into one dimension or splits one dimension into
/// several (<c>[2x16x64] -&gt; [2x16x4x16]</c>: the last operand dimension is factors k·l, the
/// result has k and l as two dimensions). A dimension with no factor has size 1.
/// <para>
/// Written as Shardy writes <c>#sdy.op_sharding_rule</c>, factors named i, j, k, ... in order:
/// <c>([i, j, k], [l, k])-&gt;([i, j, l]) {i=2, j=16, k=64, l=32} reduction={k}</c> is a linear
/// of [2, 16, 64] by a [32, 64] weight; a dimension of several factors concatenates their names
/// (<c>kl</c>), one of none is <c>1</c>, and a rank-0 tensor is <c>[]</c>.
/// </para>
/// <para>
/// Invariants, checked when it is built: every index names a factor, no factor appears twice in
/// one tensor, every factor appears somewhere, sizes are &gt;= 0 or dynamic, a halo is &gt;= 0.
/// <see cref="Check"/> checks it against an op's types: as many operands and results, each a
/// tensor of the rule's rank, and every dimension the product of its factors (a dimension with a
/// dynamic factor matches a dynamic size, or a static one its static factors divide).
/// </para>
/// <para>The tensor dialect declares one per op (<see cref="OpDef.ShardingRule"/>).</para>
/// </summary>
public sealed class ShardingRule
{
    private readonly ShardingFactor[] _factors;
    private readonly int[][][] _operands;
    private readonly int[][][] _results;

    /// <summary>
    /// A rule of <paramref name="factors"/>, with, per operand and per result, the factor indices of
    /// each of its dimensions (major to minor). Throws <see cref="ArgumentException"/> when the
    /// invariants do not hold (a bug in the op's rule, not in the user's IR).
    /// </summary>
    public ShardingRule(IEnumerable<ShardingFactor> factors, IEnumerable<IEnumerable<int[]>> operands,
        IEnumerable<IEnumerable<int[]>> results, PartialCombine combine = PartialCombine.Sum)
    {
        _factors = factors.ToArray();
        _operands = operands.Select(t => t.Select(d => d.ToArray()).ToArray()).ToArray();
        _results = results.Select(t => t.Select(d => d.ToArray()).ToArray()).ToArray();
        Combine = combine;
        if (Invalid() is { } error) throw new ArgumentException($"invalid sharding rule {this}: {error}");
    }

    public IReadOnlyList<ShardingFactor> Factors => _factors;
    public int NumOperands => _operands.Length;
    public int NumResults => _results.Length;

    /// <summary>How partial results of sharded <see cref="FactorKind.Reduction"/> factors combine.</summary>
    public PartialCombine Combine { get; }

    /// <summary>The factors of dimension <paramref name="dim"/> of operand #<paramref name="operand"/>, major to minor.</summary>
    public IReadOnlyList<int> OperandDim(int operand, int dim) => _operands[operand][dim];

    /// <summary>The factors of dimension <paramref name="dim"/> of result #<paramref name="result"/>, major to minor.</summary>
    public IReadOnlyList<int> ResultDim(int result, int dim) => _results[result][dim];

    public int OperandRank(int operand) => _operands[operand].Length;
    public int ResultRank(int result) => _results[result].Length;

    /// <summary>The factors of every dimension of operand #i (<paramref name="isResult"/> false) or result #i.</summary>
    public IReadOnlyList<IReadOnlyList<int>> Dims(bool isResult, int i) => (isResult ? _results : _operands)[i];

    /// <summary>
    /// Every place factor <paramref name="factor"/> appears: (is a result, tensor index, dimension,
    /// position within the dimension's factors, number of factors of the dimension).
    /// </summary>
    public IEnumerable<(bool IsResult, int Tensor, int Dim, int Position, int Count)> Uses(int factor)
    {
        foreach (var (isResult, tensors) in new[] { (false, _operands), (true, _results) })
            for (int t = 0; t < tensors.Length; t++)
                for (int d = 0; d < tensors[t].Length; d++)
                {
                    int p = Array.IndexOf(tensors[t][d], factor);
                    if (p >= 0) yield return (isResult, t, d, p, tensors[t][d].Length);
                }
    }

    /// <summary>Null when the rule fits an op with these operand and result types, else why not.</summary>
    public string? Check(IReadOnlyList<Type> operandTypes, IReadOnlyList<Type> resultTypes)
    {
        if (operandTypes.Count != _operands.Length)
            return $"the rule has {_operands.Length} operands, the op {operandTypes.Count}";
        if (resultTypes.Count != _results.Length)
            return $"the rule has {_results.Length} results, the op {resultTypes.Count}";
        return CheckTensors("operand", operandTypes, _operands) ?? CheckTensors("result", resultTypes, _results);
    }

    /// <summary>Null when the rule fits <paramref name="op"/>'s types, else why not.</summary>
    public string? Check(OpState s) => Check(s.OperandTypes, s.ResultTypes);

    private string? CheckTensors(string what, IReadOnlyList<Type> types, int[][][] dims)
    {
        for (int t = 0; t < types.Count; t++)
        {
            if (types[t] is not TensorType tt) return $"{what} #{t} has type {types[t]}, not a tensor";
            if (tt.Rank != dims[t].Length) return $"{what} #{t} has rank {tt.Rank}, the rule {dims[t].Length}";
            for (int d = 0; d < tt.Rank; d++)
            {
                long product = 1;
                bool dynamic = false;
                foreach (var f in dims[t][d])
                {
                    if (_factors[f].Size == TensorType.Dynamic) dynamic = true;
                    else product *= _factors[f].Size;
                }
                long size = tt.Dim(d);
                bool fits = dynamic
                    ? size == TensorType.Dynamic || (product != 0 && size % product == 0)
                    : size == product;
                if (!fits)
                    return $"{what} #{t} dimension {d} has size {(size == TensorType.Dynamic ? "?" : size)}, " +
                           $"but its factors [{Names(dims[t][d])}] make {(dynamic ? "a dynamic size" : product)}";
            }
        }
        return null;
    }

    private string? Invalid()
    {
        for (int f = 0; f < _factors.Length; f++)
        {
            if (_factors[f].Size < 0 && _factors[f].Size != TensorType.Dynamic) return $"factor {Name(f)} has size {_factors[f].Size}";
            if (_factors[f].Halo < 0) return $"factor {Name(f)} has halo {_factors[f].Halo}";
        }
        var used = new bool[_factors.Length];
        foreach (var tensor in _operands.Concat(_results))
        {
            var seen = new HashSet<int>();
            foreach (var dim in tensor)
                foreach (var f in dim)
                {
                    if (f < 0 || f >= _factors.Length) return $"factor index {f} is out of range (there are {_factors.Length} factors)";
                    if (!seen.Add(f)) return $"factor {Name(f)} appears twice in one tensor";
                    used[f] = true;
                }
        }
        int unused = Array.IndexOf(used, false);
        return unused >= 0 ? $"factor {Name(unused)} appears in no tensor" : null;
    }

    /// <summary>The name of factor #<paramref name="f"/> as Shardy prints it: i, j, ..., z, z_1, z_2, ...</summary>
    public static string Name(int f) => f < 18 ? ((char)('i' + f)).ToString() : "z_" + (f - 17);

    private static string Names(IEnumerable<int> fs) => string.Join(", ", fs.Select(Name));

    private static void AppendTensors(StringBuilder sb, int[][][] tensors)
    {
        sb.Append('(');
        for (int t = 0; t < tensors.Length; t++)
        {
            if (t > 0) sb.Append(", ");
            sb.Append('[');
            sb.Append(string.Join(", ", tensors[t].Select(d => d.Length == 0 ? "1" : string.Concat(d.Select(Name)))));
            sb.Append(']');
        }
        sb.Append(')');
    }

    /// <summary>Shardy's notation, with this IR's additions (need_replication, positional, halo, combine).</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        AppendTensors(sb, _operands);
        sb.Append("->");
        AppendTensors(sb, _results);
        var all = Enumerable.Range(0, _factors.Length);
        sb.Append(" {").Append(string.Join(", ", all.Select(f => $"{Name(f)}={(_factors[f].Size == TensorType.Dynamic ? "?" : _factors[f].Size)}"))).Append('}');
        foreach (var (kind, label) in new[] { (FactorKind.Reduction, "reduction"), (FactorKind.NeedReplication, "need_replication"), (FactorKind.Positional, "positional") })
        {
            var fs = all.Where(f => _factors[f].Kind == kind).ToArray();
            if (fs.Length > 0) sb.Append(' ').Append(label).Append("={").Append(Names(fs)).Append('}');
        }
        var halos = all.Where(f => _factors[f].Halo > 0).ToArray();
        if (halos.Length > 0) sb.Append(" halo={").Append(string.Join(", ", halos.Select(f => $"{Name(f)}={_factors[f].Halo}"))).Append('}');
        if (Combine != PartialCombine.Sum)
            sb.Append(" combine=").Append(Combine switch { PartialCombine.Max => "max", PartialCombine.Mean => "mean", _ => "counted_mean" });
        return sb.ToString();
    }
}
