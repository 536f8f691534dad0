using AutoSpIR.Dialects;
using AutoSpIR.Runtime;
using AutoSpIR.Runtime.Native;
using Xunit;

namespace AutoSpIR.Tests.Lowering;

/// <summary>
/// The loop lowerings of embedding, embedding_grad, cross_entropy, cross_entropy_grad and adamw
/// (lowering/Loops/Tensor/EmbeddingLowering.cs) against the interpreter: f32 and f64, i32 and i64 ids,
/// ids of rank 0 to 3, odd sizes (H not a multiple of the 64-column blocks of embedding_grad, or
/// smaller than one), colliding ids, labels holding ignore_index (given through the harness's inputs),
/// every shift / reduction / ignore_index variant, none counted (mean NaN, sum 0, gradient 0), and sizes
/// large enough for the threaded loops.
/// </summary>
public class EmbeddingLoweringTests
{
    public static TheoryData<string> Floats => new() { "f32", "f64" };

    private static readonly Context s_ctx = AllDialects.NewContext();

    /// <summary>A [rows, cols] integer tensor (i64 or i32) of <paramref name="values"/>.</summary>
    private static HostTensor Ints(string type, long[] shape, long[] values) =>
        new(s_ctx.Tensor(shape, type == "i32" ? s_ctx.I32 : s_ctx.I64), ints: values);

    /// <summary>Labels of [b, s] cycling through ids in [0, v), every <paramref name="every"/>-th (from 1) the ignored value.</summary>
    private static HostTensor Labels(string type, long b, long s, long v, long ignore, int every, int seed = 1)
    {
        var rng = new Random(seed);
        var x = new long[b * s];
        for (long i = 0; i < x.Length; i++) x[i] = every > 0 && i % every == 1 ? ignore : rng.NextInt64(0, v);
        return Ints(type, new[] { b, s }, x);
    }

    /// <summary>A float tensor of values in [0, 1) (second moments must be >= 0).</summary>
    private static HostTensor NonNegative(string t, long[] shape, int seed = 2)
    {
        var type = s_ctx.Tensor(shape, t == "f32" ? s_ctx.F32 : s_ctx.F64);
        var rng = new Random(seed);
        var h = new HostTensor(type);
        for (long i = 0; i < h.Count; i++) h.Set(i, rng.NextDouble());
        h.RoundToElementType();
        return h;
    }

    private static void Check(string program, string t, long intHigh = 4, IReadOnlyDictionary<string, HostTensor>? inputs = null) =>
        NativeHarness.AssertMatchesInterpreter(program.Replace("T>", t + ">"), rtol: t == "f32" ? 1e-5 : 1e-12, intHigh: intHigh, inputs: inputs);

    // ------------------------------------------------------------------ embedding

    [Theory]
    [MemberData(nameof(Floats))]
    public void EmbeddingGathersRowsForIdsOfEveryRank(string t) => Check("""
        func.func @embedding(%table: tensor<37x13xT>, %ids: tensor<3x5xi64>, %ids32: tensor<7xi32>, %one: tensor<i64>, %cube: tensor<2x3x5xi32>) -> (tensor<3x5x13xT>, tensor<7x13xT>, tensor<13xT>, tensor<2x3x5x13xT>) {
          %a = tensor.embedding %table, %ids : (tensor<37x13xT>, tensor<3x5xi64>) -> tensor<3x5x13xT>
          %b = tensor.embedding %table, %ids32 : (tensor<37x13xT>, tensor<7xi32>) -> tensor<7x13xT>
          %c = tensor.embedding %table, %one : (tensor<37x13xT>, tensor<i64>) -> tensor<13xT>
          %d = tensor.embedding %table, %cube : (tensor<37x13xT>, tensor<2x3x5xi32>) -> tensor<2x3x5x13xT>
          func.return %a, %b, %c, %d : tensor<3x5x13xT>, tensor<7x13xT>, tensor<13xT>, tensor<2x3x5x13xT>
        }
        """, t, intHigh: 37);

    [Fact]
    public void EmbeddingLastRowAndLargeOnThreads() => Check("""
        func.func @embedding(%table: tensor<1001x67xT>, %ids: tensor<9x113xi64> {aspir.name = "ids"}) -> tensor<9x113x67xT> {
          %a = tensor.embedding %table, %ids : (tensor<1001x67xT>, tensor<9x113xi64>) -> tensor<9x113x67xT>
          func.return %a : tensor<9x113x67xT>
        }
        """, "f32", inputs: new Dictionary<string, HostTensor>
    {
        ["ids"] = Ints("i64", new long[] { 9, 113 }, Enumerable.Range(0, 9 * 113).Select(i => i % 3 == 0 ? 1000L : i * 7L % 1001).ToArray()),
    });

    // ------------------------------------------------------------------ embedding_grad

    [Theory]
    [MemberData(nameof(Floats))]
    public void EmbeddingGradAddsCollidingRowsInOrder(string t) => Check("""
        func.func @embedding_grad(%d1: tensor<3x5x13xT>, %ids: tensor<3x5xi64>, %d2: tensor<7x100xT>, %ids32: tensor<7xi32>, %d3: tensor<128xT>, %one: tensor<i64>, %d4: tensor<2x3x2x130xT>, %cube: tensor<2x3x2xi64>) -> (tensor<6x13xT>, tensor<9x100xT>, tensor<5x128xT>, tensor<5x130xT>) {
          %a = tensor.embedding_grad %d1, %ids {num_embeddings = 6} : (tensor<3x5x13xT>, tensor<3x5xi64>) -> tensor<6x13xT>
          %b = tensor.embedding_grad %d2, %ids32 {num_embeddings = 9} : (tensor<7x100xT>, tensor<7xi32>) -> tensor<9x100xT>
          %c = tensor.embedding_grad %d3, %one {num_embeddings = 5} : (tensor<128xT>, tensor<i64>) -> tensor<5x128xT>
          %d = tensor.embedding_grad %d4, %cube {num_embeddings = 5} : (tensor<2x3x2x130xT>, tensor<2x3x2xi64>) -> tensor<5x130xT>
          func.return %a, %b, %c, %d : tensor<6x13xT>, tensor<9x100xT>, tensor<5x128xT>, tensor<5x130xT>
        }
        """, t, intHigh: 4);

    [Theory]
    [MemberData(nameof(Floats))]
    public void EmbeddingGradVocabularyChunksWhenHIsLarge(string t) => Check("""
        func.func @embedding_grad(%d1: tensor<3x41x515xT>, %ids: tensor<3x41xi64>, %d2: tensor<77x600xT>, %ids32: tensor<77xi32>, %d3: tensor<29x1024xT>, %few: tensor<29xi64>) -> (tensor<50x515xT>, tensor<1001x600xT>, tensor<3x1024xT>) {
          %a = tensor.embedding_grad %d1, %ids {num_embeddings = 50} : (tensor<3x41x515xT>, tensor<3x41xi64>) -> tensor<50x515xT>
          %b = tensor.embedding_grad %d2, %ids32 {num_embeddings = 1001} : (tensor<77x600xT>, tensor<77xi32>) -> tensor<1001x600xT>
          %c = tensor.embedding_grad %d3, %few {num_embeddings = 3} : (tensor<29x1024xT>, tensor<29xi64>) -> tensor<3x1024xT>
          func.return %a, %b, %c : tensor<50x515xT>, tensor<1001x600xT>, tensor<3x1024xT>
        }
        """, t, intHigh: 3);

    [Theory]
    [MemberData(nameof(Floats))]
    public void EmbeddingGradVocabularyChunksCoverEveryRow(string t) => Check("""
        func.func @embedding_grad(%d: tensor<700x600xT>, %ids: tensor<700xi64>) -> tensor<1001x600xT> {
          %b = tensor.embedding_grad %d, %ids {num_embeddings = 1001} : (tensor<700x600xT>, tensor<700xi64>) -> tensor<1001x600xT>
          func.return %b : tensor<1001x600xT>
        }
        """, t, intHigh: 1001);

    [Theory]
    [MemberData(nameof(Floats))]
    public void EmbeddingGradLargeOnThreads(string t) => Check("""
        func.func @embedding_grad(%d: tensor<4x257x333xT>, %ids: tensor<4x257xi64>) -> tensor<50x333xT> {
          %a = tensor.embedding_grad %d, %ids {num_embeddings = 50} : (tensor<4x257x333xT>, tensor<4x257xi64>) -> tensor<50x333xT>
          func.return %a : tensor<50x333xT>
        }
        """, t, intHigh: 40);

    // ------------------------------------------------------------------ cross_entropy

    private const string CrossEntropyProgram = """
        func.func @ce(%logits: tensor<3x11x37xT>, %labels: tensor<3x11xL> {aspir.name = "labels"}, %l5: tensor<3x11xL> {aspir.name = "labels5"}) -> (tensor<T>, tensor<T>, tensor<T>, tensor<T>, tensor<T>) {
          %a = tensor.cross_entropy %logits, %labels : (tensor<3x11x37xT>, tensor<3x11xL>) -> tensor<T>
          %b = tensor.cross_entropy %logits, %labels {reduction = "sum"} : (tensor<3x11x37xT>, tensor<3x11xL>) -> tensor<T>
          %c = tensor.cross_entropy %logits, %labels {shift = 0, reduction = "mean"} : (tensor<3x11x37xT>, tensor<3x11xL>) -> tensor<T>
          %d = tensor.cross_entropy %logits, %labels {shift = 3, reduction = "sum"} : (tensor<3x11x37xT>, tensor<3x11xL>) -> tensor<T>
          %e = tensor.cross_entropy %logits, %l5 {shift = 2, ignore_index = 5} : (tensor<3x11x37xT>, tensor<3x11xL>) -> tensor<T>
          func.return %a, %b, %c, %d, %e : tensor<T>, tensor<T>, tensor<T>, tensor<T>, tensor<T>
        }
        """;

    public static TheoryData<string, string> FloatsAndLabels => new() { { "f32", "i64" }, { "f64", "i64" }, { "f32", "i32" }, { "f64", "i32" } };

    /// <summary>
    /// labels: ids in [0, 37) with every 4th (from 1) -100; labels5 (for ignore_index = 5, a valid id): ids in
    /// [0, 8), so 5 is frequent.
    /// </summary>
    private static Dictionary<string, HostTensor> MixedLabels(string l) => new()
    {
        ["labels"] = Labels(l, 3, 11, 37, -100, every: 4),
        ["labels5"] = Labels(l, 3, 11, 8, -100, every: 0, seed: 3),
    };

    /// <summary>Every label ignored: -100 for the default ignore_index, 5 for ignore_index = 5.</summary>
    private static Dictionary<string, HostTensor> AllIgnored() => new()
    {
        ["labels"] = Ints("i64", new long[] { 3, 11 }, Enumerable.Repeat(-100L, 33).ToArray()),
        ["labels5"] = Ints("i64", new long[] { 3, 11 }, Enumerable.Repeat(5L, 33).ToArray()),
    };

    /// <summary>Only the positions a shift skips (the first ones of each sequence) hold ids; the rest is ignored.</summary>
    private static Dictionary<string, HostTensor> CountedOnlyWithoutShift() => new()
    {
        ["labels"] = Ints("i64", new long[] { 3, 11 }, Enumerable.Range(0, 33).Select(i => i % 11 == 0 ? 7L * (i / 11) : -100L).ToArray()),
        ["labels5"] = Ints("i64", new long[] { 3, 11 }, Enumerable.Range(0, 33).Select(i => i % 11 < 2 ? 1L : 5L).ToArray()),
    };

    [Theory]
    [MemberData(nameof(FloatsAndLabels))]
    public void CrossEntropyEveryReductionShiftAndIgnoreIndex(string t, string l) =>
        Check(CrossEntropyProgram.Replace("L>", l + ">"), t, inputs: MixedLabels(l));

    [Theory]
    [MemberData(nameof(Floats))]
    public void CrossEntropyNothingCountedIsNaNForTheMeanAndZeroForTheSum(string t)
    {
        Check(CrossEntropyProgram.Replace("L>", "i64>"), t, inputs: AllIgnored());
        Check(CrossEntropyProgram.Replace("L>", "i64>"), t, inputs: CountedOnlyWithoutShift());
    }

    [Theory]
    [MemberData(nameof(Floats))]
    public void CrossEntropyLargeVocabulary(string t) => Check("""
        func.func @ce(%logits: tensor<2x67x5003xT>, %labels: tensor<2x67xi64> {aspir.name = "labels"}) -> (tensor<T>, tensor<T>) {
          %a = tensor.cross_entropy %logits, %labels : (tensor<2x67x5003xT>, tensor<2x67xi64>) -> tensor<T>
          %b = tensor.cross_entropy %logits, %labels {reduction = "sum", shift = 0} : (tensor<2x67x5003xT>, tensor<2x67xi64>) -> tensor<T>
          func.return %a, %b : tensor<T>, tensor<T>
        }
        """, t, inputs: new Dictionary<string, HostTensor> { ["labels"] = Labels("i64", 2, 67, 5003, -100, every: 9) });

    [Theory]
    [MemberData(nameof(Floats))]
    public void CrossEntropyManyRowsOnThreads(string t) => Check("""
        func.func @ce(%logits: tensor<3x233x257xT>, %labels: tensor<3x233xi32> {aspir.name = "labels"}) -> (tensor<T>, tensor<T>, tensor<T>) {
          %a = tensor.cross_entropy %logits, %labels : (tensor<3x233x257xT>, tensor<3x233xi32>) -> tensor<T>
          %b = tensor.cross_entropy %logits, %labels {reduction = "sum", shift = 0} : (tensor<3x233x257xT>, tensor<3x233xi32>) -> tensor<T>
          %c = tensor.cross_entropy %logits, %labels {shift = 7} : (tensor<3x233x257xT>, tensor<3x233xi32>) -> tensor<T>
          func.return %a, %b, %c : tensor<T>, tensor<T>, tensor<T>
        }
        """, t, inputs: new Dictionary<string, HostTensor> { ["labels"] = Labels("i32", 3, 233, 257, -100, every: 5) });

    // ------------------------------------------------------------------ cross_entropy_grad

    private const string CrossEntropyGradProgram = """
        func.func @ceg(%logits: tensor<3x11x37xT>, %labels: tensor<3x11xL> {aspir.name = "labels"}, %l5: tensor<3x11xL> {aspir.name = "labels5"}, %dloss: tensor<T>) -> (tensor<3x11x37xT>, tensor<3x11x37xT>, tensor<3x11x37xT>, tensor<3x11x37xT>, tensor<3x11x37xT>) {
          %a = tensor.cross_entropy_grad %logits, %labels, %dloss : (tensor<3x11x37xT>, tensor<3x11xL>, tensor<T>) -> tensor<3x11x37xT>
          %b = tensor.cross_entropy_grad %logits, %labels, %dloss {reduction = "sum"} : (tensor<3x11x37xT>, tensor<3x11xL>, tensor<T>) -> tensor<3x11x37xT>
          %c = tensor.cross_entropy_grad %logits, %labels, %dloss {shift = 0, reduction = "mean"} : (tensor<3x11x37xT>, tensor<3x11xL>, tensor<T>) -> tensor<3x11x37xT>
          %d = tensor.cross_entropy_grad %logits, %labels, %dloss {shift = 3, reduction = "sum"} : (tensor<3x11x37xT>, tensor<3x11xL>, tensor<T>) -> tensor<3x11x37xT>
          %e = tensor.cross_entropy_grad %logits, %l5, %dloss {shift = 2, ignore_index = 5} : (tensor<3x11x37xT>, tensor<3x11xL>, tensor<T>) -> tensor<3x11x37xT>
          func.return %a, %b, %c, %d, %e : tensor<3x11x37xT>, tensor<3x11x37xT>, tensor<3x11x37xT>, tensor<3x11x37xT>, tensor<3x11x37xT>
        }
        """;

    [Theory]
    [MemberData(nameof(FloatsAndLabels))]
    public void CrossEntropyGradEveryReductionShiftAndIgnoreIndex(string t, string l) =>
        Check(CrossEntropyGradProgram.Replace("L>", l + ">"), t, inputs: MixedLabels(l));

    [Theory]
    [MemberData(nameof(Floats))]
    public void CrossEntropyGradNothingCountedIsZero(string t)
    {
        Check(CrossEntropyGradProgram.Replace("L>", "i64>"), t, inputs: AllIgnored());
        Check(CrossEntropyGradProgram.Replace("L>", "i64>"), t, inputs: CountedOnlyWithoutShift());
    }

    [Theory]
    [MemberData(nameof(Floats))]
    public void CrossEntropyGradLargeVocabularyOnThreads(string t) => Check("""
        func.func @ceg(%logits: tensor<2x67x5003xT>, %labels: tensor<2x67xi64> {aspir.name = "labels"}, %dloss: tensor<T>) -> tensor<2x67x5003xT> {
          %a = tensor.cross_entropy_grad %logits, %labels, %dloss : (tensor<2x67x5003xT>, tensor<2x67xi64>, tensor<T>) -> tensor<2x67x5003xT>
          func.return %a : tensor<2x67x5003xT>
        }
        """, t, inputs: new Dictionary<string, HostTensor> { ["labels"] = Labels("i64", 2, 67, 5003, -100, every: 9) });

    // ------------------------------------------------------------------ adamw

    [Theory]
    [MemberData(nameof(Floats))]
    public void AdamWFirstAndLaterStepsWithAndWithoutDecay(string t) => Check("""
        func.func @adamw(%p: tensor<7x13xT>, %g: tensor<7x13xT>, %m: tensor<7x13xT>, %v: tensor<7x13xT> {aspir.name = "v"}) -> (tensor<7x13xT>, tensor<7x13xT>, tensor<7x13xT>, tensor<7x13xT>, tensor<7x13xT>, tensor<7x13xT>, tensor<7x13xT>, tensor<7x13xT>, tensor<7x13xT>) {
          %p1, %m1, %v1 = tensor.adamw %p, %g, %m, %v {beta1 = 0.9, beta2 = 0.999, eps = 1.0e-08, lr = 1.0e-03, step = 1, weight_decay = 0.01} : tensor<7x13xT>
          %p2, %m2, %v2 = tensor.adamw %p, %g, %m, %v {beta1 = 0.8, beta2 = 0.95, eps = 1.0e-06, lr = 0.1, step = 17, weight_decay = 0.0} : tensor<7x13xT>
          %p3, %m3, %v3 = tensor.adamw %p, %g, %m, %v {beta1 = 0.0, beta2 = 0.5, eps = 0.1, lr = 0.5, step = 3, weight_decay = 0.3} : tensor<7x13xT>
          func.return %p1, %m1, %v1, %p2, %m2, %v2, %p3, %m3, %v3 : tensor<7x13xT>, tensor<7x13xT>, tensor<7x13xT>, tensor<7x13xT>, tensor<7x13xT>, tensor<7x13xT>, tensor<7x13xT>, tensor<7x13xT>, tensor<7x13xT>
        }
        """, t, inputs: new Dictionary<string, HostTensor> { ["v"] = NonNegative(t, new long[] { 7, 13 }) });

    [Theory]
    [MemberData(nameof(Floats))]
    public void AdamWLargeAndRankOneOnThreads(string t) => Check("""
        func.func @adamw(%p: tensor<100003xT>, %g: tensor<100003xT>, %m: tensor<100003xT>, %v: tensor<100003xT> {aspir.name = "v"}) -> (tensor<100003xT>, tensor<100003xT>, tensor<100003xT>) {
          %p1, %m1, %v1 = tensor.adamw %p, %g, %m, %v {beta1 = 0.9, beta2 = 0.999, eps = 1.0e-08, lr = 3.0e-04, step = 1000, weight_decay = 0.1} : tensor<100003xT>
          func.return %p1, %m1, %v1 : tensor<100003xT>, tensor<100003xT>, tensor<100003xT>
        }
        """, t, inputs: new Dictionary<string, HostTensor> { ["v"] = NonNegative(t, new long[] { 100003 }) });

    // ------------------------------------------------------------------ ids out of range (native only)

    /// <summary>
    /// The interpreter rejects an id outside [0, V); native code cannot throw, so it must never touch
    /// memory out of bounds and does what EmbeddingLowering documents: a zero row (embedding), the token
    /// skipped (embedding_grad), the target not counted (cross_entropy and its gradient: as if it were the
    /// ignore_index, which the interpreter computes).
    /// </summary>
    [Theory]
    [MemberData(nameof(Floats))]
    public void IdsOutOfRangeAreZeroRowsSkippedOrNotCounted(string t)
    {
        long[] ids = { -1, 0, 5, 2, 1_000_000, 2, long.MinValue, 4 };
        var rng = new Random(5);
        double[] table = Enumerable.Range(0, 5 * 3).Select(_ => rng.NextDouble() - 0.5).ToArray();
        double[] dout = Enumerable.Range(0, 8 * 3).Select(_ => rng.NextDouble() - 0.5).ToArray();
        var ft = t == "f32" ? s_ctx.F32 : s_ctx.F64;
        HostTensor Floats(long[] shape, double[] x)
        {
            var h = HostTensor.FromDoubles(s_ctx.Tensor(shape, ft), x);
            h.RoundToElementType();
            return h;
        }
        var (func, args) = NativeHarness.Prepare("""
            func.func @oob(%table: tensor<5x3xT> {aspir.name = "table"}, %ids: tensor<8xi64> {aspir.name = "ids"}, %dout: tensor<8x3xT> {aspir.name = "dout"}) -> (tensor<8x3xT>, tensor<5x3xT>) {
              %e = tensor.embedding %table, %ids : (tensor<5x3xT>, tensor<8xi64>) -> tensor<8x3xT>
              %g = tensor.embedding_grad %dout, %ids {num_embeddings = 5} : (tensor<8x3xT>, tensor<8xi64>) -> tensor<5x3xT>
              func.return %e, %g : tensor<8x3xT>, tensor<5x3xT>
            }
            """.Replace("T>", t + ">"), inputs: new Dictionary<string, HostTensor>
        {
            ["table"] = Floats(new long[] { 5, 3 }, table),
            ["ids"] = Ints("i64", new long[] { 8 }, ids),
            ["dout"] = Floats(new long[] { 8, 3 }, dout),
        });
        Assert.ThrowsAny<Exception>(() => Interpreter.Run(func, args));
        using (var native = NativeProgram.Compile(func))
        {
            var r = native.Run(args).Results;
            var emb = new double[8 * 3];
            var grad = new double[5 * 3];
            for (int i = 0; i < 8; i++)
                if (ids[i] is >= 0 and < 5)
                    for (int j = 0; j < 3; j++)
                    {
                        emb[i * 3 + j] = args[0].Get(ids[i] * 3 + j);
                        grad[ids[i] * 3 + j] += args[2].Get(i * 3 + j);
                    }
            NativeHarness.AssertClose(new[] { Floats(new long[] { 8, 3 }, emb), Floats(new long[] { 5, 3 }, grad) }, r, 1e-6, "oob");
        }

        // cross_entropy: native on labels out of range = the interpreter on those labels set to ignore_index.
        const string ce = """
            func.func @ce(%logits: tensor<2x7x6xT>, %labels: tensor<2x7xi64> {aspir.name = "labels"}, %dloss: tensor<T>) -> (tensor<T>, tensor<T>, tensor<2x7x6xT>, tensor<2x7x6xT>) {
              %a = tensor.cross_entropy %logits, %labels : (tensor<2x7x6xT>, tensor<2x7xi64>) -> tensor<T>
              %b = tensor.cross_entropy %logits, %labels {reduction = "sum", shift = 0} : (tensor<2x7x6xT>, tensor<2x7xi64>) -> tensor<T>
              %c = tensor.cross_entropy_grad %logits, %labels, %dloss : (tensor<2x7x6xT>, tensor<2x7xi64>, tensor<T>) -> tensor<2x7x6xT>
              %d = tensor.cross_entropy_grad %logits, %labels, %dloss {reduction = "sum", shift = 0} : (tensor<2x7x6xT>, tensor<2x7xi64>, tensor<T>) -> tensor<2x7x6xT>
              func.return %a, %b, %c, %d : tensor<T>, tensor<T>, tensor<2x7x6xT>, tensor<2x7x6xT>
            }
            """;
        long[] labels = { 3, -1, 6, 0, -100, 5, 99, 1, long.MaxValue, 2, -7, 4, 5, 6 };
        var (cf, raw) = NativeHarness.Prepare(ce.Replace("T>", t + ">"), inputs: new Dictionary<string, HostTensor> { ["labels"] = Ints("i64", new long[] { 2, 7 }, labels) });
        var (_, clean) = NativeHarness.Prepare(ce.Replace("T>", t + ">"), inputs: new Dictionary<string, HostTensor>
        {
            ["labels"] = Ints("i64", new long[] { 2, 7 }, labels.Select(x => x is >= 0 and < 6 ? x : -100).ToArray()),
        });
        Assert.ThrowsAny<Exception>(() => Interpreter.Run(cf, raw));
        var expected = Interpreter.Run(cf, clean).Results;
        using var nce = NativeProgram.Compile(cf);
        NativeHarness.AssertClose(expected, nce.Run(raw).Results, t == "f32" ? 1e-5 : 1e-12, "ce-oob");
    }
}
