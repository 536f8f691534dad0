using System.Globalization;
using System.Text.RegularExpressions;
using Group = AutoSpIR.Dialects.Dist.Group;
using AutoSpIR.Dialects.Func;
using Xunit.Abstractions;

namespace AutoSpIR.Tests.AutoSp;

/// <summary>
/// The communication of <c>autosp{sp=P,dp=D}</c> equals what the Ulysses algorithm needs, layer
/// by layer, derived here from the algorithm and the model's shapes (not from the compiler):
/// <list type="bullet">
/// <item>All-to-all: every rank holds a sequence shard of s = S/P positions (S the sequence
/// length padded up to a multiple of P) of its B/D sequences. Attention needs the whole
/// sequence for a subset of heads, so q, k, v go from sequence shards to head shards and the
/// output comes back: four all-to-alls forward (q, k, v, o), and four backward (dO to heads;
/// dq, dk, dv back; q, k, v on heads are kept from the forward). An all-to-all of a local
/// tensor of N bytes keeps 1/P of it and sends (P-1)/P * N. q, o, dO, dq are [B/D, s, Hq, D];
/// k, v, dk, dv are [B/D, s, Hkv', D] where Hkv' = Hkv when P divides Hkv (each rank takes
/// Hkv/P whole KV heads), P when Hkv divides P (each KV head repeated P/Hkv times, so each rank
/// gets exactly the one its query heads read), else Hq (a KV head per query head: the groups
/// straddle ranks).</item>
/// <item>Gradients: every parameter is replicated, and every rank computes a partial sum of its
/// gradient over its tokens; one ring all-reduce over all D*P ranks per parameter,
/// 2*(G-1)*N/G bytes for N bytes (dialects/dist/AllReduce.cs: multiplied before the integer
/// division), in the parameter's layer (<c>model.layers.L.</c>).</item>
/// <item>Outside the layers: the gradients of the embedding, final norm and lm_head, two scalar
/// all-reduces (the loss's sum and its count of counted tokens), and one label per sequence
/// from the next rank (the shifted targets: <c>dist.shift</c> of [B/D, 1] i64).</item>
/// </list>
/// Checked against the compiled program (CommBytes of its collectives by <c>aspir.layer</c>) and
/// against the per-layer table the <c>comm-report</c> pass prints.
/// </summary>
public class CommVolumeTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Cases() => new[]
    {
        // hidden, heads, kv heads, head dim, inter, layers, vocab, seq, batch, tied, bias, sp, dp, dtype
        new object[] { 16, 4, 4, 4, 24, 2, 32, 16, 2, false, false, 2, 1, "f64" },   // MHA
        new object[] { 16, 4, 4, 4, 24, 2, 32, 16, 2, false, false, 4, 1, "f64" },   // MHA, one head per rank
        new object[] { 16, 8, 4, 4, 24, 2, 32, 16, 1, false, false, 4, 1, "f64" },   // GQA, Hkv = P
        new object[] { 16, 8, 4, 2, 24, 2, 32, 12, 2, true, false, 2, 1, "f32" },    // GQA, Hkv > P, tied
        new object[] { 16, 8, 2, 4, 24, 2, 32, 16, 2, false, false, 4, 1, "f64" },   // GQA, Hkv < P: KV heads repeated twice
        new object[] { 16, 4, 2, 4, 24, 3, 32, 18, 2, false, true, 4, 1, "f64" },    // tiny-llama's layout, 18 tokens padded to 20, bias
        new object[] { 16, 8, 1, 4, 24, 1, 32, 16, 1, false, false, 8, 1, "f64" },   // MQA over 8 ranks: one KV head repeated 8 times
        new object[] { 16, 8, 8, 2, 24, 2, 32, 20, 1, false, false, 8, 1, "f32" },   // MHA over 8 ranks, 20 tokens padded to 24
        new object[] { 12, 6, 6, 2, 16, 2, 32, 12, 1, false, false, 3, 1, "f64" },   // sp = 3, MHA
        new object[] { 12, 6, 3, 2, 16, 2, 32, 10, 2, false, true, 3, 1, "f64" },    // sp = 3, Hkv = P, 10 tokens padded to 12
        new object[] { 12, 6, 1, 2, 16, 2, 32, 12, 1, true, false, 3, 1, "f32" },    // sp = 3, MQA: repeated 3 times
        new object[] { 12, 6, 3, 2, 16, 2, 32, 12, 2, false, false, 2, 1, "f64" },   // 3 KV heads over 2 ranks: one per query head
        new object[] { 16, 4, 2, 4, 24, 2, 32, 16, 2, false, false, 2, 2, "f64" },   // sp = 2 x dp = 2
        new object[] { 16, 8, 2, 4, 24, 2, 32, 14, 4, false, false, 4, 2, "f32" },   // sp = 4 x dp = 2, Hkv < P, padded
    };

    private const string LayerAttr = "aspir.layer";

    private static readonly Regex LayerName = new(@"(?:^|\.)layers\.(\d+)\.", RegexOptions.CultureInvariant);

    [Theory]
    [MemberData(nameof(Cases))]
    public void EachLayerSendsTheUlyssesVolume(int hidden, int heads, int kvHeads, int headDim, int inter, int layers, int vocab,
        int seq, int batch, bool tied, bool bias, int sp, int dp, string dtype)
    {
        var c = new DecoderCase(hidden, heads, kvHeads, headDim, inter, layers, vocab, seq, batch, tied, bias, sp, dp, Seed: 1);
        long e = dtype == "f64" ? 8 : 4;
        long p = sp, g = (long)sp * dp;

        // ---------------------------------------------------------------- the analytic volume
        long sPadded = (seq + p - 1) / p * p, s = sPadded / p, bl = batch / dp;
        long kvSent = kvHeads % p == 0 ? kvHeads : p % kvHeads == 0 ? p : heads;
        long AllToAll(long n) => (p - 1) * n / p;
        long qBytes = bl * s * heads * headDim * e, kvBytes = bl * s * kvSent * headDim * e;
        long forward = AllToAll(qBytes) + 2 * AllToAll(kvBytes) + AllToAll(qBytes);    // q, k, v; o
        long backward = AllToAll(qBytes) + AllToAll(qBytes) + 2 * AllToAll(kvBytes);   // dO; dq, dk, dv
        long perLayerAllToAll = forward + backward;
        long Ring(long n) => 2 * (g - 1) * n / g;

        // The parameters, from the one-device program: name, bytes, layer (-1: none).
        var joint = AutoSpHarness.Joint(c, dtype);
        var jointFunc = AutoSpHarness.Step(joint);
        var parameters = new List<(string Name, long Bytes, long Layer)>();
        for (int i = 0; i < jointFunc.Region(0).EntryBlock!.Arguments.Count; i++)
            if (FuncDialect.ArgAttrs(jointFunc, i).Get("aspir.param") is StringAttr { Value: var name })
            {
                var t = (TensorType)jointFunc.Region(0).EntryBlock!.Arguments[i].Type;
                var m = LayerName.Match(name);
                parameters.Add((name, t.NumElements * e, m.Success ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : -1));
            }
        Assert.Equal(layers, parameters.Where(q => q.Layer >= 0).Select(q => q.Layer).Distinct().Count());
        var perLayerAllReduce = Enumerable.Range(0, layers).Select(l => parameters.Where(q => q.Layer == l).Sum(q => Ring(q.Bytes))).ToArray();
        long otherAllReduce = parameters.Where(q => q.Layer < 0).Sum(q => Ring(q.Bytes)) + 2 * Ring(e);   // + the loss's sum and count
        long otherShift = bl * 1 * 8;                                                                      // one i64 label per sequence
        output.WriteLine($"{c} {dtype}: S={sPadded} s={s} B/D={bl} Hkv'={kvSent}: all_to_all {perLayerAllToAll} per layer, " +
                         $"all_reduce {string.Join(", ", perLayerAllReduce)} per layer, other {otherAllReduce} + shift {otherShift}");

        // ---------------------------------------------------------------- the compiled program
        var module = AutoSpHarness.Joint(c, dtype);
        AutoSpHarness.RunPipeline(module, $"autosp{{sp={sp},dp={dp}}}");
        var func = AutoSpHarness.Step(module);
        var collectives = new List<(Operation Op, long Bytes, long Layer)>();
        func.Walk(op =>
        {
            if (op.DialectName == "dist" && op.Def?.CommBytes is not null)
                collectives.Add((op, op.Def.CommBytesOf(op), op.GetInt(LayerAttr) ?? -1));
        });
        for (int l = 0; l < layers; l++)
        {
            var a2a = collectives.Where(x => x.Op.Name == "dist.all_to_all" && x.Layer == l).ToList();
            Assert.Equal(8, a2a.Count);   // q, k, v, o forward; dO, dq, dk, dv backward
            Assert.All(a2a, x => Assert.Equal(new[] { "sp" }, Group.Of(x.Op)!.Axes));
            Assert.Equal(perLayerAllToAll, a2a.Sum(x => x.Bytes));
            Assert.Equal(perLayerAllReduce[l], collectives.Where(x => x.Op.Name == "dist.all_reduce" && x.Layer == l).Sum(x => x.Bytes));
            Assert.Equal(perLayerAllToAll + perLayerAllReduce[l], collectives.Where(x => x.Layer == l).Sum(x => x.Bytes));   // nothing else
        }
        Assert.DoesNotContain(collectives, x => x.Layer >= layers || x.Layer < -1);
        Assert.DoesNotContain(collectives, x => x.Op.Name == "dist.all_to_all" && x.Layer < 0);
        Assert.Equal(otherAllReduce, collectives.Where(x => x.Op.Name == "dist.all_reduce" && x.Layer < 0).Sum(x => x.Bytes));
        Assert.Equal(otherAllReduce + otherShift, collectives.Where(x => x.Layer < 0).Sum(x => x.Bytes));

        // One all-reduce over all G ranks per parameter gradient, of the ring's bytes, in the parameter's layer.
        var ret = func.Region(0).EntryBlock!.Ops.Last();
        Assert.Equal("func.return", ret.Name);
        var seen = new HashSet<string>();
        for (int i = 0; i < ret.NumOperands; i++)
        {
            if (FuncDialect.ResAttrs(func, i).Get("aspir.grad") is not StringAttr { Value: var name }) continue;
            var param = parameters.Single(q => q.Name == name);
            Assert.True(seen.Add(name));
            var reduce = ret.Operand(i).DefiningOp;
            Assert.True(reduce?.Name == "dist.all_reduce", $"grad.{name} comes from {reduce?.Name ?? "an argument"}, not a dist.all_reduce");
            var group = Group.Of(reduce!)!;
            Assert.Equal(g, group.Size);
            Assert.Equal(dp > 1 ? new[] { "dp", "sp" } : new[] { "sp" }, group.Axes);
            Assert.Equal("sum", reduce!.GetString("reduction"));
            Assert.Equal(Ring(param.Bytes), reduce.Def!.CommBytesOf(reduce));
            Assert.Equal(param.Layer, reduce.GetInt(LayerAttr) ?? -1);
        }
        Assert.Equal(parameters.Count, seen.Count);
        Assert.Equal(parameters.Count + 2, collectives.Count(x => x.Op.Name == "dist.all_reduce"));   // + the loss's sum and count

        // ---------------------------------------------------------------- the comm-report table
        var report = AutoSpHarness.RunPipeline(module, "comm-report");
        output.WriteLine(report);
        var rows = LayerTable(report, out var columns);
        var expectedRows = Enumerable.Range(0, layers).Select(l => $"layer {l}").Append("other").ToList();
        Assert.Equal(expectedRows, rows.Keys.ToList());
        long Cell(string row, string column) => columns.IndexOf(column) is var k and >= 0 ? rows[row][k] : 0;
        for (int l = 0; l < layers; l++)
        {
            Assert.Equal(perLayerAllToAll, Cell($"layer {l}", "all_to_all"));
            Assert.Equal(perLayerAllReduce[l], Cell($"layer {l}", "all_reduce"));
            Assert.Equal(perLayerAllToAll + perLayerAllReduce[l], Cell($"layer {l}", "total"));
        }
        Assert.Equal(0, Cell("other", "all_to_all"));
        Assert.Equal(otherAllReduce, Cell("other", "all_reduce"));
        Assert.Equal(otherShift, Cell("other", "shift"));
        Assert.Equal(otherAllReduce + otherShift, Cell("other", "total"));
        long step = perLayerAllToAll * layers + perLayerAllReduce.Sum() + otherAllReduce + otherShift;
        Assert.Matches($@"\n  total per step +{Regex.Escape(step.ToString("N0", CultureInfo.InvariantCulture))}\n", report);
    }

    /// <summary>
    /// comm-report's per-layer table: the header <c>bytes sent per layer  all_reduce  all_to_all ... total</c>
    /// gives the columns; each row, by its label (<c>layer 0</c>, ..., <c>other</c>), holds one number per column.
    /// </summary>
    private static Dictionary<string, long[]> LayerTable(string report, out List<string> columns)
    {
        var lines = report.Split('\n');
        int header = Array.FindIndex(lines, l => l.StartsWith("  bytes sent per layer", StringComparison.Ordinal));
        Assert.True(header >= 0, "no per-layer table in the report:\n" + report);
        columns = lines[header]["  bytes sent per layer".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        Assert.Equal("total", columns[^1]);
        var rows = new Dictionary<string, long[]>();
        foreach (var line in lines.Skip(header + 1))
        {
            var m = Regex.Match(line, @"^  (layer \d+|other) +((?:[\d,]+ *)+)$");
            if (!m.Success) break;
            var cells = m.Groups[2].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(x => long.Parse(x, NumberStyles.AllowThousands, CultureInfo.InvariantCulture)).ToArray();
            Assert.Equal(columns.Count, cells.Length);
            rows.Add(m.Groups[1].Value, cells);
        }
        return rows;
    }
}
