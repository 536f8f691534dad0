using AutoSpIR.Dialects;
using AutoSpIR.Dialects.Tensor;
using AutoSpIR.Grammar;
using AutoSpIR.Passes;
using AutoSpIR.Tests.Autodiff;
using AutoSpIR.Tests.Properties;
using AutoSpIR.Tools.Gen;

// Not AutoSpIR.Tests.Sharding: that namespace would hide the runtime's Sharding class from the Comm tests.
namespace AutoSpIR.Tests.OpSharding;

/// <summary>
/// The sharding rules of the tensor dialect (<see cref="OpDef.ShardingRule"/>): every op declares
/// one, it fits every instance the tests can find (the round-trip files, random gradient-check
/// programs of every op and their autodiff joints, the random valid modules of the property tests,
/// a generated Llama step and its joint), and a
/// few rules are checked exactly, in Shardy's notation.
/// </summary>
public class ShardingRuleTests
{
    private static readonly Context Ctx = AllDialects.NewContext();

    [Fact]
    public void EveryTensorOpDeclaresARule()
    {
        var missing = TensorDialect.Ops.Where(d => d.ShardingRule is null).Select(d => d.Name).ToList();
        Assert.True(missing.Count == 0, "no ShardingRule: " + string.Join(", ", missing));
    }

    /// <summary>Every tensor op of the module: its rule exists (none for constant) and fits its types.</summary>
    private static void CheckRules(Operation module, string what, HashSet<string> covered)
    {
        module.Walk(o =>
        {
            if (o.DialectName != "tensor") return;
            var state = OpState.Of(o);
            var rule = o.Def!.ShardingRule!(state);
            covered.Add(o.Name);
            if (o.Name == Constant.Def.Name)
            {
                Assert.Null(rule);
                return;
            }
            Assert.True(rule is not null, $"{what}: no rule for {Describe(o)}");
            Assert.True(rule!.Check(state) is null, $"{what}: rule {rule} does not fit {Describe(o)}: {rule.Check(state)}");
            // A factor shared by two dimensions names one size (Check): and every Reduction factor is
            // missing from some result, every result-only factor is no Reduction.
            for (int f = 0; f < rule.Factors.Count; f++)
            {
                var uses = rule.Uses(f).ToList();
                if (rule.Factors[f].Kind == FactorKind.Reduction)
                    Assert.True(Enumerable.Range(0, rule.NumResults).Any(r => !uses.Any(u => u.IsResult && u.Tensor == r)),
                        $"{what}: Reduction factor {ShardingRule.Name(f)} of {rule} is in every result of {Describe(o)}");
                if (uses.All(u => u.IsResult))
                    Assert.NotEqual(FactorKind.Reduction, rule.Factors[f].Kind);
            }
        });
    }

    private static string Describe(Operation o) =>
        $"'{o.Name}' at {o.Location} ({string.Join(", ", o.OperandTypes)}) -> ({string.Join(", ", o.ResultTypes)}) {o.Attributes}";

    private static Operation Parse(string text, string name)
    {
        var diag = new DiagnosticEngine();
        var module = AspIRParserDriver.ParseAndVerify(text, name, Ctx, diag);
        Assert.True(module is not null, $"{name}:\n{string.Join("\n", diag.All)}");
        return module!;
    }

    private static Operation Run(Operation module, string pipeline)
    {
        var diag = new DiagnosticEngine();
        var passes = PassPipelineParser.Parse(pipeline, out var error)!;
        Assert.Null(error);
        Assert.True(new PassManager(new PassContext(module.Context, diag, TextWriter.Null), passes).Run(module),
            string.Join("\n", diag.All));
        return module;
    }

    [Fact]
    public void EveryOpHasARuleThatFitsItsInstances()
    {
        var covered = new HashSet<string>();
        foreach (var file in new[] { "roundtrip.aspir", "backward-roundtrip.aspir", "adamw.aspir" })
        {
            var text = File.ReadAllText(Repo.PathOf("tests", "lit", "tensor", file));
            int i = 0;
            foreach (var chunk in text.Split("\n// -----\n"))
                CheckRules(Parse(chunk, $"{file}#{i++}"), file, covered);
        }
        foreach (var op in GradientCases.Ops)
            for (int seed = 0; seed < 25; seed++)
            {
                var c = GradientCases.Build(op, new Random(seed * 7919 + op.Length));
                var module = Parse(c.Text, $"{op}#{seed}");
                CheckRules(module, $"{op}#{seed} forward", covered);
                CheckRules(Run(module, "autodiff"), $"{op}#{seed} joint\n{c.Text}", covered);
            }
        // Random valid modules of the property tests: dynamic sizes, zero sizes, every attribute form.
        foreach (var spec in ModuleGenerators.SampleValid(400, 0x5A4D))
            CheckRules(ValidModuleBuilder.Build(spec, out _), spec.ToString(), covered);
        var cfg = HfConfig.Parse(File.ReadAllText(Path.Combine(Repo.ModelsDir, "tiny-llama.json")));
        foreach (var batch in new long[] { 1, 2 })
        {
            var step = LlamaGenerator.Generate(cfg, new GenOptions(16, batch, 2, "f32", "m"), Ctx);
            CheckRules(step, "tiny-llama", covered);
            CheckRules(Run(step, "autodiff"), "tiny-llama joint", covered);
        }
        var uncovered = TensorDialect.Ops.Select(d => d.Name).Where(n => !covered.Contains(n)).ToList();
        Assert.True(uncovered.Count == 0, "no instance checked of " + string.Join(", ", uncovered));
    }

    // ------------------------------------------------------------------ exact rules

    private static TensorType T(params long[] shape) => Ctx.Tensor(Ctx.F32, shape);
    private static TensorType I(params long[] shape) => Ctx.Tensor(Ctx.I64, shape);

    /// <summary>The rule of <paramref name="op"/> on these operands (results inferred unless given), checked to fit, as text.</summary>
    private static string RuleOf(string op, Type[] operands, (string Name, Attribute Value)[]? attrs = null, Type[]? results = null)
    {
        var def = Ctx.LookupOp(op)!;
        var dict = Ctx.Dictionary((attrs ?? Array.Empty<(string, Attribute)>()).Select(a => new KeyValuePair<string, Attribute>(a.Name, a.Value)));
        results ??= def.InferResultTypes!(new OpState(Ctx, def, operands, dict))!;
        Assert.NotNull(results);
        var state = new OpState(Ctx, def, operands, dict, results);
        var rule = def.ShardingRule!(state)!;
        Assert.Null(rule.Check(state));
        return rule.ToString();
    }

    private static (string, Attribute) Ints(string name, params long[] v) => (name, Ctx.IntArray(v));

    [Fact]
    public void Matmul() =>
        Assert.Equal("([i, j, k], [i, k, l])->([i, j, l]) {i=2, j=4, k=8, l=16} reduction={k}",
            RuleOf("tensor.matmul", new Type[] { T(2, 4, 8), T(2, 8, 16) }));

    [Fact]
    public void MatmulTransposeB() =>
        Assert.Equal("([i, j], [k, j])->([i, k]) {i=4, j=8, k=16} reduction={j}",
            RuleOf("tensor.matmul", new Type[] { T(4, 8), T(16, 8) }, new[] { ("transpose_b", (Attribute)Ctx.Unit) }));

    [Fact]
    public void Linear()
    {
        Assert.Equal("([i, j, k], [l, k], [l])->([i, j, l]) {i=2, j=16, k=64, l=32} reduction={k}",
            RuleOf("tensor.linear", new Type[] { T(2, 16, 64), T(32, 64), T(32) }));
        Assert.Equal("([i, j], [k, j])->([i, k]) {i=16, j=64, k=32} reduction={j}",
            RuleOf("tensor.linear", new Type[] { T(16, 64), T(32, 64) }));
        // The weight gradient: batch and sequence stay two Reduction factors (not one flattened dimension).
        Assert.Equal("([i, j, k], [i, j, l])->([k, l]) {i=2, j=16, k=32, l=64} reduction={i, j}",
            RuleOf("tensor.linear_wgrad", new Type[] { T(2, 16, 32), T(2, 16, 64) }));
        Assert.Equal("([i, j], [i, k])->([j, k]) {i=16, j=32, k=64} reduction={i}",
            RuleOf("tensor.linear_wgrad", new Type[] { T(16, 32), T(16, 64) }));
    }

    /// <summary>GQA: 4 query heads over 2 key/value heads are the factors hkv (k) and group (l).</summary>
    [Fact]
    public void AttentionWithGroupedQueryHeads()
    {
        var qkv = new Type[] { T(2, 16, 4, 8), T(2, 16, 2, 8), T(2, 16, 2, 4) };
        Assert.Equal("([i, j, kl, m], [i, n, k, m], [i, n, k, o])->([i, j, kl, o]) {i=2, j=16, k=2, l=2, m=8, n=16, o=4} need_replication={m, n} positional={j}",
            RuleOf("tensor.attention", qkv, new[] { ("causal", (Attribute)Ctx.Unit) }));
        Assert.Equal("([i, j, kl, m], [i, n, k, m], [i, n, k, o])->([i, j, kl, o]) {i=2, j=16, k=2, l=2, m=8, n=32, o=4} need_replication={m, n}",
            RuleOf("tensor.attention", new Type[] { T(2, 16, 4, 8), T(2, 32, 2, 8), T(2, 32, 2, 4) }));
        Assert.Equal("([i, j, kl, m], [i, n, k, m], [i, n, k, o], [i, j, kl, o])->([i, j, kl, m], [i, n, k, m], [i, n, k, o]) {i=2, j=16, k=2, l=2, m=8, n=16, o=4} reduction={j, l, o} need_replication={m, n}",
            RuleOf("tensor.attention_grad", qkv.Append(T(2, 16, 4, 4)).ToArray(), new[] { ("causal", (Attribute)Ctx.Unit) }));
        // Multi-head (no grouping): the group factor has size 1; multi-query: one key/value head.
        Assert.Contains("{i=1, j=8, k=4, l=1,", RuleOf("tensor.attention", new Type[] { T(1, 8, 4, 2), T(1, 8, 4, 2), T(1, 8, 4, 2) }));
        Assert.Contains("{i=1, j=8, k=1, l=4,", RuleOf("tensor.attention", new Type[] { T(1, 8, 4, 2), T(1, 8, 1, 2), T(1, 8, 1, 2) }));
    }

    [Fact]
    public void ReshapeSplitsAndMerges()
    {
        string Reshape(TensorType x, TensorType y) => RuleOf("tensor.reshape", new Type[] { x }, results: new Type[] { y });
        Assert.Equal("([i, j, kl])->([i, j, k, l]) {i=1, j=256, k=4, l=16}", Reshape(T(1, 256, 64), T(1, 256, 4, 16)));
        Assert.Equal("([i, j, k, l])->([i, j, kl]) {i=1, j=256, k=4, l=16}", Reshape(T(1, 256, 4, 16), T(1, 256, 64)));
        Assert.Equal("([i, j, k])->([ij, k]) {i=2, j=16, k=64}", Reshape(T(2, 16, 64), T(32, 64)));
        Assert.Equal("([1, i, j])->([i, j]) {i=16, j=64}", Reshape(T(1, 16, 64), T(16, 64)));
        // The common refinement of [2, 6] and [4, 3] is 2 x 2 x 3.
        Assert.Equal("([i, jk])->([ij, k]) {i=2, j=2, k=3}", Reshape(T(2, 6), T(4, 3)));
        Assert.Equal("([i, 1])->([1, i]) {i=4}", Reshape(T(4, 1), T(1, 4)));
        // [3, 4] and [2, 6] have none: each dimension needs replication.
        Assert.Equal("([i, j])->([k, l]) {i=3, j=4, k=2, l=6} need_replication={i, j, k, l}", Reshape(T(3, 4), T(2, 6)));
        Assert.Equal("([i, j])->([i, j]) {i=2, j=3}", Reshape(T(2, 3), T(2, 3)));
        Assert.Equal("([])->([1, 1]) {}", Reshape(T(), T(1, 1)));
        Assert.Equal("([i, j])->([i, k]) {i=2, j=?, k=?} need_replication={j, k}",
            Reshape(T(2, TensorType.Dynamic), T(2, TensorType.Dynamic)));
    }

    [Fact]
    public void LossEmbeddingAndNorms()
    {
        var shift = ("shift", (Attribute)Ctx.Integer(1));
        Assert.Equal("([i, j, k], [i, j])->([]) {i=2, j=16, k=256} reduction={i, j} need_replication={k} halo={j=1} combine=counted_mean",
            RuleOf("tensor.cross_entropy", new Type[] { T(2, 16, 256), I(2, 16) }, new[] { shift }));
        // A summed loss: the shards' partial sums add; the halo stays.
        var sum = ("reduction", (Attribute)Ctx.String("sum"));
        Assert.Equal("([i, j, k], [i, j])->([]) {i=2, j=16, k=256} reduction={i, j} need_replication={k} halo={j=1}",
            RuleOf("tensor.cross_entropy", new Type[] { T(2, 16, 256), I(2, 16) }, new[] { shift, sum }));
        Assert.Equal("([i, j, k], [i, j])->([]) {i=2, j=16, k=256} reduction={i, j} need_replication={k} combine=counted_mean",
            RuleOf("tensor.cross_entropy", new Type[] { T(2, 16, 256), I(2, 16) }, new[] { ("shift", (Attribute)Ctx.Integer(0)), ("reduction", (Attribute)Ctx.String("mean")) }));
        Assert.Equal("([i, j, k], [i, j], [])->([i, j, k]) {i=2, j=16, k=256} need_replication={k} positional={j} halo={j=1}",
            RuleOf("tensor.cross_entropy_grad", new Type[] { T(2, 16, 256), I(2, 16), T() }));
        Assert.Equal("([i, j, k], [i, j], [])->([i, j, k]) {i=2, j=16, k=256} need_replication={k} positional={j} halo={j=1}",
            RuleOf("tensor.cross_entropy_grad", new Type[] { T(2, 16, 256), I(2, 16), T() }, new[] { sum }));
        Assert.Equal("([i, j, k], [i, j], [])->([i, j, k]) {i=2, j=16, k=256} need_replication={k}",
            RuleOf("tensor.cross_entropy_grad", new Type[] { T(2, 16, 256), I(2, 16), T() }, new[] { ("shift", (Attribute)Ctx.Integer(0)) }));
        Assert.Equal("([i, j], [k, l])->([k, l, j]) {i=256, j=64, k=2, l=16} need_replication={i}",
            RuleOf("tensor.embedding", new Type[] { T(256, 64), I(2, 16) }));
        Assert.Equal("([i, j, k], [i, j])->([l, k]) {i=2, j=16, k=64, l=256} reduction={i, j} positional={l}",
            RuleOf("tensor.embedding_grad", new Type[] { T(2, 16, 64), I(2, 16) }, new[] { ("num_embeddings", (Attribute)Ctx.Integer(256)) }));
        var eps = ("eps", (Attribute)Ctx.Float(1e-5));
        Assert.Equal("([i, j, k], [k])->([i, j, k]) {i=2, j=16, k=64} need_replication={k}",
            RuleOf("tensor.rms_norm", new Type[] { T(2, 16, 64), T(64) }, new[] { eps }));
        Assert.Equal("([i, j, k], [k], [i, j, k])->([i, j, k], [k]) {i=2, j=16, k=64} reduction={i, j} need_replication={k}",
            RuleOf("tensor.rms_norm_grad", new Type[] { T(2, 16, 64), T(64), T(2, 16, 64) }, new[] { eps }));
        var theta = ("theta", (Attribute)Ctx.Float(10000));
        Assert.Equal("([i, j, k, l])->([i, j, k, l]) {i=2, j=16, k=4, l=8} need_replication={l} positional={j}",
            RuleOf("tensor.rope", new Type[] { T(2, 16, 4, 8) }, new[] { theta }));
        Assert.Equal("([i, j, k, l])->([i, j, k, l]) {i=2, j=16, k=4, l=8} need_replication={l} positional={j}",
            RuleOf("tensor.rope_grad", new Type[] { T(2, 16, 4, 8) }, new[] { theta }));
        // The run-time offset operand is a scalar: no factor.
        Assert.Equal("([i, j, k, l], [])->([i, j, k, l]) {i=2, j=16, k=4, l=8} need_replication={l} positional={j}",
            RuleOf("tensor.rope", new Type[] { T(2, 16, 4, 8), I() }, new[] { theta }));
        Assert.Equal("([i, j, k, l], [])->([i, j, k, l]) {i=2, j=16, k=4, l=8} need_replication={l} positional={j}",
            RuleOf("tensor.rope_grad", new Type[] { T(2, 16, 4, 8), Ctx.Tensor(Ctx.I32, Array.Empty<long>()) }, new[] { theta }));
    }

    [Fact]
    public void ShapeOpsAndReductions()
    {
        Assert.Equal("([i, j])->([i, j]) {i=2, j=8} need_replication={i}",
            RuleOf("tensor.softmax", new Type[] { T(2, 8) }, new[] { ("dim", (Attribute)Ctx.Integer(0)) }));
        Assert.Equal("([i, j], [i, j])->([i, j]) {i=2, j=8} need_replication={j}",
            RuleOf("tensor.softmax_grad", new Type[] { T(2, 8), T(2, 8) }));
        Assert.Equal("([i, j], [i, j])->([i, j]) {i=2, j=8}", RuleOf("tensor.add", new Type[] { T(2, 8), T(2, 8) }));
        Assert.Equal("([])->([]) {}", RuleOf("tensor.exp", new Type[] { T() }));
        Assert.Equal("([i, j, k])->([i, 1, k]) {i=2, j=8, k=4} reduction={j} combine=max",
            RuleOf("tensor.reduce_max", new Type[] { T(2, 8, 4) }, new[] { Ints("dims", -2), ("keepdim", (Attribute)Ctx.Unit) }));
        Assert.Equal("([i, j, k])->([j]) {i=2, j=8, k=4} reduction={i, k} combine=mean",
            RuleOf("tensor.reduce_mean", new Type[] { T(2, 8, 4) }, new[] { Ints("dims", 2, 0) }));
        Assert.Equal("([i, j])->([]) {i=2, j=8} reduction={i, j}",
            RuleOf("tensor.reduce_sum", new Type[] { T(2, 8) }, new[] { Ints("dims", 0, 1) }));
        Assert.Equal("([i, j], [i], [i])->([i, j]) {i=2, j=8} need_replication={j}",
            RuleOf("tensor.reduce_max_grad", new Type[] { T(2, 8), T(2), T(2) }, new[] { Ints("dims", 1) }));
        Assert.Equal("([i])->([j, i]) {i=8, j=4}",
            RuleOf("tensor.broadcast", new Type[] { T(8) }, new[] { Ints("dims", 1), Ints("shape", 4, 8) }));
        Assert.Equal("([1, i])->([j, i]) {i=8, j=4}",
            RuleOf("tensor.broadcast", new Type[] { T(1, 8) }, new[] { Ints("dims", 0, 1), Ints("shape", 4, 8) }));
        Assert.Equal("([i, j, k])->([k, i, j]) {i=2, j=3, k=4}",
            RuleOf("tensor.transpose", new Type[] { T(2, 3, 4) }, new[] { Ints("perm", 2, 0, 1) }));
        Assert.Equal("([i, j])->([i, k]) {i=4, j=8, k=4} need_replication={j, k}",
            RuleOf("tensor.slice", new Type[] { T(4, 8) }, new[] { Ints("offsets", 0, 2), Ints("sizes", 4, 4) }));
        Assert.Equal("([i, j])->([i, k]) {i=4, j=4, k=8} need_replication={j, k}",
            RuleOf("tensor.pad", new Type[] { T(4, 4) }, new[] { Ints("low", 0, 2), Ints("high", 0, 2) }));
        Assert.Equal("([i, j], [i, k])->([i, l]) {i=2, j=3, k=5, l=8} need_replication={j, k, l}",
            RuleOf("tensor.concat", new Type[] { T(2, 3), T(2, 5) }, new[] { ("dim", (Attribute)Ctx.Integer(-1)) }));
        Assert.Equal("([i, j])->([i, j]) {i=2, j=8}",
            RuleOf("tensor.cast", new Type[] { T(2, 8) }, results: new Type[] { Ctx.Tensor(Ctx.BF16, new long[] { 2, 8 }) }));
        // shift: the shifted dimension reads `amount` elements past a shard's end (halo); a negative amount
        // would read before its start, which a halo cannot say: NeedReplication.
        var dim1 = ("dim", (Attribute)Ctx.Integer(1));
        Assert.Equal("([i, j])->([i, j]) {i=2, j=8} positional={j} halo={j=1}",
            RuleOf("tensor.shift", new Type[] { I(2, 8) }, new[] { dim1, ("amount", (Attribute)Ctx.Integer(1)), ("fill", (Attribute)Ctx.Integer(-100)) }));
        Assert.Equal("([i, j, k])->([i, j, k]) {i=2, j=8, k=4} need_replication={j}",
            RuleOf("tensor.shift", new Type[] { T(2, 8, 4) }, new[] { ("dim", (Attribute)Ctx.Integer(-2)), ("amount", (Attribute)Ctx.Integer(-3)) }));
        Assert.Equal("([i, j])->([i, j]) {i=2, j=8}",
            RuleOf("tensor.shift", new Type[] { T(2, 8) }, new[] { dim1, ("amount", (Attribute)Ctx.Integer(0)) }));
        Assert.Equal("([i, j])->([]) {i=2, j=8} reduction={i, j}",
            RuleOf("tensor.count_valid", new Type[] { I(2, 8) }, results: new Type[] { T() }));
        Assert.Null(Constant.Def.ShardingRule!(new OpState(Ctx, Constant.Def, Array.Empty<Type>(),
            Ctx.Dictionary(new[] { new KeyValuePair<string, Attribute>("value", Ctx.Splat(T(2), 1.0)) }), new Type[] { T(2) })));
    }

    // ------------------------------------------------------------------ the rule itself

    private static ShardingFactor F(long size, FactorKind kind = FactorKind.Parallel) => new(size, kind);

    [Fact]
    public void InvalidRulesAreRefused()
    {
        var two = new[] { F(2), F(3) };
        // A factor twice in one tensor, an unused factor, an index out of range, a negative size.
        Assert.Throws<ArgumentException>(() => new ShardingRule(two, new[] { new[] { new[] { 0 }, new[] { 0 } } }, new[] { new[] { new[] { 1 } } }));
        Assert.Throws<ArgumentException>(() => new ShardingRule(two, new[] { new[] { new[] { 0 } } }, new[] { new[] { new[] { 0 } } }));
        Assert.Throws<ArgumentException>(() => new ShardingRule(two, new[] { new[] { new[] { 0, 1, 2 } } }, Array.Empty<int[][]>()));
        Assert.Throws<ArgumentException>(() => new ShardingRule(new[] { F(-5) }, new[] { new[] { new[] { 0 } } }, Array.Empty<int[][]>()));
        Assert.Throws<ArgumentException>(() => new ShardingRule(new[] { new ShardingFactor(4, FactorKind.Reduction, Halo: -1) },
            new[] { new[] { new[] { 0 } } }, Array.Empty<int[][]>()));
    }

    [Fact]
    public void CheckComparesEveryDimensionWithItsFactors()
    {
        // [6] = 2 x 3 merged, and its transpose-like split.
        var rule = new ShardingRule(new[] { F(2), F(3) }, new[] { new[] { new[] { 0, 1 } } }, new[] { new[] { new[] { 0 }, new[] { 1 } } });
        Assert.Equal("([ij])->([i, j]) {i=2, j=3}", rule.ToString());
        Assert.Null(rule.Check(new Type[] { T(6) }, new Type[] { T(2, 3) }));
        Assert.Equal("operand #0 dimension 0 has size 7, but its factors [i, j] make 6", rule.Check(new Type[] { T(7) }, new Type[] { T(2, 3) }));
        Assert.Equal("result #0 has rank 1, the rule 2", rule.Check(new Type[] { T(6) }, new Type[] { T(6) }));
        Assert.Equal("the rule has 1 operands, the op 2", rule.Check(new Type[] { T(6), T(6) }, new Type[] { T(2, 3) }));
        Assert.Equal("result #0 has type i64, not a tensor", rule.Check(new Type[] { T(6) }, new Type[] { Ctx.I64 }));
        var uses = rule.Uses(1).ToList();
        Assert.Equal(new[] { (false, 0, 0, 1, 2), (true, 0, 1, 0, 1) }, uses);
        // A dynamic factor matches a dynamic size, or a static one its static factors divide.
        var dyn = new ShardingRule(new[] { F(2), F(TensorType.Dynamic) }, new[] { new[] { new[] { 0, 1 } } }, Array.Empty<int[][]>());
        Assert.Null(dyn.Check(new Type[] { T(TensorType.Dynamic) }, Array.Empty<Type>()));
        Assert.Null(dyn.Check(new Type[] { T(8) }, Array.Empty<Type>()));
        Assert.NotNull(dyn.Check(new Type[] { T(7) }, Array.Empty<Type>()));
        Assert.Equal("z_1", ShardingRule.Name(18));
        Assert.Equal("r", ShardingRule.Name(9));
    }
}
