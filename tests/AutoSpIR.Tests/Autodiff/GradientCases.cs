using System.Globalization;
using System.Text;

namespace AutoSpIR.Tests.Autodiff;

/// <summary>An argument of a gradient-check program: its name, shape, element type and values.</summary>
public sealed record CaseArg(string Name, long[] Shape, string Element, bool IsParam, double[]? Floats, long[]? Ints);

/// <summary>
/// A gradient-check program for one op: <c>loss = reduce_sum(op(inputs) * %r)</c> in f64, with
/// random weights %r so that every output element matters, and the values of its arguments.
/// </summary>
public sealed record GradientCase(string Op, string Text, IReadOnlyList<CaseArg> Args)
{
    public override string ToString() => Text;
}

/// <summary>
/// Builds a random <see cref="GradientCase"/> for each differentiable op of the tensor dialect,
/// deterministically from a <see cref="Random"/>: small random shapes and attributes, inputs in
/// the op's smooth domain (positive for log and rsqrt, denominators away from 0, well separated
/// values for reduce_max so a perturbation never changes the maximum). Some float operands are
/// plain inputs rather than parameters (their gradients must not be needed), and binary ops and
/// concat sometimes use one parameter twice (its gradients must add up).
/// </summary>
public sealed class GradientCases
{
    /// <summary>Every op with a gradient rule that has something to differentiate (tensor.constant has no operands).</summary>
    public static readonly string[] Ops =
    {
        "add", "sub", "mul", "div", "neg", "exp", "log", "rsqrt", "silu", "gelu",
        "matmul", "linear", "linear_wgrad", "embedding", "broadcast", "reshape", "transpose", "slice", "pad", "concat", "shift",
        "reduce_sum", "reduce_mean", "reduce_max", "softmax", "rms_norm", "rope", "attention", "cross_entropy", "count_valid", "cast",
    };

    private readonly Random _rng;
    private readonly List<CaseArg> _args = new();
    private readonly List<string> _body = new();

    private GradientCases(Random rng) { _rng = rng; }

    public static GradientCase Build(string op, Random rng) => new GradientCases(rng).Make(op);

    // ------------------------------------------------------------------ building blocks

    private int Next(int lo, int hiInclusive) => _rng.Next(lo, hiInclusive + 1);
    private bool Chance(double p) => _rng.NextDouble() < p;
    private double Uniform(double lo, double hi) => lo + (hi - lo) * _rng.NextDouble();

    private long[] Shape(int minRank, int maxRank, int maxDim = 3)
    {
        var s = new long[Next(minRank, maxRank)];
        for (int i = 0; i < s.Length; i++) s[i] = Next(1, maxDim);
        return s;
    }

    private static long Numel(long[] shape) => shape.Aggregate(1L, (a, b) => a * b);

    public static string T(long[] shape, string element = "f64") =>
        shape.Length == 0 ? $"tensor<{element}>" : $"tensor<{string.Join("x", shape)}x{element}>";

    private static string List(IEnumerable<long> v) => "[" + string.Join(", ", v) + "]";

    private static string Num(double v) => Attribute.FormatFloat(v);

    /// <summary>A float argument (a parameter, or a plain input) with values drawn by <paramref name="draw"/>.</summary>
    private string Float(string name, long[] shape, Func<double> draw, bool param = true)
    {
        var values = new double[Numel(shape)];
        for (int i = 0; i < values.Length; i++) values[i] = draw();
        _args.Add(new CaseArg(name, shape, "f64", param, values, null));
        return "%" + name;
    }

    private string Float(string name, long[] shape, double lo, double hi, bool param = true) => Float(name, shape, () => Uniform(lo, hi), param);

    private string Ints(string name, long[] shape, string element, Func<long> draw)
    {
        var values = new long[Numel(shape)];
        for (int i = 0; i < values.Length; i++) values[i] = draw();
        _args.Add(new CaseArg(name, shape, element, false, null, values));
        return "%" + name;
    }

    private void Line(string text) => _body.Add(text);

    /// <summary>Adds the weights and the loss after <c>%y</c> of shape <paramref name="y"/>, and prints the program.</summary>
    private GradientCase Finish(string op, long[] y)
    {
        Float("r", y, -1, 1, param: false);
        var ty = T(y);
        Line($"%wy = tensor.mul %y, %r : {ty}");
        Line($"%loss = tensor.reduce_sum %wy {{dims = {List(Enumerable.Range(0, y.Length).Select(i => (long)i))}}} : {ty} -> tensor<f64>");
        var sb = new StringBuilder();
        sb.Append($"func.func @{op.Replace('.', '_')}(");
        sb.Append(string.Join(", ", _args.Select(a => $"%{a.Name}: {T(a.Shape, a.Element)}" + (a.IsParam ? $" {{aspir.param = \"{a.Name}\"}}" : ""))));
        sb.Append(") -> tensor<f64> {\n");
        foreach (var l in _body) sb.Append("  ").Append(l).Append('\n');
        sb.Append("  func.return %loss : tensor<f64>\n}\n");
        return new GradientCase(op, sb.ToString(), _args.ToList());
    }

    // ------------------------------------------------------------------ one case per op

    private GradientCase Make(string op)
    {
        switch (op)
        {
            case "add" or "sub" or "mul" or "div":
            {
                var s = Shape(0, 3);
                var a = Float("a", s, -2, 2);
                var b = op != "div" && Chance(0.3) ? a
                    : op == "div" ? Float("b", s, () => (Chance(0.5) ? 1 : -1) * Uniform(0.5, 2), param: Chance(0.8))
                    : Float("b", s, -2, 2, param: Chance(0.8));
                Line($"%y = tensor.{op} {a}, {b} : {T(s)}");
                return Finish(op, s);
            }
            case "neg" or "exp" or "log" or "rsqrt" or "silu" or "gelu":
            {
                var s = Shape(0, 3);
                var x = op is "log" or "rsqrt" ? Float("x", s, 0.5, 2) : Float("x", s, -3, 3);
                Line($"%y = tensor.{op} {x} : {T(s)}");
                return Finish(op, s);
            }
            case "matmul":
            {
                var batch = Chance(0.5) ? new[] { (long)Next(1, 2) } : Array.Empty<long>();
                long m = Next(1, 3), k = Next(1, 3), n = Next(1, 3);
                bool tb = Chance(0.5);
                long[] sa = batch.Append(m).Append(k).ToArray(), sb = batch.Concat(tb ? new[] { n, k } : new[] { k, n }).ToArray();
                long[] sy = batch.Append(m).Append(n).ToArray();
                var a = Float("a", sa, -2, 2, param: Chance(0.8));
                var b = Float("b", sb, -2, 2);
                Line($"%y = tensor.matmul {a}, {b}{(tb ? " {transpose_b}" : "")} : ({T(sa)}, {T(sb)}) -> {T(sy)}");
                return Finish(op, sy);
            }
            case "linear":
            {
                var lead = Shape(0, 2);
                long inF = Next(1, 3), outF = Next(1, 3);
                long[] sx = lead.Append(inF).ToArray(), sw = { outF, inF }, sy = lead.Append(outF).ToArray();
                var x = Float("x", sx, -2, 2, param: Chance(0.7));
                var w = Float("w", sw, -2, 2);
                if (Chance(0.5))
                {
                    var b = Float("b", new[] { outF }, -2, 2);
                    Line($"%y = tensor.linear {x}, {w}, {b} : ({T(sx)}, {T(sw)}, {T(new[] { outF })}) -> {T(sy)}");
                }
                else Line($"%y = tensor.linear {x}, {w} : ({T(sx)}, {T(sw)}) -> {T(sy)}");
                return Finish(op, sy);
            }
            case "linear_wgrad":
            {
                var lead = Shape(1, 3);
                long n = Next(1, 3), k = Next(1, 3);
                long[] sdy = lead.Append(n).ToArray(), sx = lead.Append(k).ToArray(), sy = { n, k };
                var dy = Float("dy", sdy, -2, 2, param: Chance(0.8));
                var x = Float("x", sx, -2, 2);
                Line($"%y = tensor.linear_wgrad {dy}, {x} : ({T(sdy)}, {T(sx)}) -> {T(sy)}");
                return Finish(op, sy);
            }
            case "embedding":
            {
                long v = Next(2, 5), h = Next(1, 3);
                var sids = Shape(0, 2);
                string elem = Chance(0.5) ? "i64" : "i32";
                var table = Float("table", new[] { v, h }, -2, 2);
                var ids = Ints("ids", sids, elem, () => _rng.Next((int)v));
                var sy = sids.Append(h).ToArray();
                Line($"%y = tensor.embedding {table}, {ids} : ({T(new[] { v, h })}, {T(sids, elem)}) -> {T(sy)}");
                return Finish(op, sy);
            }
            case "broadcast":
            {
                var sy = Shape(1, 3);
                int r = Next(0, sy.Length);
                var dims = Enumerable.Range(0, sy.Length).OrderBy(_ => _rng.Next()).Take(r).OrderBy(d => d).ToArray();
                var sx = dims.Select(d => Chance(0.4) ? 1 : sy[d]).ToArray();
                var dimAttr = dims.Select(d => (long)(Chance(0.3) ? d - sy.Length : d));
                var x = Float("x", sx, -2, 2);
                Line($"%y = tensor.broadcast {x} {{dims = {List(dimAttr)}, shape = {List(sy)}}} : {T(sx)} -> {T(sy)}");
                return Finish(op, sy);
            }
            case "reshape":
            {
                var sx = Shape(0, 3);
                var parts = sx.OrderBy(_ => _rng.Next()).ToList();
                for (int i = parts.Count - 2; i >= 0; i--)
                    if (Chance(0.4))
                    {
                        parts[i] *= parts[i + 1];
                        parts.RemoveAt(i + 1);
                    }
                if (Chance(0.3)) parts.Insert(_rng.Next(parts.Count + 1), 1);
                var sy = parts.ToArray();
                var x = Float("x", sx, -2, 2);
                Line($"%y = tensor.reshape {x} : {T(sx)} -> {T(sy)}");
                return Finish(op, sy);
            }
            case "transpose":
            {
                var sx = Shape(1, 4, maxDim: 2);
                var perm = Enumerable.Range(0, sx.Length).Select(i => (long)i).OrderBy(_ => _rng.Next()).ToArray();
                var sy = perm.Select(p => sx[p]).ToArray();
                var x = Float("x", sx, -2, 2);
                Line($"%y = tensor.transpose {x} {{perm = {List(perm)}}} : {T(sx)} -> {T(sy)}");
                return Finish(op, sy);
            }
            case "slice":
            {
                var sx = Shape(1, 3, maxDim: 4);
                var offsets = sx.Select(d => (long)_rng.Next((int)d)).ToArray();
                var sizes = sx.Select((d, i) => (long)Next(1, (int)(d - offsets[i]))).ToArray();
                var x = Float("x", sx, -2, 2);
                Line($"%y = tensor.slice {x} {{offsets = {List(offsets)}, sizes = {List(sizes)}}} : {T(sx)} -> {T(sizes)}");
                return Finish(op, sizes);
            }
            case "pad":
            {
                var sx = Shape(0, 3);
                var low = sx.Select(_ => (long)Next(0, 2)).ToArray();
                var high = sx.Select(_ => (long)Next(0, 2)).ToArray();
                var sy = sx.Select((d, i) => d + low[i] + high[i]).ToArray();
                var x = Float("x", sx, -2, 2);
                Line($"%y = tensor.pad {x} {{high = {List(high)}, low = {List(low)}}} : {T(sx)} -> {T(sy)}");
                return Finish(op, sy);
            }
            case "concat":
            {
                var baseShape = Shape(1, 3);
                int dim = _rng.Next(baseShape.Length);
                int k = Next(1, 3);
                var names = new List<string>();
                var shapes = new List<long[]>();
                for (int i = 0; i < k; i++)
                {
                    if (i > 0 && Chance(0.25))
                    {
                        names.Add(names[0]);   // the same parameter twice: its two slices add up
                        shapes.Add(shapes[0]);
                        continue;
                    }
                    var s = (long[])baseShape.Clone();
                    s[dim] = Next(1, 3);
                    names.Add(Float($"x{i}", s, -2, 2, param: i == 0 || Chance(0.8)));
                    shapes.Add(s);
                }
                var sy = (long[])baseShape.Clone();
                sy[dim] = shapes.Sum(s => s[dim]);
                long dimAttr = Chance(0.3) ? dim - baseShape.Length : dim;
                Line($"%y = tensor.concat {string.Join(", ", names)} {{dim = {dimAttr}}} : ({string.Join(", ", shapes.Select(s => T(s)))}) -> {T(sy)}");
                return Finish(op, sy);
            }
            case "shift":
            {
                var sx = Shape(1, 3, maxDim: 4);
                int dim = _rng.Next(sx.Length);
                long amount = Next(-(int)sx[dim] - 1, (int)sx[dim] + 1);
                long dimAttr = Chance(0.3) ? dim - sx.Length : dim;
                var x = Float("x", sx, -2, 2);
                var fill = Chance(0.5) ? $", fill = {Num(Uniform(-3, 3))}" : "";
                Line($"%y = tensor.shift {x} {{amount = {amount}, dim = {dimAttr}{fill}}} : {T(sx)}");
                return Finish(op, sx);
            }
            case "reduce_sum" or "reduce_mean" or "reduce_max":
            {
                var sx = Shape(1, 3);
                var dims = Enumerable.Range(0, sx.Length).Where(_ => Chance(0.6)).OrderBy(_ => _rng.Next()).ToList();
                if (dims.Count == 0 && Chance(0.8)) dims.Add(_rng.Next(sx.Length));
                bool keep = Chance(0.5);
                var sy = new List<long>();
                for (int i = 0; i < sx.Length; i++)
                    if (!dims.Contains(i)) sy.Add(sx[i]);
                    else if (keep) sy.Add(1);
                var dimAttr = dims.Select(d => (long)(Chance(0.3) ? d - sx.Length : d));
                string x;
                if (op == "reduce_max")
                {
                    // Distinct values at least 0.05 apart: a perturbation of 1e-6 never changes the maximum.
                    var order = Enumerable.Range(0, (int)Numel(sx)).OrderBy(_ => _rng.Next()).ToArray();
                    int next = 0;
                    x = Float("x", sx, () => order[next++] * 0.1 - 1 + Uniform(0, 0.05));
                }
                else x = Float("x", sx, -2, 2);
                var attrs = $"dims = {List(dimAttr)}" + (keep ? ", keepdim" : "");
                Line($"%y = tensor.{op} {x} {{{attrs}}} : {T(sx)} -> {T(sy.ToArray())}");
                return Finish(op, sy.ToArray());
            }
            case "softmax":
            {
                var sx = Shape(1, 3, maxDim: 4);
                var x = Float("x", sx, -3, 3);
                string attr = Chance(0.5) ? "" : $" {{dim = {_rng.Next(-sx.Length, sx.Length)}}}";
                Line($"%y = tensor.softmax {x}{attr} : {T(sx)} -> {T(sx)}");
                return Finish(op, sx);
            }
            case "rms_norm":
            {
                var sx = Shape(1, 3, maxDim: 4);
                long h = sx[^1];
                var x = Float("x", sx, -2, 2, param: Chance(0.8));
                var w = Float("w", new[] { h }, -2, 2);
                double eps = Math.Exp(Uniform(Math.Log(1e-6), Math.Log(1e-2)));
                Line($"%y = tensor.rms_norm {x}, {w} {{eps = {Num(eps)}}} : ({T(sx)}, {T(new[] { h })}) -> {T(sx)}");
                return Finish(op, sx);
            }
            case "rope":
            {
                long[] sx = { Next(1, 2), Next(1, 3), Next(1, 2), 2 * Next(1, 3) };
                var x = Float("x", sx, -2, 2);
                double theta = new[] { 10000.0, 500000.0, 100.0, 3.5 }[_rng.Next(4)];
                var attrs = Chance(0.5) ? $"offset = {Next(0, 5)}, theta = {Num(theta)}" : $"theta = {Num(theta)}";
                if (Chance(0.4))
                {
                    // A run-time position offset: an integer operand, which gets no gradient.
                    string elem = Chance(0.5) ? "i64" : "i32";
                    var off = Ints("off", Array.Empty<long>(), elem, () => Next(0, 6));
                    Line($"%y = tensor.rope {x}, {off} {{{attrs}}} : ({T(sx)}, {T(Array.Empty<long>(), elem)}) -> {T(sx)}");
                }
                else Line($"%y = tensor.rope {x} {{{attrs}}} : {T(sx)} -> {T(sx)}");
                return Finish(op, sx);
            }
            case "attention":
            {
                long b = Next(1, 2), hkv = Next(1, 2), hq = hkv * Next(1, 2), d = Next(1, 3), dv = Next(1, 3), s = Next(1, 3);
                bool causal = Chance(0.5);
                long t = causal ? s + Next(0, 2) : Next(1, 4);
                long[] sq = { b, s, hq, d }, sk = { b, t, hkv, d }, sv = { b, t, hkv, dv }, sy = { b, s, hq, dv };
                bool pq = Chance(0.85), pk = Chance(0.85), pv = !(pq || pk) || Chance(0.85);
                var q = Float("q", sq, -2, 2, pq);
                var k = Float("k", sk, -2, 2, pk);
                var v = Float("v", sv, -2, 2, pv);
                var attrs = new List<string>();
                if (causal) attrs.Add("causal");
                if (Chance(0.5)) attrs.Add($"scale = {Num(Uniform(0.2, 1.5))}");
                var attrText = attrs.Count == 0 ? "" : $" {{{string.Join(", ", attrs)}}}";
                Line($"%y = tensor.attention {q}, {k}, {v}{attrText} : ({T(sq)}, {T(sk)}, {T(sv)}) -> {T(sy)}");
                return Finish(op, sy);
            }
            case "cross_entropy":
            {
                long b = Next(1, 2), s = Next(2, 4), v = Next(2, 5);
                long? shiftAttr = Chance(0.3) ? null : Next(0, 1);
                long? ignoreAttr = Chance(0.5) ? null : -1;
                long shift = shiftAttr ?? 1, ignore = ignoreAttr ?? -100;
                string elem = Chance(0.5) ? "i64" : "i32";
                var logits = Float("logits", new[] { b, s, v }, -3, 3);
                var labels = Ints("labels", new[] { b, s }, elem, () => Chance(0.2) ? ignore : _rng.Next((int)v));
                // At least one counted position (none gives NaN).
                _args[^1].Ints![shift] = _rng.Next((int)v);
                var attrs = new List<string>();
                if (ignoreAttr is { } ig) attrs.Add($"ignore_index = {ig}");
                if (_rng.Next(3) is var red && red > 0) attrs.Add(red == 1 ? "reduction = \"mean\"" : "reduction = \"sum\"");
                if (shiftAttr is { } sh) attrs.Add($"shift = {sh}");
                var attrText = attrs.Count == 0 ? "" : $" {{{string.Join(", ", attrs)}}}";
                Line($"%y = tensor.cross_entropy {logits}, {labels}{attrText} : ({T(new[] { b, s, v })}, {T(new[] { b, s }, elem)}) -> tensor<f64>");
                return Finish(op, Array.Empty<long>());
            }
            case "count_valid":
            {
                // The count has no gradient (integer labels); a loss divided by it differentiates through the division.
                var sl = Shape(1, 3);
                string elem = Chance(0.5) ? "i64" : "i32";
                var x = Float("x", sl, -2, 2);
                var labels = Ints("labels", sl, elem, () => Chance(0.3) ? -100 : _rng.Next(5));
                _args[^1].Ints![0] = 1;   // at least one counted label (no division by 0)
                Line($"%n = tensor.count_valid {labels} : {T(sl, elem)} -> tensor<f64>");
                Line($"%nb = tensor.broadcast %n {{dims = [], shape = {List(sl)}}} : tensor<f64> -> {T(sl)}");
                Line($"%y = tensor.div {x}, %nb : {T(sl)}");
                return Finish(op, sl);
            }
            case "cast":
            {
                // f64 to f64: a narrower type would swamp the finite differences in rounding.
                var s = Shape(0, 3);
                var x = Float("x", s, -2, 2);
                Line($"%y = tensor.cast {x} : {T(s)} -> {T(s)}");
                return Finish(op, s);
            }
            default:
                throw new ArgumentException($"no gradient case for '{op}'");
        }
    }

    /// <summary>Formats a value for messages.</summary>
    public static string Format(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
}
