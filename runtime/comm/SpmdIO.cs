using AutoSpIR.Dialects.Dist;
using AutoSpIR.Dialects.Func;

namespace AutoSpIR.Runtime.Comm;

/// <summary>
/// How a per-rank program meets global data: an argument or result whose attributes hold
/// <c>dist.sharding = #dist.sharding&lt;@mesh, [...]&gt;</c> has the local type of one shard; the
/// files hold the global tensor. Its global shape is the attribute <c>aspir.global_shape = [1, 10]</c>
/// when present (an array of integers, one per dimension, that shards into the local type),
/// else the local shape times the shard counts. A dimension of global size n over K shards
/// is cut into pieces of ceil(n/K) (<c>#dist.sharding</c> pads at the end): an argument's
/// padding holds its <c>aspir.pad_value</c> (an integer or float attribute, default 0; an
/// integer for integer tensors: -100 for labels, the ignore_index), a result's padding is dropped.
/// Other arguments are given whole to every rank, and other results must come out equal on every rank.
/// A rank-1 value with <c>aspir.flat_shape</c> is, in the files, a tensor of that shape, flattened
/// (row-major) before slicing and reshaped after assembling (ZeRO's flat shards).
/// </summary>
public static class SpmdIO
{
    public const string GlobalShapeAttr = "aspir.global_shape";
    public const string PadValueAttr = "aspir.pad_value";
    /// <summary>
    /// <c>aspir.flat_shape = [64, 64]</c> on a rank-1 argument or result (ZeRO's flattened shards,
    /// passes/zero): the files hold the tensor at this shape; the program sees it flattened row-major
    /// to its global shape [N] (N = the product), which <c>dist.sharding</c> then cuts into shards.
    /// </summary>
    public const string FlatShapeAttr = "aspir.flat_shape";

    /// <summary>
    /// The type of an argument or result in the files: <see cref="GlobalType"/>, or with
    /// <c>aspir.flat_shape</c> that shape (checked to hold the global type's elements).
    /// </summary>
    public static TensorType FileType(Operation func, TensorType local, DictionaryAttr attrs, string what)
    {
        var global = GlobalType(func, local, attrs, what);
        if (attrs.Get(FlatShapeAttr) is not { } given) return global;
        if (given is not ArrayAttr arr || arr.AsInts() is not { } shape || shape.Any(n => n < 0) || global.Rank != 1
            || shape.Aggregate(1L, (a, n) => a * n) != global.Dim(0))
            throw new ArgumentException($"{what}: {FlatShapeAttr} {given} must be a shape of {(global.Rank == 1 ? global.Dim(0) : "N")} elements, the global size of a rank-1 value (its global type is {global})");
        return new Context().Tensor(shape, local.Element);
    }

    private static HostTensor Reshaped(HostTensor t, TensorType to) => new(to, t.F64, t.F32, t.Ints);

    public static ShardingAttr? ShardingOf(DictionaryAttr attrs) => attrs.Get("dist.sharding") as ShardingAttr;

    public static Mesh MeshOf(Operation func, ShardingAttr sharding)
    {
        var module = func.ParentOp ?? throw new ArgumentException("the function is not in a module");
        var meshOp = module.Region(0).Ops.FirstOrDefault(o => o.Name == "dist.mesh" && o.GetString("sym_name") == sharding.Mesh)
                     ?? throw new ArgumentException($"no dist.mesh @{sharding.Mesh} in the program");
        return Mesh.FromOp(meshOp);
    }

    private static IReadOnlyList<IReadOnlyList<string>> DimAxes(ShardingAttr s) =>
        Enumerable.Range(0, s.Rank).Select(d => (IReadOnlyList<string>)s.AxesOf(d).ToList()).ToList();

    private static Dictionary<string, long> AxisSizes(Mesh mesh) =>
        mesh.Axes.Select((a, i) => (a, (long)mesh.Shape[i])).ToDictionary(p => p.a, p => p.Item2);

    /// <summary>
    /// The global type of an argument or result (<paramref name="what"/> names it) of local type
    /// <paramref name="local"/>: <c>aspir.global_shape</c> when given (checked against the local type),
    /// else with <c>dist.sharding</c> the local shape times the shard counts, else the local type.
    /// </summary>
    public static TensorType GlobalType(Operation func, TensorType local, DictionaryAttr attrs, string what)
    {
        var sharding = ShardingOf(attrs);
        var given = attrs.Get(GlobalShapeAttr);
        if (given is null)
        {
            if (sharding is null) return local;
            return new Context().Tensor(sharding.GlobalShape(local.Shape, AxisSizes(MeshOf(func, sharding))), local.Element);
        }
        if (given is not ArrayAttr arr || arr.AsInts() is not { } shape || shape.Length != local.Rank || shape.Any(n => n < 0))
            throw new ArgumentException($"{what}: {GlobalShapeAttr} must be an array of {local.Rank} sizes (the global shape of {local}), but is {given}");
        if (sharding is null)
        {
            if (!shape.AsSpan().SequenceEqual(local.Shape))
                throw new ArgumentException($"{what}: {GlobalShapeAttr} {given} differs from its type {local}, and without dist.sharding every rank holds the whole tensor");
            return local;
        }
        if (!sharding.TryLocalShape(shape, AxisSizes(MeshOf(func, sharding)), out var shard, out var error))
            throw new ArgumentException($"{what}: {GlobalShapeAttr} {given} does not shard as {sharding}: {error}");
        if (!shard.AsSpan().SequenceEqual(local.Shape))
            throw new ArgumentException($"{what}: {GlobalShapeAttr} {given} sharded as {sharding} gives shards of {ShapeText(shard)}, but its type is {local}");
        return new Context().Tensor(shape, local.Element);
    }

    /// <summary>Where the global shape of <paramref name="attrs"/>' value comes from, for messages.</summary>
    public static string GlobalShapeSource(DictionaryAttr attrs) =>
        attrs.Get(GlobalShapeAttr) is not null ? $"its {GlobalShapeAttr}"
        : $"its local shape times the shard counts; give {GlobalShapeAttr} = [...] when a size does not divide";

    /// <summary>
    /// The <c>aspir.pad_value</c> of an argument (0 when absent): an integer or float attribute,
    /// an integer in the element type's range for an integer tensor.
    /// </summary>
    public static double PadValue(DictionaryAttr attrs, ScalarType element, string what)
    {
        var attr = attrs.Get(PadValueAttr);
        double value = attr switch
        {
            null => 0,
            IntegerAttr i => i.Value,
            FloatAttr f => f.Value,
            _ => throw new ArgumentException($"{what}: {PadValueAttr} must be an integer or float attribute, but is {attr}"),
        };
        if (element.IsInteger)
        {
            var (min, max) = Numerics.IntRange(element);
            if (attr is IntegerAttr ia ? ia.Value < min || ia.Value > max : Math.Floor(value) != value || value < min || value >= max + 1.0)
                throw new ArgumentException($"{what}: {PadValueAttr} = {attr} is not an integer of its element type {element} (from {min} to {max})");
        }
        return value;
    }

    /// <summary>
    /// The number of ranks the per-rank function <paramref name="func"/> runs on: the size of the mesh
    /// its arguments are sharded over, else of the one <c>dist.mesh</c> of its module, else 1.
    /// </summary>
    public static int RankCount(Operation func)
    {
        for (int i = 0; i < FuncDialect.Signature(func).Inputs.Count; i++)
            if (ShardingOf(FuncDialect.ArgAttrs(func, i)) is { } s) return MeshOf(func, s).Size;
        var meshes = func.ParentOp?.Region(0).Ops.Where(o => o.Name == "dist.mesh").ToList() ?? new List<Operation>();
        return meshes.Count == 1 ? Mesh.FromOp(meshes[0]).Size : 1;
    }

    public static IReadOnlyList<HostTensor> ArgumentsOf(Operation func, IReadOnlyList<HostTensor> global, int rank)
    {
        var sig = FuncDialect.Signature(func);
        var args = new HostTensor[global.Count];
        for (int i = 0; i < args.Length; i++)
        {
            var local = (TensorType)sig.Inputs[i];
            var attrs = FuncDialect.ArgAttrs(func, i);
            var whole = attrs.Get(FlatShapeAttr) is null ? global[i] : Reshaped(global[i], GlobalType(func, local, attrs, ArgumentName(func, i)));
            args[i] = ShardingOf(attrs) is { } s
                ? Sharding.SliceForRank(whole, MeshOf(func, s), DimAxes(s), rank, local, PadValue(attrs, local.Element, ArgumentName(func, i)))
                : whole;
        }
        return args;
    }

    public static HostTensor[] Assemble(Operation func, RunResult[] perRank)
    {
        var resAttrs = func.GetAttr("res_attrs") as ArrayAttr;
        var results = new HostTensor[perRank[0].Results.Length];
        for (int i = 0; i < results.Length; i++)
        {
            var attrs = resAttrs is not null && i < resAttrs.Count && resAttrs[i] is DictionaryAttr d ? d : func.Context.EmptyDictionary;
            if (ShardingOf(attrs) is { } s)
            {
                var pieces = perRank.Select(r => r.Results[i]).ToList();
                var globalType = GlobalType(func, (TensorType)FuncDialect.Signature(func).Results[i], attrs, $"result #{i}");
                results[i] = Sharding.AssembleFromRanks(pieces, MeshOf(func, s), DimAxes(s), globalType);
                if (attrs.Get(FlatShapeAttr) is not null)
                    results[i] = Reshaped(results[i], FileType(func, (TensorType)FuncDialect.Signature(func).Results[i], attrs, $"result #{i}"));
                continue;
            }
            results[i] = perRank[0].Results[i];
            for (int r = 1; r < perRank.Length; r++)
            {
                var other = perRank[r].Results[i];
                for (long k = 0; k < other.Count; k++)
                    if (BitConverter.DoubleToInt64Bits(other.Get(k)) != BitConverter.DoubleToInt64Bits(results[i].Get(k)))
                        throw new ArgumentException($"result #{i} differs between rank 0 and rank {r} at element {k} " +
                                                    $"({results[i].Get(k)} vs {other.Get(k)}); a result without dist.sharding must be equal on every rank");
            }
        }
        return results;
    }

    /// <summary>How messages name argument #i: <c>argument #1 ('labels')</c>, by its aspir.name or aspir.param.</summary>
    public static string ArgumentName(Operation func, int i)
    {
        var attrs = FuncDialect.ArgAttrs(func, i);
        return (attrs.Get("aspir.name") ?? attrs.Get("aspir.param")) is StringAttr n ? $"argument #{i} ('{n.Value}')" : $"argument #{i}";
    }


    public static string ShapeText(ReadOnlySpan<long> shape) => shape.Length == 0 ? "a scalar" : string.Join("x", shape.ToArray());

}
