using System.Globalization;
using AutoSpIR.Dialects.Dist;

namespace AutoSpIR.Passes.AutoSp;

/// <summary>
/// <c>comm-report</c>: prints, per function of a per-rank program, every collective with its
/// group and the bytes this rank sends for it (each op's <see cref="OpDef.CommBytes"/>: the
/// exact per-rank volume of the standard algorithm), then the totals per collective kind and
/// per step (one execution of the function). It changes nothing. Output goes to the report
/// stream (standard error in autosp-opt), like cost-report.
/// <para>
/// Per layer: a collective may carry <c>aspir.layer = L</c> (<see cref="LayerAttr"/>), an
/// integer naming the decoder layer it belongs to; -1 or absent means no layer (the embedding,
/// the loss reduction, a gradient sync of the whole model). When some collective of a function
/// has a layer, the report adds a table with one row per layer, in increasing order, then a row
/// <c>other</c> for the rest: the bytes sent per collective kind (one column each, the kinds of
/// the function) and the row's total. The per-op lines then end with the layer (<c>-</c> for none).
/// The rows add up to the per-kind totals and to the total per step.
/// </para>
/// <para>Errors (located, and the pass fails): an <c>aspir.layer</c> that is not an integer &gt;= -1.</para>
/// </summary>
public sealed class CommReport(bool perOp) : Pass
{
    /// <summary>The attribute naming a collective's decoder layer (an integer; -1 or absent: none).</summary>
    public const string LayerAttr = "aspir.layer";

    public override string Name => "comm-report";

    public override bool Run(Operation root, PassContext pc)
    {
        var funcs = new List<Operation>();
        if (root.Name == "func.func") funcs.Add(root);
        else root.Walk(o => { if (o.Name == "func.func") funcs.Add(o); });

        // Read every collective first: a bad aspir.layer fails the pass before anything is printed.
        var collectives = new List<List<(Operation Op, long Bytes, long Layer)>>();
        bool ok = true;
        foreach (var f in funcs)
        {
            var list = new List<(Operation, long, long)>();
            f.Walk(op =>
            {
                if (op.Def?.CommBytes is not { } commBytes) return;
                if (!TryLayer(op, out long layer, out var error))
                {
                    pc.Diagnostics.Error(op.Location, $"comm-report: '{op.Name}' op: {error}");
                    ok = false;
                }
                list.Add((op, commBytes(op), layer));
            });
            collectives.Add(list);
        }
        if (!ok) return false;

        var w = pc.Report;
        for (int i = 0; i < funcs.Count; i++)
        {
            var list = collectives[i];
            bool layered = list.Any(c => c.Layer >= 0);
            w.WriteLine($"comm-report @{funcs[i].GetString("sym_name") ?? "?"}");
            if (perOp) w.WriteLine($"  {"collective",-20} {"location",-12} {"group",-18} {"bytes sent",16}" + (layered ? "  layer" : ""));
            var perKind = new SortedDictionary<string, (int Count, long Bytes)>(StringComparer.Ordinal);
            long total = 0;
            foreach (var (op, bytes, layer) in list)
            {
                total += bytes;
                perKind[op.Name] = perKind.TryGetValue(op.Name, out var k) ? (k.Count + 1, k.Bytes + bytes) : (1, bytes);
                if (perOp)
                    w.WriteLine($"  {op.Name,-20} {Where(op),-12} {GroupText(op),-18} {Num(bytes),16}"
                                + (layered ? $"  {(layer >= 0 ? layer.ToString(CultureInfo.InvariantCulture) : "-")}" : ""));
            }
            foreach (var (kind, (count, bytes)) in perKind)
                w.WriteLine($"  {kind + " x" + count,-51} {Num(bytes),16}");
            w.WriteLine($"  {"total per step",-51} {Num(total),16}");
            if (layered) PrintLayers(w, list, perKind.Keys.ToList());
        }
        return true;
    }

    /// <summary>
    /// The per-layer table: a row per layer (increasing), then "other"; a column per collective
    /// kind (<paramref name="kinds"/>, without the "dist." prefix), then the row total.
    /// </summary>
    private static void PrintLayers(TextWriter w, List<(Operation Op, long Bytes, long Layer)> list, List<string> kinds)
    {
        var rows = new SortedDictionary<long, long[]>();   // layer (-1: other) -> bytes per kind, then the total
        foreach (var (op, bytes, layer) in list)
        {
            var key = Math.Max(layer, -1);
            if (!rows.TryGetValue(key, out var row)) rows[key] = row = new long[kinds.Count + 1];
            row[kinds.IndexOf(op.Name)] += bytes;
            row[kinds.Count] += bytes;
        }
        rows.TryAdd(-1, new long[kinds.Count + 1]);
        var order = rows.Keys.Where(l => l >= 0).Append(-1).ToList();
        var headers = kinds.Select(k => k.StartsWith("dist.", StringComparison.Ordinal) ? k["dist.".Length..] : k).Append("total").ToList();
        var widths = headers.Select((h, c) => Math.Max(h.Length, order.Max(l => Num(rows[l][c]).Length))).ToList();
        w.WriteLine($"  {"bytes sent per layer",-20}" + string.Concat(headers.Select((h, c) => "  " + h.PadLeft(widths[c]))));
        foreach (var l in order)
            w.WriteLine($"  {(l >= 0 ? $"layer {l.ToString(CultureInfo.InvariantCulture)}" : "other"),-20}"
                        + string.Concat(rows[l].Select((b, c) => "  " + Num(b).PadLeft(widths[c]))));
    }

    /// <summary>The <see cref="LayerAttr"/> of a collective (-1 when absent), or false with the reason.</summary>
    private static bool TryLayer(Operation op, out long layer, out string error)
    {
        layer = -1;
        error = "";
        switch (op.GetAttr(LayerAttr))
        {
            case null:
                return true;
            case IntegerAttr { Value: >= -1 } i:
                layer = i.Value;
                return true;
            case var other:
                error = $"attribute '{LayerAttr}' must be an integer decoder layer >= 0 (or -1 for none), but got {other}";
                return false;
        }
    }

    private static string GroupText(Operation op) =>
        Group.Of(op) is { } g ? $"{string.Join(",", g.Axes)} (G={g.Size})" : "?";

    private static string Where(Operation op) => op.Location.IsKnown ? $"line {op.Location.Line}" : "-";

    private static string Num(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
}
