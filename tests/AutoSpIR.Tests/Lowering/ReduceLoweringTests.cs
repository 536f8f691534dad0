using Xunit;

namespace AutoSpIR.Tests.Lowering;

/// <summary>
/// The loop lowerings of reduce_sum reduce_mean reduce_max reduce_max_grad count_valid
/// (lowering/Loops/Tensor/ReduceLowering.cs) against the interpreter: f32 and f64, reduced last dimensions
/// (split accumulators, with and without a remainder), kept last dimensions (tiles of 8 columns and a
/// remainder tile), several and all dimensions, negative dims, keepdim, empty dims, empty reductions, NaN
/// propagation, ties in reduce_max_grad, ignore_index in count_valid, and sizes for the threaded loops.
/// </summary>
public class ReduceLoweringTests
{
    private static void Check(string body, string t, double rtol) => NativeHarness.AssertMatchesInterpreter(body.Replace("T>", t + ">"), rtol);

    [Theory]
    [InlineData("reduce_sum", "f32", 1e-5)]
    [InlineData("reduce_sum", "f64", 1e-12)]
    [InlineData("reduce_mean", "f32", 1e-5)]
    [InlineData("reduce_mean", "f64", 1e-12)]
    [InlineData("reduce_max", "f32", 0)]
    [InlineData("reduce_max", "f64", 0)]
    public void ReduceOverEveryDimensionChoice(string op, string t, double rtol) => Check($$"""
        func.func @reduce(%x: tensor<4x37xT>, %c: tensor<37x13xT>, %y: tensor<3x5x7xT>, %s: tensor<3x5xT>, %z: tensor<T>) -> (tensor<4xT>, tensor<13xT>, tensor<5xT>, tensor<T>, tensor<3x1x7xT>, tensor<3x5x7xT>, tensor<1x1xT>, tensor<3x7xT>, tensor<3xT>, tensor<T>, tensor<37xT>) {
          %a = tensor.{{op}} %x {dims = [-1]} : tensor<4x37xT> -> tensor<4xT>
          %b = tensor.{{op}} %c {dims = [0]} : tensor<37x13xT> -> tensor<13xT>
          %d = tensor.{{op}} %y {dims = [0, 2]} : tensor<3x5x7xT> -> tensor<5xT>
          %e = tensor.{{op}} %y {dims = [2, 0, 1]} : tensor<3x5x7xT> -> tensor<T>
          %f = tensor.{{op}} %y {dims = [1], keepdim} : tensor<3x5x7xT> -> tensor<3x1x7xT>
          %g = tensor.{{op}} %y {dims = []} : tensor<3x5x7xT> -> tensor<3x5x7xT>
          %h = tensor.{{op}} %s {dims = [0, -1], keepdim} : tensor<3x5xT> -> tensor<1x1xT>
          %i = tensor.{{op}} %y {dims = [-2]} : tensor<3x5x7xT> -> tensor<3x7xT>
          %j = tensor.{{op}} %y {dims = [1, 2]} : tensor<3x5x7xT> -> tensor<3xT>
          %k = tensor.{{op}} %z {dims = []} : tensor<T> -> tensor<T>
          %l = tensor.{{op}} %x {dims = [0]} : tensor<4x37xT> -> tensor<37xT>
          func.return %a, %b, %d, %e, %f, %g, %h, %i, %j, %k, %l : tensor<4xT>, tensor<13xT>, tensor<5xT>, tensor<T>, tensor<3x1x7xT>, tensor<3x5x7xT>, tensor<1x1xT>, tensor<3x7xT>, tensor<3xT>, tensor<T>, tensor<37xT>
        }
        """, t, rtol);

    [Theory]
    [InlineData("reduce_sum", "f32", 1e-5)]
    [InlineData("reduce_mean", "f64", 1e-12)]
    [InlineData("reduce_max", "f32", 0)]
    public void EmptyReductions(string op, string t, double rtol) => Check($$"""
        func.func @empty(%x: tensor<3x0xT>) -> (tensor<3xT>, tensor<0xT>, tensor<T>) {
          %a = tensor.{{op}} %x {dims = [1]} : tensor<3x0xT> -> tensor<3xT>
          %b = tensor.{{op}} %x {dims = [0]} : tensor<3x0xT> -> tensor<0xT>
          %c = tensor.{{op}} %x {dims = [0, 1]} : tensor<3x0xT> -> tensor<T>
          func.return %a, %b, %c : tensor<3xT>, tensor<0xT>, tensor<T>
        }
        """, t, rtol);

    [Theory]
    [InlineData("reduce_sum", "f32", 1e-5)]
    [InlineData("reduce_mean", "f32", 1e-5)]
    [InlineData("reduce_max", "f32", 0)]
    [InlineData("reduce_sum", "f64", 1e-12)]
    public void LongReductionsOnThreads(string op, string t, double rtol) => Check($$"""
        func.func @big(%x: tensor<301x1029xT>) -> (tensor<301xT>, tensor<1029xT>, tensor<T>) {
          %a = tensor.{{op}} %x {dims = [1]} : tensor<301x1029xT> -> tensor<301xT>
          %b = tensor.{{op}} %x {dims = [0]} : tensor<301x1029xT> -> tensor<1029xT>
          %c = tensor.{{op}} %x {dims = [0, 1]} : tensor<301x1029xT> -> tensor<T>
          func.return %a, %b, %c : tensor<301xT>, tensor<1029xT>, tensor<T>
        }
        """, t, rtol);

    /// <summary>Few long rows: chunks reduced in parallel into scratch, then combined (with keepdim, leading size-1 dims).</summary>
    [Theory]
    [InlineData("reduce_sum", "f32", 1e-5)]
    [InlineData("reduce_mean", "f64", 1e-12)]
    [InlineData("reduce_max", "f32", 0)]
    [InlineData("reduce_max", "f64", 0)]
    public void FewLongRowsSplitIntoChunks(string op, string t, double rtol) => Check($$"""
        func.func @split(%x: tensor<3x70001xT>, %v: tensor<1x65536xT>) -> (tensor<3xT>, tensor<T>, tensor<1x1xT>, tensor<3x1xT>) {
          %a = tensor.{{op}} %x {dims = [1]} : tensor<3x70001xT> -> tensor<3xT>
          %b = tensor.{{op}} %x {dims = [0, 1]} : tensor<3x70001xT> -> tensor<T>
          %c = tensor.{{op}} %v {dims = [-1, 0], keepdim} : tensor<1x65536xT> -> tensor<1x1xT>
          %d = tensor.{{op}} %x {dims = [-1], keepdim} : tensor<3x70001xT> -> tensor<3x1xT>
          func.return %a, %b, %c, %d : tensor<3xT>, tensor<T>, tensor<1x1xT>, tensor<3x1xT>
        }
        """, t, rtol);

    [Theory]
    [InlineData("f32")]
    [InlineData("f64")]
    public void SplitReduceMaxPropagatesNaN(string t) => Check("""
        func.func @nan(%x: tensor<2x70000xT>, %p: tensor<2x1xT>, %q: tensor<2x1xT>) -> (tensor<2xT>, tensor<T>) {
          %l = tensor.log %p : tensor<2x1xT>
          %y = tensor.concat %x, %l, %q {dim = 1} : (tensor<2x70000xT>, tensor<2x1xT>, tensor<2x1xT>) -> tensor<2x70002xT>
          %a = tensor.reduce_max %y {dims = [1]} : tensor<2x70002xT> -> tensor<2xT>
          %b = tensor.reduce_max %y {dims = [0, 1]} : tensor<2x70002xT> -> tensor<T>
          func.return %a, %b : tensor<2xT>, tensor<T>
        }
        """, t, 0);

    /// <summary>log of [-1, 1) values is NaN for about half of them: rows and columns with and without NaN.</summary>
    [Theory]
    [InlineData("f32")]
    [InlineData("f64")]
    public void ReduceMaxPropagatesNaN(string t) => Check("""
        func.func @nan(%x: tensor<6x20xT>, %p: tensor<6x3xT>) -> (tensor<6xT>, tensor<23xT>, tensor<T>) {
          %l = tensor.log %p : tensor<6x3xT>
          %y = tensor.concat %x, %l {dim = 1} : (tensor<6x20xT>, tensor<6x3xT>) -> tensor<6x23xT>
          %a = tensor.reduce_max %y {dims = [1]} : tensor<6x23xT> -> tensor<6xT>
          %b = tensor.reduce_max %y {dims = [0]} : tensor<6x23xT> -> tensor<23xT>
          %c = tensor.reduce_max %y {dims = [0, 1]} : tensor<6x23xT> -> tensor<T>
          func.return %a, %b, %c : tensor<6xT>, tensor<23xT>, tensor<T>
        }
        """, t, 0);

    /// <summary>
    /// x has ties (each value of %a appears twice in a row, %r's rows are one value repeated) and NaN groups
    /// (log of negative values); dy is routed to the maxima and shared among them.
    /// </summary>
    [Theory]
    [InlineData("f32", 1e-6)]
    [InlineData("f64", 1e-14)]
    public void ReduceMaxGradSharesAmongTiesAndNaN(string t, double rtol) => Check("""
        func.func @grad(%a: tensor<5x9xT>, %r: tensor<5x1xT>, %p: tensor<5x2xT>, %dy: tensor<5xT>, %dc: tensor<1x22xT>, %dz: tensor<T>, %dk: tensor<5x1xT>) -> (tensor<5x22xT>, tensor<5x22xT>, tensor<5x22xT>, tensor<5x22xT>, tensor<5x22xT>) {
          %b = tensor.broadcast %r {dims = [0, 1], shape = [5, 2]} : tensor<5x1xT> -> tensor<5x2xT>
          %l = tensor.log %p : tensor<5x2xT>
          %x = tensor.concat %a, %b, %a, %l {dim = 1} : (tensor<5x9xT>, tensor<5x2xT>, tensor<5x9xT>, tensor<5x2xT>) -> tensor<5x22xT>
          %xr = tensor.concat %a, %b, %a, %b {dim = 1} : (tensor<5x9xT>, tensor<5x2xT>, tensor<5x9xT>, tensor<5x2xT>) -> tensor<5x22xT>
          %y = tensor.reduce_max %x {dims = [-1]} : tensor<5x22xT> -> tensor<5xT>
          %g = tensor.reduce_max_grad %x, %y, %dy {dims = [-1]} : (tensor<5x22xT>, tensor<5xT>, tensor<5xT>) -> tensor<5x22xT>
          %yc = tensor.reduce_max %xr {dims = [0], keepdim} : tensor<5x22xT> -> tensor<1x22xT>
          %gc = tensor.reduce_max_grad %xr, %yc, %dc {dims = [0], keepdim} : (tensor<5x22xT>, tensor<1x22xT>, tensor<1x22xT>) -> tensor<5x22xT>
          %yz = tensor.reduce_max %x {dims = [0, 1]} : tensor<5x22xT> -> tensor<T>
          %gz = tensor.reduce_max_grad %x, %yz, %dz {dims = [0, 1]} : (tensor<5x22xT>, tensor<T>, tensor<T>) -> tensor<5x22xT>
          %yk = tensor.reduce_max %xr {dims = [1], keepdim} : tensor<5x22xT> -> tensor<5x1xT>
          %gk = tensor.reduce_max_grad %xr, %yk, %dk {dims = [1], keepdim} : (tensor<5x22xT>, tensor<5x1xT>, tensor<5x1xT>) -> tensor<5x22xT>
          %gr = tensor.reduce_max_grad %xr, %yk, %dk {dims = [-1], keepdim} : (tensor<5x22xT>, tensor<5x1xT>, tensor<5x1xT>) -> tensor<5x22xT>
          func.return %g, %gc, %gz, %gk, %gr : tensor<5x22xT>, tensor<5x22xT>, tensor<5x22xT>, tensor<5x22xT>, tensor<5x22xT>
        }
        """, t, rtol);

    [Theory]
    [InlineData("f32")]
    [InlineData("f64")]
    public void ReduceMaxGradOverMiddleAndLeadingDims(string t) => Check("""
        func.func @grad3(%a: tensor<3x4x5xT>, %dy: tensor<3x5xT>, %d2: tensor<5xT>) -> (tensor<6x4x5xT>, tensor<6x4x5xT>) {
          %x = tensor.concat %a, %a {dim = 0} : (tensor<3x4x5xT>, tensor<3x4x5xT>) -> tensor<6x4x5xT>
          %xs = tensor.slice %x {offsets = [1, 0, 0], sizes = [3, 4, 5]} : tensor<6x4x5xT> -> tensor<3x4x5xT>
          %y = tensor.reduce_max %xs {dims = [1]} : tensor<3x4x5xT> -> tensor<3x5xT>
          %g = tensor.reduce_max_grad %xs, %y, %dy {dims = [1]} : (tensor<3x4x5xT>, tensor<3x5xT>, tensor<3x5xT>) -> tensor<3x4x5xT>
          %y2 = tensor.reduce_max %x {dims = [0, 1]} : tensor<6x4x5xT> -> tensor<5xT>
          %g2 = tensor.reduce_max_grad %x, %y2, %d2 {dims = [0, -2]} : (tensor<6x4x5xT>, tensor<5xT>, tensor<5xT>) -> tensor<6x4x5xT>
          %gp = tensor.pad %g {low = [3, 0, 0], high = [0, 0, 0]} : tensor<3x4x5xT> -> tensor<6x4x5xT>
          func.return %gp, %g2 : tensor<6x4x5xT>, tensor<6x4x5xT>
        }
        """, t, 1e-6);

    [Theory]
    [InlineData("i64", "f32")]
    [InlineData("i32", "f64")]
    public void CountValidSkipsIgnoreIndex(string labels, string result) => NativeHarness.AssertMatchesInterpreter($$"""
        func.func @count(%l: tensor<3x17xL>) -> (tensor<R>, tensor<R>, tensor<R>, tensor<R>) {
          %a = tensor.count_valid %l {ignore_index = 2} : tensor<3x17xL> -> tensor<R>
          %s = tensor.shift %l {amount = 3, dim = 1, fill = -100} : tensor<3x17xL>
          %b = tensor.count_valid %s : tensor<3x17xL> -> tensor<R>
          %c = tensor.count_valid %s {ignore_index = 0} : tensor<3x17xL> -> tensor<R>
          %d = tensor.count_valid %l {ignore_index = -7} : tensor<3x17xL> -> tensor<R>
          func.return %a, %b, %c, %d : tensor<R>, tensor<R>, tensor<R>, tensor<R>
        }
        """.Replace("L>", labels + ">").Replace("R>", result + ">"), rtol: 0);

    [Fact]
    public void CountValidIgnoreIndexOutsideTheLabelType() => NativeHarness.AssertMatchesInterpreter("""
        func.func @count(%l: tensor<4x5xi32>) -> tensor<f32> {
          %a = tensor.count_valid %l {ignore_index = 4294967296} : tensor<4x5xi32> -> tensor<f32>
          func.return %a : tensor<f32>
        }
        """, rtol: 0);

    [Fact]
    public void CountValidOfBooleanLabels() => NativeHarness.AssertMatchesInterpreter("""
        func.func @count(%l: tensor<6x7xi1>) -> (tensor<f32>, tensor<f64>, tensor<f32>) {
          %a = tensor.count_valid %l {ignore_index = 1} : tensor<6x7xi1> -> tensor<f32>
          %b = tensor.count_valid %l {ignore_index = 0} : tensor<6x7xi1> -> tensor<f64>
          %c = tensor.count_valid %l : tensor<6x7xi1> -> tensor<f32>
          func.return %a, %b, %c : tensor<f32>, tensor<f64>, tensor<f32>
        }
        """, rtol: 0, intHigh: 2);
}
