using Xunit;

namespace AutoSpIR.Tests.Lowering;

/// <summary>
/// The loop lowerings of rms_norm, rms_norm_grad, rope, rope_grad, softmax and softmax_grad
/// (lowering/Loops/Tensor/NormLowering.cs) against the interpreter: f32 and f64, odd row lengths (not
/// multiples of the 8 reduction chains or of rms_norm_grad's 16-column dweight chunks), ranks 1 to 4,
/// every attribute (eps, dim including negative and non-last dims, theta, the offset attribute and the
/// offset operand of i64 and i32 at positions in the thousands) and sizes large enough for threads.
/// </summary>
public class NormLoweringTests
{
    private static void Check(string body, string t, long intHigh = 4) =>
        NativeHarness.AssertMatchesInterpreter(body.Replace("T>", t + ">"), rtol: t == "f64" ? 1e-12 : 1e-5, intHigh: intHigh);

    public static TheoryData<string> Floats => new() { "f32", "f64" };

    // ------------------------------------------------------------------ rms_norm

    [Theory]
    [MemberData(nameof(Floats))]
    public void RmsNormOverTheLastDimension(string t) => Check("""
        func.func @rms(%x: tensor<2x3x13xT>, %w: tensor<13xT>, %v: tensor<37xT>, %u: tensor<37xT>, %o: tensor<4x1xT>, %s: tensor<1xT>) -> (tensor<2x3x13xT>, tensor<37xT>, tensor<4x1xT>, tensor<2x3x13xT>) {
          %a = tensor.rms_norm %x, %w {eps = 1.0e-05} : (tensor<2x3x13xT>, tensor<13xT>) -> tensor<2x3x13xT>
          %b = tensor.rms_norm %v, %u {eps = 1.0e-06} : (tensor<37xT>, tensor<37xT>) -> tensor<37xT>
          %c = tensor.rms_norm %o, %s {eps = 0.5} : (tensor<4x1xT>, tensor<1xT>) -> tensor<4x1xT>
          %d = tensor.rms_norm %x, %w {eps = 0.0} : (tensor<2x3x13xT>, tensor<13xT>) -> tensor<2x3x13xT>
          func.return %a, %b, %c, %d : tensor<2x3x13xT>, tensor<37xT>, tensor<4x1xT>, tensor<2x3x13xT>
        }
        """, t);

    [Theory]
    [MemberData(nameof(Floats))]
    public void RmsNormLargeRowsOnThreads(string t) => Check("""
        func.func @rms(%x: tensor<129x1031xT>, %w: tensor<1031xT>) -> tensor<129x1031xT> {
          %a = tensor.rms_norm %x, %w {eps = 1.0e-05} : (tensor<129x1031xT>, tensor<1031xT>) -> tensor<129x1031xT>
          func.return %a : tensor<129x1031xT>
        }
        """, t);

    // ------------------------------------------------------------------ rms_norm_grad

    [Theory]
    [MemberData(nameof(Floats))]
    public void RmsNormGradChunkAndRemainderColumns(string t) => Check("""
        func.func @rmsg(%x: tensor<5x37xT>, %w: tensor<37xT>, %dy: tensor<5x37xT>) -> (tensor<5x37xT>, tensor<37xT>) {
          %dx, %dw = tensor.rms_norm_grad %x, %w, %dy {eps = 1.0e-05} : (tensor<5x37xT>, tensor<37xT>, tensor<5x37xT>) -> (tensor<5x37xT>, tensor<37xT>)
          func.return %dx, %dw : tensor<5x37xT>, tensor<37xT>
        }
        """, t);

    [Theory]
    [MemberData(nameof(Floats))]
    public void RmsNormGradExactChunksRankThreeAndOneRow(string t) => Check("""
        func.func @rmsg(%x: tensor<2x3x16xT>, %w: tensor<16xT>, %dy: tensor<2x3x16xT>, %v: tensor<7xT>, %u: tensor<7xT>, %dv: tensor<7xT>) -> (tensor<2x3x16xT>, tensor<16xT>, tensor<7xT>, tensor<7xT>) {
          %dx, %dw = tensor.rms_norm_grad %x, %w, %dy {eps = 0.0} : (tensor<2x3x16xT>, tensor<16xT>, tensor<2x3x16xT>) -> (tensor<2x3x16xT>, tensor<16xT>)
          %dv2, %du = tensor.rms_norm_grad %v, %u, %dv {eps = 1.0e-03} : (tensor<7xT>, tensor<7xT>, tensor<7xT>) -> (tensor<7xT>, tensor<7xT>)
          func.return %dx, %dw, %dv2, %du : tensor<2x3x16xT>, tensor<16xT>, tensor<7xT>, tensor<7xT>
        }
        """, t);

    [Theory]
    [MemberData(nameof(Floats))]
    public void RmsNormGradHiddenSizeOne(string t) => Check("""
        func.func @rmsg(%x: tensor<6x1xT>, %w: tensor<1xT>, %dy: tensor<6x1xT>) -> (tensor<6x1xT>, tensor<1xT>) {
          %dx, %dw = tensor.rms_norm_grad %x, %w, %dy {eps = 0.25} : (tensor<6x1xT>, tensor<1xT>, tensor<6x1xT>) -> (tensor<6x1xT>, tensor<1xT>)
          func.return %dx, %dw : tensor<6x1xT>, tensor<1xT>
        }
        """, t);

    [Theory]
    [MemberData(nameof(Floats))]
    public void RmsNormGradLargeOnThreads(string t) => Check("""
        func.func @rmsg(%x: tensor<3x101x517xT>, %w: tensor<517xT>, %dy: tensor<3x101x517xT>) -> (tensor<3x101x517xT>, tensor<517xT>) {
          %dx, %dw = tensor.rms_norm_grad %x, %w, %dy {eps = 1.0e-05} : (tensor<3x101x517xT>, tensor<517xT>, tensor<3x101x517xT>) -> (tensor<3x101x517xT>, tensor<517xT>)
          func.return %dx, %dw : tensor<3x101x517xT>, tensor<517xT>
        }
        """, t);

    // ------------------------------------------------------------------ rope, rope_grad

    [Theory]
    [MemberData(nameof(Floats))]
    public void RopeBatchesHeadsAndAttributes(string t) => Check("""
        func.func @rope(%x: tensor<1x7x3x10xT>, %y: tensor<2x5x3x8xT>, %z: tensor<3x70x2x6xT>, %q: tensor<2x3x1x2xT>) -> (tensor<1x7x3x10xT>, tensor<2x5x3x8xT>, tensor<3x70x2x6xT>, tensor<2x3x1x2xT>, tensor<2x5x3x8xT>) {
          %a = tensor.rope %x {theta = 10000.0} : tensor<1x7x3x10xT> -> tensor<1x7x3x10xT>
          %b = tensor.rope %y {offset = 3, theta = 500000.0} : tensor<2x5x3x8xT> -> tensor<2x5x3x8xT>
          %c = tensor.rope %z {offset = 17, theta = 10000.0} : tensor<3x70x2x6xT> -> tensor<3x70x2x6xT>
          %d = tensor.rope %q {theta = 2.5} : tensor<2x3x1x2xT> -> tensor<2x3x1x2xT>
          %e = tensor.rope_grad %y {offset = 3, theta = 500000.0} : tensor<2x5x3x8xT> -> tensor<2x5x3x8xT>
          func.return %a, %b, %c, %d, %e : tensor<1x7x3x10xT>, tensor<2x5x3x8xT>, tensor<3x70x2x6xT>, tensor<2x3x1x2xT>, tensor<2x5x3x8xT>
        }
        """, t);

    [Theory]
    [MemberData(nameof(Floats))]
    public void RopeGradBatchesHeadsAndAttributes(string t) => Check("""
        func.func @ropeg(%x: tensor<1x7x3x10xT>, %y: tensor<2x5x3x8xT>, %z: tensor<3x70x2x6xT>) -> (tensor<1x7x3x10xT>, tensor<2x5x3x8xT>, tensor<3x70x2x6xT>) {
          %a = tensor.rope_grad %x {theta = 10000.0} : tensor<1x7x3x10xT> -> tensor<1x7x3x10xT>
          %b = tensor.rope_grad %y {offset = 9, theta = 500000.0} : tensor<2x5x3x8xT> -> tensor<2x5x3x8xT>
          %c = tensor.rope_grad %z {offset = 1, theta = 10000.0} : tensor<3x70x2x6xT> -> tensor<3x70x2x6xT>
          func.return %a, %b, %c : tensor<1x7x3x10xT>, tensor<2x5x3x8xT>, tensor<3x70x2x6xT>
        }
        """, t);

    /// <summary>Positions in the thousands: offset attribute 3000 plus a random operand value in [0, 2000).</summary>
    [Theory]
    [MemberData(nameof(Floats))]
    public void RopeOffsetOperandAtLargePositions(string t) => Check("""
        func.func @rope(%x: tensor<2x9x3x128xT>, %o64: tensor<i64>, %o32: tensor<i32>) -> (tensor<2x9x3x128xT>, tensor<2x9x3x128xT>, tensor<2x9x3x128xT>, tensor<2x9x3x128xT>) {
          %a = tensor.rope %x, %o64 {offset = 3000, theta = 10000.0} : (tensor<2x9x3x128xT>, tensor<i64>) -> tensor<2x9x3x128xT>
          %b = tensor.rope %x, %o32 {theta = 500000.0} : (tensor<2x9x3x128xT>, tensor<i32>) -> tensor<2x9x3x128xT>
          %c = tensor.rope_grad %x, %o64 {offset = 3000, theta = 10000.0} : (tensor<2x9x3x128xT>, tensor<i64>) -> tensor<2x9x3x128xT>
          %d = tensor.rope_grad %x, %o32 {offset = 1, theta = 10000.0} : (tensor<2x9x3x128xT>, tensor<i32>) -> tensor<2x9x3x128xT>
          func.return %a, %b, %c, %d : tensor<2x9x3x128xT>, tensor<2x9x3x128xT>, tensor<2x9x3x128xT>, tensor<2x9x3x128xT>
        }
        """, t, intHigh: 2000);

    [Theory]
    [MemberData(nameof(Floats))]
    public void RopeLargeOnThreads(string t) => Check("""
        func.func @rope(%x: tensor<2x257x4x64xT>, %o: tensor<i64>) -> (tensor<2x257x4x64xT>, tensor<2x257x4x64xT>) {
          %a = tensor.rope %x, %o {theta = 10000.0} : (tensor<2x257x4x64xT>, tensor<i64>) -> tensor<2x257x4x64xT>
          %b = tensor.rope_grad %a, %o {theta = 10000.0} : (tensor<2x257x4x64xT>, tensor<i64>) -> tensor<2x257x4x64xT>
          func.return %a, %b : tensor<2x257x4x64xT>, tensor<2x257x4x64xT>
        }
        """, t, intHigh: 1000);

    // ------------------------------------------------------------------ softmax, softmax_grad

    [Theory]
    [MemberData(nameof(Floats))]
    public void SoftmaxAlongEveryKindOfDim(string t) => Check("""
        func.func @softmax(%x: tensor<6x11xT>, %y: tensor<2x5x3xT>, %v: tensor<19xT>, %o: tensor<4x1xT>) -> (tensor<6x11xT>, tensor<6x11xT>, tensor<2x5x3xT>, tensor<2x5x3xT>, tensor<2x5x3xT>, tensor<19xT>, tensor<4x1xT>, tensor<4x1xT>) {
          %a = tensor.softmax %x : tensor<6x11xT> -> tensor<6x11xT>
          %b = tensor.softmax %x {dim = 0} : tensor<6x11xT> -> tensor<6x11xT>
          %c = tensor.softmax %y {dim = -2} : tensor<2x5x3xT> -> tensor<2x5x3xT>
          %d = tensor.softmax %y {dim = 0} : tensor<2x5x3xT> -> tensor<2x5x3xT>
          %e = tensor.softmax %y {dim = 2} : tensor<2x5x3xT> -> tensor<2x5x3xT>
          %f = tensor.softmax %v : tensor<19xT> -> tensor<19xT>
          %g = tensor.softmax %o : tensor<4x1xT> -> tensor<4x1xT>
          %h = tensor.softmax %o {dim = 0} : tensor<4x1xT> -> tensor<4x1xT>
          func.return %a, %b, %c, %d, %e, %f, %g, %h : tensor<6x11xT>, tensor<6x11xT>, tensor<2x5x3xT>, tensor<2x5x3xT>, tensor<2x5x3xT>, tensor<19xT>, tensor<4x1xT>, tensor<4x1xT>
        }
        """, t);

    /// <summary>Large logits (x * 60): the max subtraction matters, exp(x) alone would overflow f32.</summary>
    [Theory]
    [MemberData(nameof(Floats))]
    public void SoftmaxLargeLogitsAndRowsOnThreads(string t) => Check("""
        func.func @softmax(%x: tensor<67x1003xT>, %s: tensor<67x1003xT>) -> (tensor<67x1003xT>, tensor<67x1003xT>) {
          %c = tensor.constant {value = dense<60.0> : tensor<67x1003xT>} : tensor<67x1003xT>
          %big = tensor.mul %x, %c : tensor<67x1003xT>
          %a = tensor.softmax %big : tensor<67x1003xT> -> tensor<67x1003xT>
          %b = tensor.softmax %s {dim = 0} : tensor<67x1003xT> -> tensor<67x1003xT>
          func.return %a, %b : tensor<67x1003xT>, tensor<67x1003xT>
        }
        """, t);

    [Theory]
    [MemberData(nameof(Floats))]
    public void SoftmaxGradAlongEveryKindOfDim(string t) => Check("""
        func.func @softmaxg(%x: tensor<4x9xT>, %dy: tensor<4x9xT>, %u: tensor<2x5x3xT>, %du: tensor<2x5x3xT>, %v: tensor<1xT>, %dv: tensor<1xT>) -> (tensor<4x9xT>, tensor<4x9xT>, tensor<2x5x3xT>, tensor<2x5x3xT>, tensor<1xT>) {
          %y = tensor.softmax %x : tensor<4x9xT> -> tensor<4x9xT>
          %a = tensor.softmax_grad %y, %dy : tensor<4x9xT>
          %b = tensor.softmax_grad %x, %dy {dim = 0} : tensor<4x9xT>
          %c = tensor.softmax_grad %u, %du {dim = -2} : tensor<2x5x3xT>
          %d = tensor.softmax_grad %u, %du {dim = 0} : tensor<2x5x3xT>
          %e = tensor.softmax_grad %v, %dv : tensor<1xT>
          func.return %a, %b, %c, %d, %e : tensor<4x9xT>, tensor<4x9xT>, tensor<2x5x3xT>, tensor<2x5x3xT>, tensor<1xT>
        }
        """, t);

    [Theory]
    [MemberData(nameof(Floats))]
    public void SoftmaxGradLargeOnThreads(string t) => Check("""
        func.func @softmaxg(%y: tensor<3x71x517xT>, %dy: tensor<3x71x517xT>) -> (tensor<3x71x517xT>, tensor<3x71x517xT>) {
          %a = tensor.softmax_grad %y, %dy : tensor<3x71x517xT>
          %b = tensor.softmax_grad %y, %dy {dim = 1} : tensor<3x71x517xT>
          func.return %a, %b : tensor<3x71x517xT>, tensor<3x71x517xT>
        }
        """, t);
}
