namespace AutoSpIR.Tests.Lowering;

/// <summary>
/// The tiled (BLAS) path of tensor.attention and tensor.attention_grad (taken when S * T &gt;= 64, and for the
/// backward when B * Hkv &gt;= 2) against the interpreter: 64 x 64 blocks (smaller when S or T is), so sequences
/// of 65, 127, 130 and 200 end in a partial block (replaced by the full block ending at the sequence end, its
/// repeated rows and keys masked); S = 1 (one-row blocks); causal with S &lt; T (the mask's bottom-right corner
/// inside a block); not causal with S &gt; T; grouped-query and multi-query heads (dk, dv summed over the
/// group); head dimensions 1, 3 and 32; f32 and f64; a large explicit scale; for the backward, T &gt; 8192 (the
/// statistics pass and tile loop instead of whole score rows).
/// </summary>
public class AttentionTiledLoweringTests
{
    private static double Rtol(string elem) => elem == "f64" ? 1e-11 : 1e-5;

    [Theory]
    //           b  s    t    hq hkv d   dv  elem   causal scale
    [InlineData(1, 200, 200, 2, 2, 16, 16, "f32", true, null)]   // seq 200 causal: blocks 0, 64, 128, 136 (last repeated)
    [InlineData(2, 65, 65, 2, 2, 8, 8, "f64", true, null)]       // one row past a block
    [InlineData(1, 127, 130, 4, 2, 8, 6, "f32", true, null)]     // GQA, S < T: the causal corner mid-block
    [InlineData(1, 1, 70, 2, 2, 8, 8, "f32", false, null)]       // S = 1: one-row query blocks, partial key block
    [InlineData(2, 1, 90, 4, 1, 8, 8, "f64", true, null)]        // S = 1 causal (attends every key), multi-query
    [InlineData(2, 130, 70, 3, 3, 8, 8, "f64", false, 2.5)]      // not causal, S > T, explicit scale
    [InlineData(1, 64, 64, 2, 2, 32, 32, "f32", true, null)]     // exactly one block
    [InlineData(2, 9, 9, 2, 2, 3, 5, "f64", true, 8.0)]          // blocks of 9 x 9, large scale
    [InlineData(1, 100, 100, 2, 2, 1, 2, "f32", true, null)]     // head dimension 1
    [InlineData(1, 256, 256, 8, 8, 32, 32, "f32", true, null)]   // the benchmark's heads and head dimension
    public void Forward(long b, long s, long t, long hq, long hkv, long d, long dv, string elem, bool causal, double? scale) =>
        NativeHarness.AssertMatchesInterpreter(AttentionLoweringTests.ForwardProgram(b, s, t, hq, hkv, d, dv, elem, causal, scale), Rtol(elem));

    [Theory]
    [InlineData(1, 200, 200, 2, 2, 16, 16, "f32", true, null)]
    [InlineData(2, 65, 65, 2, 2, 8, 8, "f64", true, null)]
    [InlineData(1, 127, 130, 4, 2, 8, 6, "f32", true, null)]     // GQA: dk, dv over the group's heads
    [InlineData(1, 1, 70, 2, 2, 8, 8, "f32", false, null)]
    [InlineData(2, 1, 90, 4, 1, 8, 8, "f64", true, null)]        // multi-query, B * Hkv = 2
    [InlineData(2, 130, 70, 3, 3, 8, 8, "f64", false, 2.5)]
    [InlineData(1, 64, 64, 2, 2, 32, 32, "f32", true, null)]
    [InlineData(2, 9, 9, 2, 2, 3, 5, "f64", true, 8.0)]
    [InlineData(1, 100, 100, 2, 2, 1, 2, "f32", true, null)]     // D = 1 (the per-row path needs D >= 2 for its statistics)
    [InlineData(1, 200, 200, 4, 1, 16, 16, "f32", true, null)]   // B * Hkv = 1: the per-row nests
    [InlineData(1, 256, 256, 8, 8, 32, 32, "f32", true, null)]
    [InlineData(1, 3, 8200, 2, 2, 4, 4, "f32", false, null)]     // T > 8192: statistics pass, then tiles (no whole score rows)
    [InlineData(2, 70, 8200, 2, 1, 4, 3, "f64", true, null)]     // the same, causal with S < T, multi-query
    public void Backward(long b, long s, long t, long hq, long hkv, long d, long dv, string elem, bool causal, double? scale) =>
        NativeHarness.AssertMatchesInterpreter(AttentionLoweringTests.BackwardProgram(b, s, t, hq, hkv, d, dv, elem, causal, scale), Rtol(elem));
}
