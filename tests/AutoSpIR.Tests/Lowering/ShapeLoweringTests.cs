using Xunit;

namespace AutoSpIR.Tests.Lowering;

/// <summary>
/// The loop lowerings of reshape transpose broadcast slice concat pad shift (lowering/Loops/Tensor/ShapeLowering.cs)
/// against the interpreter: f32, f64 and integer element types, odd sizes, every attribute variant (negative
/// dims, size-1 and merged dimensions, padding in every position, shifts both ways and past the end), and
/// sizes large enough for the threaded loops. Data movement is exact, so the tolerance is 0.
/// </summary>
public class ShapeLoweringTests
{
    private static void Check(string body, string t = "f32") => NativeHarness.AssertMatchesInterpreter(body.Replace("T>", t + ">"), rtol: 0);

    public static TheoryData<string> Elements => new() { "f32", "f64", "i64" };

    [Theory]
    [MemberData(nameof(Elements))]
    public void ReshapeIsARowMajorCopy(string t) => Check("""
        func.func @reshape(%x: tensor<3x5x7xT>, %s: tensor<1x1xT>) -> (tensor<7x15xT>, tensor<105xT>, tensor<T>, tensor<5x1x21xT>) {
          %a = tensor.reshape %x : tensor<3x5x7xT> -> tensor<7x15xT>
          %b = tensor.reshape %a : tensor<7x15xT> -> tensor<105xT>
          %c = tensor.reshape %s : tensor<1x1xT> -> tensor<T>
          %d = tensor.reshape %x : tensor<3x5x7xT> -> tensor<5x1x21xT>
          func.return %a, %b, %c, %d : tensor<7x15xT>, tensor<105xT>, tensor<T>, tensor<5x1x21xT>
        }
        """, t);

    [Theory]
    [MemberData(nameof(Elements))]
    public void TransposeOfEveryKindOfPermutation(string t) => Check("""
        func.func @transpose(%m: tensor<13x7xT>, %x: tensor<2x5x3x7xT>, %o: tensor<1x5x1x3xT>, %s: tensor<1xT>) -> (tensor<7x13xT>, tensor<2x3x5x7xT>, tensor<7x5x2x3xT>, tensor<1x3x1x5xT>, tensor<3x7x2x5xT>, tensor<1xT>) {
          %a = tensor.transpose %m {perm = [1, 0]} : tensor<13x7xT> -> tensor<7x13xT>
          %b = tensor.transpose %x {perm = [0, 2, 1, 3]} : tensor<2x5x3x7xT> -> tensor<2x3x5x7xT>
          %c = tensor.transpose %x {perm = [3, 1, 0, 2]} : tensor<2x5x3x7xT> -> tensor<7x5x2x3xT>
          %d = tensor.transpose %o {perm = [2, 3, 0, 1]} : tensor<1x5x1x3xT> -> tensor<1x3x1x5xT>
          %e = tensor.transpose %x {perm = [2, 3, 0, 1]} : tensor<2x5x3x7xT> -> tensor<3x7x2x5xT>
          %f = tensor.transpose %s {perm = [0]} : tensor<1xT> -> tensor<1xT>
          func.return %a, %b, %c, %d, %e, %f : tensor<7x13xT>, tensor<2x3x5x7xT>, tensor<7x5x2x3xT>, tensor<1x3x1x5xT>, tensor<3x7x2x5xT>, tensor<1xT>
        }
        """, t);

    /// <summary>Real transposes of the innermost data: cache-line tiles over two result dimensions, ragged edge tiles.</summary>
    [Theory]
    [MemberData(nameof(Elements))]
    public void TiledTransposes(string t) => Check("""
        func.func @tiled(%x: tensor<3x17x2x33xT>, %m: tensor<16x16xT>, %r: tensor<41x9xT>) -> (tensor<3x33x2x17xT>, tensor<16x16xT>, tensor<9x41xT>, tensor<33x17x2x3xT>) {
          %a = tensor.transpose %x {perm = [0, 3, 2, 1]} : tensor<3x17x2x33xT> -> tensor<3x33x2x17xT>
          %b = tensor.transpose %m {perm = [1, 0]} : tensor<16x16xT> -> tensor<16x16xT>
          %c = tensor.transpose %r {perm = [1, 0]} : tensor<41x9xT> -> tensor<9x41xT>
          %d = tensor.transpose %x {perm = [3, 1, 2, 0]} : tensor<3x17x2x33xT> -> tensor<33x17x2x3xT>
          func.return %a, %b, %c, %d : tensor<3x33x2x17xT>, tensor<16x16xT>, tensor<9x41xT>, tensor<33x17x2x3xT>
        }
        """, t);

    [Fact]
    public void LargeTransposeRunsOnThreads() => Check("""
        func.func @big(%x: tensor<300x517xT>, %y: tensor<4x129x3x65xT>) -> (tensor<517x300xT>, tensor<4x3x129x65xT>) {
          %a = tensor.transpose %x {perm = [1, 0]} : tensor<300x517xT> -> tensor<517x300xT>
          %b = tensor.transpose %y {perm = [0, 2, 1, 3]} : tensor<4x129x3x65xT> -> tensor<4x3x129x65xT>
          func.return %a, %b : tensor<517x300xT>, tensor<4x3x129x65xT>
        }
        """);

    [Theory]
    [MemberData(nameof(Elements))]
    public void BroadcastNewAndRepeatedDimensions(string t) => Check("""
        func.func @broadcast(%v: tensor<5xT>, %c: tensor<3x1xT>, %s: tensor<T>, %r: tensor<1x5xT>) -> (tensor<3x5xT>, tensor<3x7xT>, tensor<3x4xT>, tensor<2x3x5xT>, tensor<4x3x7xT>, tensor<5xT>) {
          %a = tensor.broadcast %v {dims = [1], shape = [3, 5]} : tensor<5xT> -> tensor<3x5xT>
          %b = tensor.broadcast %c {dims = [0, 1], shape = [3, 7]} : tensor<3x1xT> -> tensor<3x7xT>
          %d = tensor.broadcast %s {dims = [], shape = [3, 4]} : tensor<T> -> tensor<3x4xT>
          %e = tensor.broadcast %r {dims = [-2, -1], shape = [2, 3, 5]} : tensor<1x5xT> -> tensor<2x3x5xT>
          %f = tensor.broadcast %c {dims = [1, 2], shape = [4, 3, 7]} : tensor<3x1xT> -> tensor<4x3x7xT>
          %g = tensor.broadcast %v {dims = [0], shape = [5]} : tensor<5xT> -> tensor<5xT>
          func.return %a, %b, %d, %e, %f, %g : tensor<3x5xT>, tensor<3x7xT>, tensor<3x4xT>, tensor<2x3x5xT>, tensor<4x3x7xT>, tensor<5xT>
        }
        """, t);

    [Theory]
    [MemberData(nameof(Elements))]
    public void SliceBoxes(string t) => Check("""
        func.func @slice(%x: tensor<7x9xT>, %y: tensor<3x5x11xT>) -> (tensor<4x5xT>, tensor<7x1xT>, tensor<1x5x3xT>, tensor<3x5x11xT>, tensor<2x0xT>) {
          %a = tensor.slice %x {offsets = [2, 3], sizes = [4, 5]} : tensor<7x9xT> -> tensor<4x5xT>
          %b = tensor.slice %x {offsets = [0, 8], sizes = [7, 1]} : tensor<7x9xT> -> tensor<7x1xT>
          %c = tensor.slice %y {offsets = [2, 0, 8], sizes = [1, 5, 3]} : tensor<3x5x11xT> -> tensor<1x5x3xT>
          %d = tensor.slice %y {offsets = [0, 0, 0], sizes = [3, 5, 11]} : tensor<3x5x11xT> -> tensor<3x5x11xT>
          %e = tensor.slice %x {offsets = [1, 4], sizes = [2, 0]} : tensor<7x9xT> -> tensor<2x0xT>
          func.return %a, %b, %c, %d, %e : tensor<4x5xT>, tensor<7x1xT>, tensor<1x5x3xT>, tensor<3x5x11xT>, tensor<2x0xT>
        }
        """, t);

    [Theory]
    [MemberData(nameof(Elements))]
    public void ConcatAlongEveryDimension(string t) => Check("""
        func.func @concat(%a: tensor<3x5xT>, %b: tensor<3x2xT>, %c: tensor<4x5xT>, %x: tensor<2x3x5xT>, %y: tensor<2x1x5xT>) -> (tensor<3x14xT>, tensor<7x5xT>, tensor<2x7x5xT>, tensor<2x3x10xT>, tensor<3x5xT>) {
          %d = tensor.concat %a, %b, %a, %b {dim = -1} : (tensor<3x5xT>, tensor<3x2xT>, tensor<3x5xT>, tensor<3x2xT>) -> tensor<3x14xT>
          %e = tensor.concat %a, %c {dim = 0} : (tensor<3x5xT>, tensor<4x5xT>) -> tensor<7x5xT>
          %f = tensor.concat %x, %y, %x {dim = 1} : (tensor<2x3x5xT>, tensor<2x1x5xT>, tensor<2x3x5xT>) -> tensor<2x7x5xT>
          %g = tensor.concat %x, %x {dim = 2} : (tensor<2x3x5xT>, tensor<2x3x5xT>) -> tensor<2x3x10xT>
          %h = tensor.concat %a {dim = 0} : (tensor<3x5xT>) -> tensor<3x5xT>
          func.return %d, %e, %f, %g, %h : tensor<3x14xT>, tensor<7x5xT>, tensor<2x7x5xT>, tensor<2x3x10xT>, tensor<3x5xT>
        }
        """, t);

    [Theory]
    [MemberData(nameof(Elements))]
    public void PadInEveryPosition(string t) => Check("""
        func.func @pad(%x: tensor<3x5xT>, %v: tensor<7xT>, %y: tensor<2x3x4xT>, %s: tensor<T>) -> (tensor<6x10xT>, tensor<10xT>, tensor<2x6x4xT>, tensor<3x5xT>, tensor<5x5x7xT>, tensor<T>, tensor<3x8xT>) {
          %a = tensor.pad %x {low = [1, 2], high = [2, 3]} : tensor<3x5xT> -> tensor<6x10xT>
          %b = tensor.pad %v {low = [3], high = [0]} : tensor<7xT> -> tensor<10xT>
          %c = tensor.pad %y {low = [0, 1, 0], high = [0, 2, 0]} : tensor<2x3x4xT> -> tensor<2x6x4xT>
          %d = tensor.pad %x {low = [0, 0], high = [0, 0]} : tensor<3x5xT> -> tensor<3x5xT>
          %e = tensor.pad %y {low = [1, 2, 3], high = [2, 0, 0]} : tensor<2x3x4xT> -> tensor<5x5x7xT>
          %f = tensor.pad %s {low = [], high = []} : tensor<T> -> tensor<T>
          %g = tensor.pad %x {low = [0, 0], high = [0, 3]} : tensor<3x5xT> -> tensor<3x8xT>
          func.return %a, %b, %c, %d, %e, %f, %g : tensor<6x10xT>, tensor<10xT>, tensor<2x6x4xT>, tensor<3x5xT>, tensor<5x5x7xT>, tensor<T>, tensor<3x8xT>
        }
        """, t);

    [Theory]
    [InlineData("i64")]
    [InlineData("i32")]
    public void ShiftIntegerLabelsWithFill(string t) => Check("""
        func.func @shift(%l: tensor<3x7xT>, %x: tensor<2x5x3xT>) -> (tensor<3x7xT>, tensor<3x7xT>, tensor<3x7xT>, tensor<3x7xT>, tensor<2x5x3xT>, tensor<2x5x3xT>, tensor<2x5x3xT>) {
          %a = tensor.shift %l {amount = 1, dim = 1, fill = -100} : tensor<3x7xT>
          %b = tensor.shift %l {amount = -2, dim = -1, fill = 7} : tensor<3x7xT>
          %c = tensor.shift %l {amount = 7, dim = 1, fill = -1} : tensor<3x7xT>
          %d = tensor.shift %l {amount = -9, dim = 0, fill = 5} : tensor<3x7xT>
          %e = tensor.shift %x {amount = 2, dim = 1} : tensor<2x5x3xT>
          %f = tensor.shift %x {amount = -1, dim = -2, fill = 3} : tensor<2x5x3xT>
          %g = tensor.shift %x {amount = 1, dim = 0, fill = -3} : tensor<2x5x3xT>
          func.return %a, %b, %c, %d, %e, %f, %g : tensor<3x7xT>, tensor<3x7xT>, tensor<3x7xT>, tensor<3x7xT>, tensor<2x5x3xT>, tensor<2x5x3xT>, tensor<2x5x3xT>
        }
        """, t);

    [Fact]
    public void ShiftI64FillBeyondDoublePrecision() => Check("""
        func.func @shift(%l: tensor<2x5xi64>) -> tensor<2x5xi64> {
          %a = tensor.shift %l {amount = 2, dim = 1, fill = 9007199254740993} : tensor<2x5xi64>
          func.return %a : tensor<2x5xi64>
        }
        """);

    [Theory]
    [InlineData("f32")]
    [InlineData("f64")]
    public void ShiftFloatsWithFloatAndDefaultFill(string t) => Check("""
        func.func @shift(%x: tensor<4x9xT>, %y: tensor<3x2x5xT>) -> (tensor<4x9xT>, tensor<4x9xT>, tensor<3x2x5xT>, tensor<3x2x5xT>) {
          %a = tensor.shift %x {amount = 3, dim = 1, fill = 0.1} : tensor<4x9xT>
          %b = tensor.shift %x {amount = -1, dim = 0} : tensor<4x9xT>
          %c = tensor.shift %y {amount = 1, dim = -1, fill = -2} : tensor<3x2x5xT>
          %d = tensor.shift %y {amount = -5, dim = 2, fill = 1.5} : tensor<3x2x5xT>
          func.return %a, %b, %c, %d : tensor<4x9xT>, tensor<4x9xT>, tensor<3x2x5xT>, tensor<3x2x5xT>
        }
        """, t);

    /// <summary>i1 (masks) through every data-movement op, the fill of a shift 1.</summary>
    [Fact]
    public void BooleanTensors() => NativeHarness.AssertMatchesInterpreter("""
        func.func @masks(%m: tensor<3x5xi1>, %v: tensor<5xi1>) -> (tensor<5x3xi1>, tensor<15xi1>, tensor<4x5xi1>, tensor<2x3xi1>, tensor<3x10xi1>, tensor<5x7xi1>, tensor<3x5xi1>) {
          %t = tensor.transpose %m {perm = [1, 0]} : tensor<3x5xi1> -> tensor<5x3xi1>
          %r = tensor.reshape %m : tensor<3x5xi1> -> tensor<15xi1>
          %b = tensor.broadcast %v {dims = [1], shape = [4, 5]} : tensor<5xi1> -> tensor<4x5xi1>
          %s = tensor.slice %m {offsets = [1, 2], sizes = [2, 3]} : tensor<3x5xi1> -> tensor<2x3xi1>
          %c = tensor.concat %m, %m {dim = 1} : (tensor<3x5xi1>, tensor<3x5xi1>) -> tensor<3x10xi1>
          %p = tensor.pad %t {low = [0, 1], high = [0, 3]} : tensor<5x3xi1> -> tensor<5x7xi1>
          %h = tensor.shift %m {amount = 2, dim = 1, fill = 1} : tensor<3x5xi1>
          func.return %t, %r, %b, %s, %c, %p, %h : tensor<5x3xi1>, tensor<15xi1>, tensor<4x5xi1>, tensor<2x3xi1>, tensor<3x10xi1>, tensor<5x7xi1>, tensor<3x5xi1>
        }
        """, rtol: 0, intHigh: 2);
}
