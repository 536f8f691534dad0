namespace AutoSpIR.Tests.Lowering;

/// <summary>
/// tensor.attention and tensor.attention_grad lowered to loops and run natively against the interpreter:
/// f32 and f64, causal (S = T and S &lt; T, the mask at the bottom-right corner) and not (S &gt; T too),
/// multi-head, grouped-query and multi-query heads, batches, head dimensions 1, 8 and 16 (Dv apart from D),
/// sequence lengths that are not multiples of the 8-key blocks, an explicit scale (a large one: stable
/// softmax), and sequences of 256 for the f32 error of the online softmax.
/// </summary>
public class AttentionLoweringTests
{
    private static (string Q, string K, string V, string O) Types(long b, long s, long t, long hq, long hkv, long d, long dv, string elem) =>
        ($"tensor<{b}x{s}x{hq}x{d}x{elem}>", $"tensor<{b}x{t}x{hkv}x{d}x{elem}>", $"tensor<{b}x{t}x{hkv}x{dv}x{elem}>", $"tensor<{b}x{s}x{hq}x{dv}x{elem}>");

    private static string Attrs(bool causal, double? scale)
    {
        var parts = new List<string>();
        if (causal) parts.Add("causal");
        if (scale is { } x) parts.Add($"scale = {x.ToString("0.0###", System.Globalization.CultureInfo.InvariantCulture)}");
        return parts.Count == 0 ? "" : $" {{{string.Join(", ", parts)}}}";
    }

    public static string ForwardProgram(long b, long s, long t, long hq, long hkv, long d, long dv, string elem, bool causal, double? scale = null)
    {
        var (q, k, v, o) = Types(b, s, t, hq, hkv, d, dv, elem);
        return $"func.func @f(%q: {q}, %k: {k}, %v: {v}) -> {o} {{\n"
               + $"  %o = tensor.attention %q, %k, %v{Attrs(causal, scale)} : ({q}, {k}, {v}) -> {o}\n"
               + $"  func.return %o : {o}\n}}\n";
    }

    public static string BackwardProgram(long b, long s, long t, long hq, long hkv, long d, long dv, string elem, bool causal, double? scale = null)
    {
        var (q, k, v, o) = Types(b, s, t, hq, hkv, d, dv, elem);
        return $"func.func @f(%q: {q}, %k: {k}, %v: {v}, %do: {o}) -> ({q}, {k}, {v}) {{\n"
               + $"  %dq, %dk, %dv = tensor.attention_grad %q, %k, %v, %do{Attrs(causal, scale)} : ({q}, {k}, {v}, {o}) -> ({q}, {k}, {v})\n"
               + $"  func.return %dq, %dk, %dv : {q}, {k}, {v}\n}}\n";
    }

    private static double Rtol(string elem) => elem == "f64" ? 1e-11 : 1e-5;

    [Theory]
    //           b  s    t    hq hkv d   dv  elem   causal scale
    [InlineData(2, 5, 7, 4, 2, 8, 6, "f32", true, null)]        // GQA, S < T, partial key blocks
    [InlineData(2, 7, 7, 3, 3, 16, 16, "f32", true, null)]      // MHA, S = T
    [InlineData(2, 7, 5, 3, 3, 16, 16, "f32", false, null)]     // not causal, S > T
    [InlineData(3, 3, 16, 2, 2, 8, 5, "f64", false, null)]      // whole blocks of keys
    [InlineData(1, 9, 9, 3, 1, 16, 8, "f64", true, 0.3)]        // multi-query, explicit scale
    [InlineData(2, 6, 11, 6, 2, 8, 8, "f64", true, 8.0)]        // large scale: scores far apart (stable softmax)
    [InlineData(2, 4, 4, 2, 1, 1, 3, "f32", false, null)]       // head dimension 1
    [InlineData(1, 1, 1, 1, 1, 8, 8, "f32", true, null)]        // one query, one key
    [InlineData(1, 256, 256, 2, 1, 16, 16, "f32", true, null)]  // long rows: the f32 online softmax within 1e-5
    [InlineData(2, 256, 256, 2, 2, 8, 8, "f32", false, null)]
    [InlineData(1, 33, 70, 4, 4, 16, 16, "f64", true, null)]
    public void Forward(long b, long s, long t, long hq, long hkv, long d, long dv, string elem, bool causal, double? scale) =>
        NativeHarness.AssertMatchesInterpreter(ForwardProgram(b, s, t, hq, hkv, d, dv, elem, causal, scale), Rtol(elem));

    [Theory]
    [InlineData(2, 5, 7, 4, 2, 8, 6, "f32", true, null)]        // GQA: dk, dv sum over the group's heads
    [InlineData(2, 7, 7, 3, 3, 16, 16, "f32", true, null)]
    [InlineData(2, 7, 5, 3, 3, 16, 16, "f32", false, null)]     // not causal, S > T
    [InlineData(3, 3, 16, 2, 2, 8, 5, "f64", false, null)]      // whole blocks of pairs
    [InlineData(1, 9, 9, 3, 1, 16, 8, "f64", true, 0.3)]        // multi-query: 3 heads per key/value head
    [InlineData(2, 6, 11, 6, 2, 8, 8, "f64", true, 8.0)]
    [InlineData(2, 5, 3, 6, 2, 2, 4, "f64", false, null)]       // D = 2: just room for the row statistics
    [InlineData(2, 4, 4, 2, 1, 1, 3, "f32", false, null)]       // D = 1: the per-(batch, head) fallback
    [InlineData(2, 4, 6, 2, 2, 1, 2, "f64", true, null)]        // D = 1, causal, S < T
    [InlineData(1, 1, 1, 1, 1, 8, 8, "f32", true, null)]
    [InlineData(1, 256, 256, 2, 1, 16, 16, "f32", true, null)]
    [InlineData(2, 256, 256, 2, 2, 8, 8, "f32", false, null)]
    [InlineData(1, 33, 70, 4, 4, 16, 16, "f64", true, null)]
    public void Backward(long b, long s, long t, long hq, long hkv, long d, long dv, string elem, bool causal, double? scale) =>
        NativeHarness.AssertMatchesInterpreter(BackwardProgram(b, s, t, hq, hkv, d, dv, elem, causal, scale), Rtol(elem));
}
