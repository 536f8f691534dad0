using System.Globalization;

namespace AutoSpIR.Passes.Generic;

/// <summary>
/// <c>cost-report</c>: prints, per function, the FLOPs and bytes moved of every op
/// (from the cost functions declared with each op) and their totals. It changes nothing.
/// </summary>
public sealed class CostReport(bool perOp) : Pass
{
    public override string Name => "cost-report";

    public override bool Run(Operation root, PassContext pc)
    {
        var funcs = new List<Operation>();
        if (root.Name == "func.func") funcs.Add(root);
        else root.Walk(o => { if (o.Name == "func.func") funcs.Add(o); });

        long grandFlops = 0, grandBytes = 0;
        var w = pc.Report;
        foreach (var f in funcs)
        {
            var name = f.GetString("sym_name") ?? "?";
            w.WriteLine($"cost-report @{name}");
            if (perOp) w.WriteLine($"  {"op",-24} {"location",-16} {"flops",16} {"bytes",16}");
            long flops = 0, bytes = 0;
            f.Walk(op =>
            {
                if (ReferenceEquals(op, f) || op.Def is null) return;
                if (op.Def.Flops is null && op.Def.Bytes is null && op.Def.InferResultTypes is null && op.Name.StartsWith("func.", StringComparison.Ordinal)) return;
                var s = OpState.Of(op);
                long fl = op.Def.FlopsOf(s), by = op.Def.BytesOf(s);
                flops += fl;
                bytes += by;
                if (perOp)
                    w.WriteLine($"  {op.Name,-24} {Where(op),-16} {Num(fl),16} {Num(by),16}");
            });
            w.WriteLine($"  {"total",-24} {"",-16} {Num(flops),16} {Num(bytes),16}");
            grandFlops += flops;
            grandBytes += bytes;
        }
        if (funcs.Count > 1) w.WriteLine($"cost-report total: {Num(grandFlops)} flops, {Num(grandBytes)} bytes");
        return true;
    }

    private static string Where(Operation op) => op.Location.IsKnown ? $"line {op.Location.Line}" : "-";

    private static string Num(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
}
