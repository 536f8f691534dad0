using AutoSpIR.Dialects;
using AutoSpIR.Dialects.Tensor;
using AutoSpIR.Grammar;

namespace AutoSpIR.Tests;

/// <summary>The core IR API: interning, use lists, rewriting, cloning and the verifier on built IR.</summary>
public class IrTests
{
    private static (Context Ctx, Operation Module, Operation Func) Parse(string text)
    {
        var ctx = AllDialects.NewContext();
        var diag = new DiagnosticEngine();
        var module = AspIRParserDriver.ParseAndVerify(text, "test.aspir", ctx, diag);
        Assert.True(module is not null, string.Join("\n", diag.All));
        var func = module!.Region(0).EntryBlock!.First!;
        return (ctx, module, func);
    }

    private const string Chain = """
        func.func @f(%a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xf32> {
          %c = tensor.add %a, %b : tensor<4xf32>
          %d = tensor.mul %c, %c : tensor<4xf32>
          func.return %d : tensor<4xf32>
        }
        """;

    [Fact]
    public void TypesAndAttributesAreInterned()
    {
        var ctx = AllDialects.NewContext();
        Assert.Same(ctx.Tensor(ctx.F32, 2, 3), ctx.Tensor(new long[] { 2, 3 }, ctx.F32));
        Assert.NotSame(ctx.Tensor(ctx.F32, 2, 3), ctx.Tensor(ctx.F32, 3, 2));
        Assert.Same(ctx.Integer(7), ctx.Integer(7));
        Assert.NotSame(ctx.Integer(7), ctx.Integer(7, ctx.I32));
        Assert.Same(ctx.Array(ctx.Integer(1), ctx.String("x")), ctx.Array(ctx.Integer(1), ctx.String("x")));
        var d1 = ctx.Dictionary(new KeyValuePair<string, Attribute>[] { new("b", ctx.Unit), new("a", ctx.Float(0.5)) });
        var d2 = ctx.Dictionary(new KeyValuePair<string, Attribute>[] { new("a", ctx.Float(0.5)), new("b", ctx.Unit) });
        Assert.Same(d1, d2);
        Assert.Equal("{a = 0.5, b}", d1.ToString());
        Assert.Same(ctx.Function(new Type[] { ctx.F32 }, new Type[] { ctx.I64 }), ctx.Function(new Type[] { ctx.F32 }, new Type[] { ctx.I64 }));
    }

    [Fact]
    public void UseListsFollowOperandChanges()
    {
        var (_, _, func) = Parse(Chain);
        var entry = func.Region(0).EntryBlock!;
        var (a, b) = (entry.Arguments[0], entry.Arguments[1]);
        var add = entry.First!;
        var mul = add.NextInBlock!;
        Assert.Equal(1, a.UseCount);
        Assert.Equal(2, add.Result(0).UseCount);
        Assert.All(add.Result(0).Users, u => Assert.Same(mul, u));

        add.SetOperand(1, a);
        Assert.Equal(2, a.UseCount);
        Assert.False(b.HasUses);

        add.Result(0).ReplaceAllUsesWith(b);
        Assert.False(add.Result(0).HasUses);
        Assert.Equal(2, b.UseCount);
        Assert.Same(b, mul.Operand(0));
    }

    [Fact]
    public void EraseRefusesAnOpWhoseResultIsUsed()
    {
        var (_, _, func) = Parse(Chain);
        var add = func.Region(0).EntryBlock!.First!;
        Assert.Throws<InvalidOperationException>(() => add.Erase());
    }

    [Fact]
    public void RewriterReplacesErasesAndNotifies()
    {
        var (ctx, module, func) = Parse(Chain);
        var entry = func.Region(0).EntryBlock!;
        var add = entry.First!;
        var mul = add.NextInBlock!;
        var listener = new RecordingListener();
        var rw = new Rewriter(ctx, listener);
        rw.SetInsertionPoint(mul);
        var sub = rw.Create(Elementwise.Sub, entry.Arguments[0], entry.Arguments[1]);
        rw.ReplaceOp(add, sub.Result(0));

        Assert.Contains(sub, listener.Inserted);
        Assert.Contains(add, listener.Erased);
        Assert.Contains(mul, listener.Modified);
        Assert.Null(add.Block);
        Assert.Same(sub.Result(0), mul.Operand(0));
        Assert.Same(sub, entry.First);
        Assert.True(Verifier.Verify(module, new DiagnosticEngine()));
    }

    [Fact]
    public void BuilderInfersResultTypesAndRejectsBadOperands()
    {
        var (ctx, _, func) = Parse(Chain);
        var entry = func.Region(0).EntryBlock!;
        var b = new Builder(ctx);
        b.SetInsertionPoint(entry.Terminator!);
        var mm = b.Create(Elementwise.Exp, entry.Arguments[0]);
        Assert.Same(ctx.Tensor(ctx.F32, 4), mm.Result(0).Type);

        var other = b.Create("test.make", Array.Empty<Value>(), new Type[] { ctx.Tensor(ctx.F32, 8) });
        var e = Assert.Throws<InvalidOperationException>(() => b.Create(Elementwise.Add, entry.Arguments[0], other.Result(0)));
        Assert.Contains("'tensor.add' op operands must have the same type", e.Message);
    }

    [Fact]
    public void CloneCopiesRegionsAndRemapsInnerValues()
    {
        var (_, module, func) = Parse(Chain);
        var clone = func.Clone();
        clone.SetAttr("sym_name", func.Context.String("g"));
        module.Region(0).EntryBlock!.Append(clone);
        Assert.True(Verifier.Verify(module, new DiagnosticEngine()));
        var original = func.Region(0).EntryBlock!;
        var copy = clone.Region(0).EntryBlock!;
        Assert.NotSame(original.First, copy.First);
        Assert.Same(copy.Arguments[0], copy.First!.Operand(0));
        Assert.Equal(Printer.PrintOp(func).Replace("@f", "@g"), Printer.PrintOp(clone));
    }

    [Fact]
    public void VerifierCatchesUseBeforeDefinitionInBuiltIr()
    {
        var (ctx, module, func) = Parse(Chain);
        var entry = func.Region(0).EntryBlock!;
        var add = entry.First!;
        var mul = add.NextInBlock!;
        mul.MoveBefore(add);
        var diag = new DiagnosticEngine();
        Assert.False(Verifier.Verify(module, diag));
        Assert.Contains(diag.All, d => d.Message.Contains("'tensor.mul' op operand #0 does not dominate this use"));
        Assert.All(diag.All, d => Assert.Equal("test.aspir", d.Location.File));
        _ = ctx;
    }

    [Fact]
    public void VerifierRejectsAWrongResultType()
    {
        var (ctx, module, func) = Parse(Chain);
        var add = func.Region(0).EntryBlock!.First!;
        add.Result(0).Type = ctx.Tensor(ctx.F64, 4);
        var diag = new DiagnosticEngine();
        Assert.False(Verifier.Verify(module, diag));
        Assert.Contains(diag.All, d => d.ToString().StartsWith("test.aspir:2:8: error: 'tensor.add' op"));
    }

    [Fact]
    public void FloatsPrintSoTheyParseBack()
    {
        foreach (var v in new[] { 0.1, 1e-05, 1.0, -0.0, 123456789.0, 1e300, double.Epsilon, 3.0e-320 })
        {
            var text = Attribute.FormatFloat(v);
            Assert.True(text.Contains('.') || text.Contains("e"), text);
            Assert.Equal(v, double.Parse(text, System.Globalization.CultureInfo.InvariantCulture));
        }
        var ctx = new Context();
        Assert.Equal("0.1 : f32", ctx.Float(0.1, ctx.F32).ToString());
    }

    [Fact]
    public void Bf16RoundingIsCorrectlyRoundedFromDouble()
    {
        var ctx = new Context();
        // Just above the halfway point between 1 and 1 + 2^-7: rounding through float first gives 1.
        Assert.Equal(1 + Math.Pow(2, -7), Context.RoundTo(1 + Math.Pow(2, -8) + Math.Pow(2, -40), ctx.BF16));
        Assert.Equal(1.0, Context.RoundTo(1 + Math.Pow(2, -8), ctx.BF16));            // a tie goes to even
        Assert.Equal(1 + Math.Pow(2, -6), Context.RoundTo(1 + 3 * Math.Pow(2, -8), ctx.BF16)); // a tie goes to even (up)
        Assert.Equal(-2.0, Context.RoundTo(-2.0 - Math.Pow(2, -20), ctx.BF16));
    }

    private sealed class RecordingListener : IRewriteListener
    {
        public List<Operation> Inserted { get; } = new();
        public List<Operation> Erased { get; } = new();
        public List<Operation> Modified { get; } = new();
        void IRewriteListener.OnInserted(Operation op) => Inserted.Add(op);
        void IRewriteListener.OnErased(Operation op) => Erased.Add(op);
        void IRewriteListener.OnModified(Operation op) => Modified.Add(op);
    }
}
