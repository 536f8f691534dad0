using AutoSpIR.Runtime.Comm;

namespace AutoSpIR.Runtime.Kernels;

/// <summary>
/// The collectives of the <c>dist</c> dialect, in the local per-rank view, on the kernel
/// context's communicator (so only under <see cref="Interpreter.RunSpmd"/>). Every op names a
/// mesh (<c>mesh = @mesh</c>) and the axes of its group (<c>axes = ["sp"]</c>): the ranks that
/// share every mesh coordinate except those of the axes (<see cref="MeshGroups"/>). The kernels
/// read only attributes and result types, so they also run generic ops of these names.
/// <code>
/// dist.all_reduce %x {mesh, axes, reduction = "sum"|"max"}         T -> T
/// dist.all_gather %x {mesh, axes, dim}                               concat along dim in group order
/// dist.reduce_scatter %x {mesh, axes, dim}                           sum, keep chunk #position of dim
/// dist.all_to_all %x {mesh, axes, split_dim, concat_dim}
/// dist.shift %x {mesh, axes, offset = k, rotate?, fill?}             position i gets (i - k)'s tensor (or fill)
/// dist.axis_index {mesh, axes} : tensor&lt;i64&gt;                         this rank's position
/// </code>
/// </summary>
public sealed class DistKernels : IKernelSet
{
    public void Register(KernelTable table)
    {
        table.Add("dist.all_reduce", AllReduce);
        table.Add("dist.all_gather", AllGather);
        table.Add("dist.reduce_scatter", ReduceScatter);
        table.Add("dist.all_to_all", AllToAll);
        table.Add("dist.shift", Shift);
        table.Add("dist.axis_index", AxisIndex);
    }

    private static HostTensor[] AllReduce(KernelContext k)
    {
        var op = k.Op.GetString("reduction") switch
        {
            null or "sum" => ReduceOp.Sum,
            "max" => ReduceOp.Max,
            var other => throw k.Error($"has reduction \"{other}\"; the reductions are \"sum\" and \"max\""),
        };
        return Communicate(k, (c, g) => c.AllReduce(k.Input(0), g, op, k.ResultType(0)));
    }

    private static HostTensor[] AllGather(KernelContext k)
    {
        int dim = IntAttr(k, "dim");
        return Communicate(k, (c, g) => c.AllGather(k.Input(0), g, dim, k.ResultType(0)));
    }

    private static HostTensor[] ReduceScatter(KernelContext k)
    {
        int dim = IntAttr(k, "dim");
        return Communicate(k, (c, g) => c.ReduceScatter(k.Input(0), g, dim, k.ResultType(0)));
    }

    private static HostTensor[] AllToAll(KernelContext k)
    {
        int split = IntAttr(k, "split_dim"), concat = IntAttr(k, "concat_dim");
        return Communicate(k, (c, g) => c.AllToAll(k.Input(0), g, split, concat, k.ResultType(0)));
    }

    private static HostTensor[] Shift(KernelContext k)
    {
        int offset = IntAttr(k, "offset");
        bool rotate = k.Op.GetAttr("rotate") switch
        {
            null => false,
            UnitAttr => true,
            BoolAttr b => b.Value,
            var other => throw k.Error($"has rotate = {other}; it is a unit or boolean attribute"),
        };
        var fill = k.Op.GetAttr("fill");
        if (fill is not null && rotate) throw k.Error("has a fill with rotate; fill has no meaning with rotate");
        return Communicate(k, (c, g) =>
        {
            var y = c.Shift(k.Input(0), g, offset, rotate, k.ResultType(0));
            // No source: the communicator gives zeros; a fill replaces them.
            if (fill is null || rotate || Dialects.Dist.Shift.SourceOf(Array.IndexOf(g, c.Rank), g.Length, offset, rotate) >= 0) return y;
            return Filled(k, y.Type, fill);
        });
    }

    /// <summary>A tensor of <paramref name="type"/> filled with <paramref name="fill"/> (an integer for integer types; rounded once for float types).</summary>
    private static HostTensor Filled(KernelContext k, TensorType type, Attribute fill)
    {
        var r = new HostTensor(type);
        if (r.Ints is not null)
        {
            if (fill is not IntegerAttr i) throw k.Error($"has fill = {fill} for the integer element type {type.Element}; it must be an integer");
            Array.Fill(r.Ints, Numerics.Wrap(i.Value, type.Element));
        }
        else
        {
            double v = fill switch
            {
                FloatAttr f => f.Value,
                IntegerAttr i => i.Value,
                _ => throw k.Error($"has fill = {fill}; it must be a number"),
            };
            if (r.F64 is not null) Array.Fill(r.F64, v);
            else Array.Fill(r.F32!, Numerics.RoundToFloat(v, type.Element.Kind));
        }
        return r;
    }

    // No communication: the position follows from the rank and the mesh.
    private static HostTensor[] AxisIndex(KernelContext k)
    {
        var (mesh, axes) = MeshAndAxes(k);
        var r = k.NewResult();
        if (r.Count != 1) throw k.Error($"has result type {r.Type}; an axis index is one element");
        r.Set(0, MeshGroups.Position(mesh, axes, k.Comm.Rank));
        return new[] { r };
    }

    /// <summary>
    /// Runs a collective over the op's group. A bad call (the communicator's ArgumentException) becomes an
    /// error at the op; a CommunicatorException keeps its kind and gets the op's location.
    /// </summary>
    private static HostTensor[] Communicate(KernelContext k, Func<ICommunicator, int[], HostTensor> collective)
    {
        if (k.Inputs.Length != 1 || k.Op.NumResults != 1)
            throw k.Error($"takes one operand and gives one result, not {k.Inputs.Length} and {k.Op.NumResults}");
        var comm = k.Comm;
        var (mesh, axes) = MeshAndAxes(k);
        var group = MeshGroups.Group(mesh, axes, comm.Rank);
        try
        {
            return new[] { collective(comm, group) };
        }
        catch (ArgumentException e)
        {
            throw k.Error(e.Message);
        }
        catch (CommunicatorException e) when (e.Location is null)
        {
            throw e.At(k.Op.Location);
        }
    }

    /// <summary>The op's mesh and group axes (checked against the mesh).</summary>
    private static (Mesh Mesh, string[] Axes) MeshAndAxes(KernelContext k)
    {
        var mesh = k.Mesh();
        if (k.Op.GetAttr("axes") is not ArrayAttr arr || arr.Elements.Any(a => a is not StringAttr))
            throw k.Error("needs 'axes', an array of the mesh axis names of its group (axes = [\"sp\"])");
        var axes = arr.Elements.Select(a => ((StringAttr)a).Value).ToArray();
        try
        {
            MeshGroups.GroupSize(mesh, axes);
        }
        catch (ArgumentException e)
        {
            throw k.Error(e.Message);
        }
        return (mesh, axes);
    }

    private static int IntAttr(KernelContext k, string name) =>
        k.Op.GetInt(name) is { } v && v is >= int.MinValue and <= int.MaxValue
            ? (int)v
            : throw k.Error($"needs an integer attribute '{name}'");
}
