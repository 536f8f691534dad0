using System.Globalization;
using AutoSpIR.Dialects.Dist;

namespace AutoSpIR.Passes.AutoSp;

/// <summary>
/// <c>comm-report</c>: prints, per function of a per-rank program, every collective with its
/// group and the bytes this rank sends for it (each op's <see cref="OpDef.CommBytes"/>: the
/// exact per-rank volume of the standard algorithm), then the totals per collective kind and
/// per step (one execution of the function). It changes nothing. Output goes to the report
/// stream (standard error in autosp-opt), like cost-report.
/// </summary>
public sealed class CommReport(bool perOp) : Pass
{
    public override string Name => "comm-report";

    public override bool Run(Operation root, PassContext pc)
    {
        var funcs = new List<Operation>();
        if (root.Name == "func.func") funcs.Add(root);
        else root.Walk(o => { if (o.Name == "func.func") funcs.Add(o); });

        var w = pc.Report;
        foreach (var f in funcs)
        {
            w.WriteLine($"comm-report @{f.GetString("sym_name") ?? "?"}");
            if (perOp) w.WriteLine($"  {"collective",-20} {"location",-12} {"group",-18} {"bytes sent",16}");
            var perKind = new SortedDictionary<string, (int Count, long Bytes)>(StringComparer.Ordinal);
            long total = 0;
            f.Walk(op =>
            {
                if (op.Def?.CommBytes is not { } commBytes) return;
                long bytes = commBytes(op);
                total += bytes;
                perKind[op.Name] = perKind.TryGetValue(op.Name, out var k) ? (k.Count + 1, k.Bytes + bytes) : (1, bytes);
                if (perOp) w.WriteLine($"  {op.Name,-20} {Where(op),-12} {GroupText(op),-18} {Num(bytes),16}");
            });
            foreach (var (kind, (count, bytes)) in perKind)
                w.WriteLine($"  {kind + " x" + count,-51} {Num(bytes),16}");
            w.WriteLine($"  {"total per step",-51} {Num(total),16}");
        }
        return true;
    }

    private static string GroupText(Operation op) =>
        Group.Of(op) is { } g ? $"{string.Join(",", g.Axes)} (G={g.Size})" : "?";

    private static string Where(Operation op) => op.Location.IsKnown ? $"line {op.Location.Line}" : "-";

    private static string Num(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
}
