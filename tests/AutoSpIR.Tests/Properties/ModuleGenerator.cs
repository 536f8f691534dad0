using System.Globalization;
using AutoSpIR.Dialects;
using FsCheck;
using FsCheck.Fluent;
using FsGen = FsCheck.Fluent.Gen;

namespace AutoSpIR.Tests.Properties;

// Generators of random modules for the property tests.
//
// FsCheck generates (and shrinks) a small spec of numbers; a builder turns a spec into IR
// deterministically with System.Random seeded from it. Shrinking lowers the number of
// functions and ops; because every function draws from its own Random (seeded from the spec
// seed and its index) and ops are drawn one after another, a smaller spec builds a prefix of
// the bigger module, so a shrunk counterexample is a small module with the same beginning.

/// <summary>
/// A valid module of 1-3 func.func over registered tensor ops: <see cref="ValidModuleBuilder"/>.
/// With <paramref name="ScalarLoss"/> every function returns one rank-0 float "loss" (a
/// reduce_sum over all dimensions) and has an aspir.param argument, all shapes are static and
/// no function calls another: input for autodiff.
/// </summary>
public sealed record ValidModuleSpec(int Seed, int MaxOps, int NumFuncs, bool ScalarLoss = false)
{
    public override string ToString()
    {
        string text;
        try { text = Printer.Print(ValidModuleBuilder.Build(this, out _)); }
        catch (Exception e) { text = $"<building failed: {e.GetType().Name}: {e.Message}>"; }
        return $"ValidModuleSpec(Seed={Seed}, MaxOps={MaxOps}, NumFuncs={NumFuncs}, ScalarLoss={ScalarLoss}):\n{TextDiff.Clip(text)}";
    }
}

/// <summary>A module of unregistered "test.*" ops with random attributes, types and regions: <see cref="UnregisteredModuleBuilder"/>.</summary>
public sealed record UnregisteredModuleSpec(int Seed, int MaxOps, int MaxDepth, bool CollidingBlockNames = false)
{
    public override string ToString()
    {
        string text;
        try { text = Printer.Print(UnregisteredModuleBuilder.Build(this, out _, out _), generic: true); }
        catch (Exception e) { text = $"<building failed: {e.GetType().Name}: {e.Message}>"; }
        return $"UnregisteredModuleSpec(Seed={Seed}, MaxOps={MaxOps}, MaxDepth={MaxDepth}, CollidingBlockNames={CollidingBlockNames}):\n{TextDiff.Clip(text)}";
    }
}

public static class ModuleGenerators
{
    public static readonly Gen<ValidModuleSpec> ValidSpecs =
        from seed in FsGen.Choose(0, int.MaxValue - 1)
        from ops in FsGen.Choose(1, 30)
        from funcs in FsGen.Choose(1, 3)
        select new ValidModuleSpec(seed, ops, funcs);

    public static IEnumerable<ValidModuleSpec> ShrinkValid(ValidModuleSpec s)
    {
        if (s.NumFuncs > 1) yield return s with { NumFuncs = 1 };
        if (s.NumFuncs > 2) yield return s with { NumFuncs = s.NumFuncs - 1 };
        if (s.MaxOps > 1) yield return s with { MaxOps = 1 };
        if (s.MaxOps > 3) yield return s with { MaxOps = s.MaxOps / 2 };
        if (s.MaxOps > 1) yield return s with { MaxOps = s.MaxOps - 1 };
    }

    public static Arbitrary<ValidModuleSpec> ValidModules => Arb.From(ValidSpecs, ShrinkValid);

    /// <summary>Valid modules whose functions return a scalar loss of their aspir.param arguments.</summary>
    public static Arbitrary<ValidModuleSpec> LossModules => Arb.From(ValidSpecs.Select(s => s with { ScalarLoss = true }), ShrinkValid);

    /// <summary>A fixed sample of specs, for the tests that measure what the generator produces.</summary>
    public static List<ValidModuleSpec> SampleValid(int count, int seed)
    {
        var rng = new System.Random(seed);
        return Enumerable.Range(0, count).Select(_ => new ValidModuleSpec(rng.Next(), rng.Next(1, 31), rng.Next(1, 4))).ToList();
    }

    public static Gen<UnregisteredModuleSpec> UnregisteredSpecs(bool collidingBlockNames = false) =>
        from seed in FsGen.Choose(0, int.MaxValue - 1)
        from ops in FsGen.Choose(1, 8)
        from depth in FsGen.Choose(0, 2)
        select new UnregisteredModuleSpec(seed, ops, depth, collidingBlockNames);

    public static IEnumerable<UnregisteredModuleSpec> ShrinkUnregistered(UnregisteredModuleSpec s)
    {
        if (s.MaxDepth > 0) yield return s with { MaxDepth = s.MaxDepth - 1 };
        if (s.MaxOps > 1) yield return s with { MaxOps = 1 };
        if (s.MaxOps > 2) yield return s with { MaxOps = s.MaxOps / 2 };
        if (s.MaxOps > 1) yield return s with { MaxOps = s.MaxOps - 1 };
    }

    public static Arbitrary<UnregisteredModuleSpec> UnregisteredModules(bool collidingBlockNames = false) =>
        Arb.From(UnregisteredSpecs(collidingBlockNames), ShrinkUnregistered);
}

/// <summary>Random pieces shared by the builders.</summary>
internal static class Pick
{
    public static T One<T>(this System.Random rng, IReadOnlyList<T> items) => items[rng.Next(items.Count)];
    public static bool Chance(this System.Random rng, double p) => rng.NextDouble() < p;

    /// <summary>Value and block names: plain, numeric (renumbered by the printer), invalid (numbered), and colliding ones.</summary>
    public static readonly string?[] Hints =
    {
        null, null, null, null, "x", "x", "y", "h", "out", "tmp", "x_1", "x_2", "arg0", "arg1", "a.b", "v$1", "-", "-1", "$", ".",
        "0", "1", "12", "with space", "q\"uote", "1abc", "x#1", "", "é", "_", "bb0", "bb1",
    };
}

/// <summary>
/// Builds a valid module with the IR API: func.func ops with random tensor arguments and
/// argument attributes, bodies of registered tensor ops created through their shape rules
/// (<see cref="Builder.Create(OpDef, IReadOnlyList{Value}, DictionaryAttr?)"/>), calls of earlier
/// functions, and a func.return of 1-2 values. Ops whose shape rule or verifier rejects the
/// chosen operands and attributes are skipped. Any op registered in the tensor dialect is
/// tried: known ones with attributes that fit them, others with their required attributes guessed.
/// An operand of a shape no value has yet becomes a new function argument or, a quarter of the
/// time, a tensor.constant (so folds have work); now and then an argument gets a dynamic size,
/// an op is a copy of an earlier one (work for cse), or carries an undeclared attribute.
/// Values are named from <see cref="Pick.Hints"/>, which collide on purpose.
/// </summary>
public sealed class ValidModuleBuilder
{
    private const int MaxArgs = 10;
    // Training steps: no dynamic sizes and no calls (see PassProperties.AutodiffDifferentiatesTrainingSteps).
    private bool _static;

    private readonly Context _ctx;
    private readonly Builder _b;
    private System.Random _rng = new(0);
    private readonly List<Value> _pool = new();
    private readonly List<Value> _results = new();
    private readonly List<Operation> _funcs = new();
    private Block _entry = null!;
    private readonly List<Attribute> _argAttrs = new();
    private readonly ScalarType[] _floats;
    private readonly ScalarType[] _ints;
    private readonly ScalarType[] _allScalars;

    private ValidModuleBuilder(Context ctx)
    {
        _ctx = ctx;
        _b = new Builder(ctx);
        _floats = new[] { ctx.F32, ctx.F64, ctx.BF16, ctx.F16 };
        _ints = new[] { ctx.I32, ctx.I64 };
        _allScalars = new[] { ctx.F32, ctx.F64, ctx.BF16, ctx.F16, ctx.I64, ctx.I32, ctx.I8, ctx.I1, ctx.Index };
    }

    /// <summary>Builds the module of <paramref name="spec"/> in a new context with every dialect.</summary>
    public static Operation Build(ValidModuleSpec spec, out Context ctx)
    {
        ctx = AllDialects.NewContext();
        return new ValidModuleBuilder(ctx).BuildModule(spec);
    }

    private Operation BuildModule(ValidModuleSpec spec)
    {
        var rng = new System.Random(spec.Seed);
        _static = spec.ScalarLoss;
        var attrs = new List<KeyValuePair<string, Attribute>>();
        if (rng.Chance(0.3)) attrs.Add(new("sym_name", _ctx.String(rng.One(new[] { "m", "model", "with space", "a.b" }))));
        if (rng.Chance(0.2)) attrs.Add(new("aspir.version", _ctx.Integer(1)));
        var module = Operation.Create(_ctx, "module", Array.Empty<Value>(), Array.Empty<Type>(), _ctx.Dictionary(attrs), 1);
        var body = module.Region(0).AddBlock();
        bool declaration = rng.Chance(0.15);
        for (int f = 0; f < spec.NumFuncs; f++)
        {
            _rng = new System.Random(unchecked(spec.Seed * 31 + f + 1));
            var func = BuildFunc(body, f, spec.MaxOps, spec.ScalarLoss);
            _funcs.Add(func);
        }
        if (declaration)
        {
            _rng = new System.Random(unchecked(spec.Seed * 31 + 1000));
            var inputs = Enumerable.Range(0, _rng.Next(0, 3)).Select(_ => (Type)RandomTensor(_rng.One(_floats), 0, 3)).ToArray();
            var results = Enumerable.Range(0, _rng.Next(0, 3)).Select(_ => (Type)RandomTensor(_rng.One(_floats), 0, 3)).ToArray();
            var decl = Operation.Create(_ctx, "func.func", Array.Empty<Value>(), Array.Empty<Type>(), _ctx.Dictionary(new KeyValuePair<string, Attribute>[]
            {
                new("sym_name", _ctx.String("decl")),
                new("sym_visibility", _ctx.String("private")),
                new("function_type", _ctx.TypeAttr(_ctx.Function(inputs, results))),
            }), 1);
            body.Append(decl);
        }
        return module;
    }

    // ------------------------------------------------------------------ functions

    private static readonly string[] FuncNames = { "main", "f", "layer.0", "-", "with space", "q\"uote", "f_1", "0", "forward", "é" };

    private Operation BuildFunc(Block moduleBody, int index, int maxOps, bool scalarLoss)
    {
        var name = _rng.One(FuncNames);
        if (_funcs.Any(f => f.GetString("sym_name") == name) || name == "decl") name += "_" + index;
        var func = Operation.Create(_ctx, "func.func", Array.Empty<Value>(), Array.Empty<Type>(), null, 1);
        moduleBody.Append(func);
        _entry = func.Region(0).AddBlock();
        _pool.Clear();
        _results.Clear();
        _argAttrs.Clear();
        _b.SetInsertionPointToEnd(_entry);

        int initialArgs = _rng.Next(1, 4);
        for (int i = 0; i < initialArgs; i++) AddArg(RandomTensor(_rng.Chance(0.85) ? _rng.One(_floats) : _rng.One(_ints), 0, 4));

        int wanted = Math.Min(maxOps, _rng.Next(1, 31));
        int made = 0;
        for (int attempt = 0; made < wanted && attempt < wanted * 6; attempt++)
            if (TryOneOp()) made++;

        // func.return of 1-2 values, preferring op results.
        var returned = new List<Value>();
        if (scalarLoss) returned.Add(ScalarLoss());
        else
        {
            int numReturns = _rng.Next(1, 3);
            for (int i = 0; i < numReturns; i++)
                returned.Add(_results.Count > 0 && _rng.Chance(0.75) ? _rng.One(_results) : _rng.One(_pool));
        }
        _b.Create("func.return", returned, Array.Empty<Type>());

        var entries = new List<KeyValuePair<string, Attribute>>
        {
            new("sym_name", _ctx.String(name)),
            new("function_type", _ctx.TypeAttr(_ctx.Function(_entry.Arguments.Select(a => a.Type).ToArray(), returned.Select(v => v.Type).ToArray()))),
        };
        if (_argAttrs.Any(a => a is DictionaryAttr { Count: > 0 }) || _rng.Chance(0.1))
            entries.Add(new("arg_attrs", _ctx.Array(_argAttrs.ToArray())));
        if (_rng.Chance(0.15))
            entries.Add(new("res_attrs", _ctx.Array(returned.Select((_, i) => (Attribute)(i == 0
                ? _ctx.Dictionary(new KeyValuePair<string, Attribute>[] { new("aspir.name", _ctx.String("out")) })
                : _ctx.EmptyDictionary)).ToArray())));
        if (_rng.Chance(0.15)) entries.Add(new("sym_visibility", _ctx.String(_rng.One(new[] { "private", "public", "nested" }))));
        if (_rng.Chance(0.15)) entries.Add(new("aspir.entry", _ctx.Unit));
        func.Attributes = _ctx.Dictionary(entries);
        return func;
    }

    /// <summary>
    /// A rank-0 float value for a training step to return: the sum over all dimensions of an op
    /// result (or argument), preferring the latest ones; an argument becomes a parameter if none is.
    /// </summary>
    private Value ScalarLoss()
    {
        if (!_argAttrs.Any(a => a is DictionaryAttr d && d.Get("aspir.param") is not null))
        {
            var arg = _entry.Arguments.FirstOrDefault(a => a.Type is TensorType { Element.IsFloat: true }) ?? AddArg(RandomTensor(_rng.One(_floats), 1, 3))!;
            if (arg is not null)
                _argAttrs[arg.Index] = _ctx.Dictionary(((DictionaryAttr)_argAttrs[arg.Index]).Entries
                    .Where(e => e.Key != "aspir.param").Append(new("aspir.param", _ctx.String($"model.w{arg.Index}"))));
        }
        var floats = _pool.Where(v => v.Type is TensorType { Element.IsFloat: true }).ToList();
        var results = floats.Where(v => v is OpResult).ToList();
        var x = results.Count > 0 && _rng.Chance(0.8) ? results[Math.Max(0, results.Count - 1 - _rng.Next(3))]
            : floats.Count > 0 ? _rng.One(floats) : AddArg(RandomTensor(_rng.One(_floats), 1, 3))!;
        var t = (TensorType)x.Type;
        if (t.Rank == 0 || _ctx.LookupOp("tensor.reduce_sum") is not { } sum) return x;
        var loss = _b.Create(sum, new[] { x }, _ctx.Dictionary(new KeyValuePair<string, Attribute>[] { new("dims", Ints(Enumerable.Range(0, t.Rank).Select(i => (long)i))) }));
        loss.Result(0).NameHint = "loss";
        return loss.Result(0);
    }

    private Attribute RandomArgAttrs(TensorType type)
    {
        var e = new List<KeyValuePair<string, Attribute>>();
        int k = _rng.Next(6);
        if (k is 1 or 3) e.Add(new("aspir.seq_dim", _ctx.Integer(1)));
        // Parameters are float weights (autodiff rejects any other).
        if (k is 2 or 3 && type.Element.IsFloat) e.Add(new("aspir.param", _ctx.String("model.x.weight")));
        if (k is 4) e.Add(new("aspir.name", _ctx.String("input_ids")));
        return _ctx.Dictionary(e);
    }

    private BlockArgument? AddArg(TensorType t)
    {
        if (_entry.Arguments.Count >= MaxArgs) return null;
        var a = _entry.AddArgument(t);
        a.NameHint = _rng.One(Pick.Hints);
        _argAttrs.Add(RandomArgAttrs(t));
        _pool.Add(a);
        return a;
    }

    // ------------------------------------------------------------------ types and values

    private long Dim(int max = 8) => _rng.Next(1, max + 1);

    private TensorType RandomTensor(ScalarType element, int minRank, int maxRank, int maxDim = 8)
    {
        int rank = _rng.Next(minRank, maxRank + 1);
        var shape = new long[rank];
        for (int i = 0; i < rank; i++) shape[i] = Dim(maxDim);
        return _ctx.Tensor(shape, element);
    }

    private TensorType Tensor(ScalarType element, params long[] shape) => _ctx.Tensor(shape, element);

    /// <summary>A value of the pool whose type satisfies <paramref name="pred"/>, or a new argument of type <paramref name="make"/>().</summary>
    private Value? PickOrMake(Func<TensorType, bool> pred, Func<TensorType> make)
    {
        if (!_rng.Chance(0.2))
        {
            var candidates = _pool.Where(v => v.Type is TensorType t && pred(t)).ToList();
            if (candidates.Count > 0) return _rng.One(candidates);
        }
        var type = make();
        // Sometimes a constant instead of a new argument, so that folds and canonicalizations have work.
        if (_rng.Chance(0.25) && type.IsStatic && _ctx.LookupOp("tensor.constant") is { } constant)
        {
            try
            {
                var c = _b.Create(constant, Array.Empty<Value>(), _ctx.Dictionary(new KeyValuePair<string, Attribute>[] { new("value", RandomDense(type, foldable: true)) }));
                c.Result(0).NameHint = _rng.One(Pick.Hints);
                _pool.Add(c.Result(0));
                _results.Add(c.Result(0));
                return c.Result(0);
            }
            catch (InvalidOperationException)
            {
                // the constant's rule rejects this type: fall back to an argument
            }
        }
        return AddArg(type);
    }

    private Value? Exactly(TensorType t) => PickOrMake(x => ReferenceEquals(x, t), () => t);

    private Value? AnyFloat(int minRank = 0, int maxRank = 4) =>
        PickOrMake(t => t.Element.IsFloat && t.Rank >= minRank && t.Rank <= maxRank,
            () => MaybeDynamic(RandomTensor(_rng.One(_floats), minRank, maxRank)));

    private Value? AnyTensor(int minRank = 0, int maxRank = 4) =>
        PickOrMake(t => t.Rank >= minRank && t.Rank <= maxRank,
            () => MaybeDynamic(RandomTensor(_rng.Chance(0.8) ? _rng.One(_floats) : _rng.One(_ints), minRank, maxRank)));

    /// <summary>Now and then one size made dynamic ('?'), so shape rules, folds and costs meet unknown sizes.</summary>
    private TensorType MaybeDynamic(TensorType t)
    {
        if (t.Rank == 0 || _static || !_rng.Chance(0.1)) return t;
        var shape = t.Shape.ToArray();
        shape[_rng.Next(shape.Length)] = TensorType.Dynamic;
        return _ctx.Tensor(shape, t.Element);
    }

    private Attribute Int(long v) => _ctx.Integer(v);
    private Attribute Ints(IEnumerable<long> v) => _ctx.IntArray(v);

    // ------------------------------------------------------------------ ops

    private sealed record Proposal(Value[] Operands, List<KeyValuePair<string, Attribute>> Attrs, Type[]? ResultTypes = null);

    private bool TryOneOp()
    {
        Proposal? p;
        string name;
        OpDef? def;
        if (_results.Count > 0 && _rng.Chance(0.06))
        {
            // A copy of an earlier op (same operands and attributes): work for cse.
            var original = _rng.One(_results).DefiningOp!;
            if (original.Name == "func.call") return false;
            var copy = _b.Insert(original.Clone());
            foreach (var r in copy.Results)
            {
                r.NameHint = _rng.One(Pick.Hints);
                _pool.Add(r);
                _results.Add(r);
            }
            return true;
        }
        if (_funcs.Count > 0 && !_static && _rng.Chance(0.08))
        {
            def = _ctx.LookupOp("func.call");
            name = "func.call";
            p = ProposeCall();
        }
        else
        {
            var ops = _ctx.LookupDialect("tensor")?.Ops;
            if (ops is null || ops.Count == 0) return false;
            def = _rng.One(ops);
            name = def.Name;
            p = Propose(def);
        }
        if (p is null || def is null || p.Operands.Any(v => v is null)) return false;

        // Now and then a discardable attribute the op does not declare.
        if (_rng.Chance(0.08) && def.FindAttribute("test.tag") is null)
            p.Attrs.Add(new("test.tag", _rng.Next(4) switch
            {
                0 => _ctx.Unit,
                1 => _ctx.Integer(7),
                2 => _ctx.String("note"),
                _ => Ints(new long[] { 1, 2 }),
            }));

        var attrs = _ctx.Dictionary(p.Attrs);
        Operation op;
        try
        {
            op = p.ResultTypes is { } rt
                ? _b.Create(name, p.Operands, rt, attrs)
                : _b.Create(def, p.Operands, attrs);
        }
        catch (InvalidOperationException)
        {
            return false;   // the shape rule rejected this combination
        }
        if (!IsValid(op))
        {
            op.Erase();
            return false;
        }
        var hint = _rng.One(Pick.Hints);
        foreach (var r in op.Results)
        {
            r.NameHint = hint;
            _pool.Add(r);
            _results.Add(r);
        }
        return true;
    }

    /// <summary>What the verifier checks of one op: attribute kinds, the shape rule, the op's own verifier.</summary>
    private static bool IsValid(Operation op)
    {
        var def = op.Def;
        if (def is null) return false;
        foreach (var spec in def.Attributes)
        {
            var a = op.GetAttr(spec.Name);
            if (a is null ? spec.Required : !Verifier.AttrMatches(a, spec.Kind)) return false;
        }
        var diag = new DiagnosticEngine();
        if (def.InferResultTypes is { } infer)
        {
            var types = infer(OpState.Of(op, diag));
            if (types is null || types.Length != op.NumResults) return false;
            for (int i = 0; i < types.Length; i++)
                if (!ReferenceEquals(types[i], op.Result(i).Type)) return false;
        }
        if (def.Verify is { } verify && !verify(op, OpState.Of(op, diag))) return false;
        return !diag.HasErrors;
    }

    private Proposal? ProposeCall()
    {
        var callee = _rng.One(_funcs);
        var ft = (FunctionType)((TypeAttr)callee.GetAttr("function_type")!).Value;
        var operands = new Value[ft.Inputs.Count];
        for (int i = 0; i < operands.Length; i++)
        {
            if (ft.Inputs[i] is not TensorType t || Exactly(t) is not { } v) return null;
            operands[i] = v;
        }
        return new Proposal(operands, new() { new("callee", _ctx.Symbol(callee.GetString("sym_name")!)) }, ft.Results.ToArray());
    }

    private Proposal? Propose(OpDef def)
    {
        var attrs = new List<KeyValuePair<string, Attribute>>();
        Proposal With(params Value?[] operands) => new(operands!, attrs);

        switch (def.Name)
        {
            case "tensor.add" or "tensor.sub" or "tensor.mul" or "tensor.div":
            {
                var a = AnyFloat();
                if (a is null) return null;
                return With(a, Exactly((TensorType)a.Type));
            }
            case "tensor.neg" or "tensor.exp" or "tensor.log" or "tensor.rsqrt" or "tensor.silu" or "tensor.gelu":
                return With(AnyFloat());

            case "tensor.constant":
            {
                var elem = _rng.Chance(0.75) ? _rng.One(_floats) : _rng.One(_allScalars);
                var type = RandomTensor(elem, 0, 3, 4);
                attrs.Add(new("value", RandomDense(type)));
                return With();
            }
            case "tensor.cast":
            {
                var x = AnyTensor();
                if (x is null) return null;
                var t = (TensorType)x.Type;
                return new Proposal(new[] { x }, attrs, new Type[] { _ctx.Tensor(t.Shape, _rng.One(_allScalars)) });
            }
            case "tensor.matmul":
            {
                var a = AnyFloat(2, 4);
                if (a is null) return null;
                var at = (TensorType)a.Type;
                bool tb = _rng.Chance(0.4);
                long k = at.Dim(at.Rank - 1), n = Dim();
                var shape = at.Shape.ToArray();
                shape[^2] = tb ? n : k;
                shape[^1] = tb ? k : n;
                if (tb) attrs.Add(new("transpose_b", _ctx.Unit));
                return With(a, Exactly(Tensor(at.Element, shape)));
            }
            case "tensor.linear":
            {
                var x = AnyFloat(1, 4);
                if (x is null) return null;
                var xt = (TensorType)x.Type;
                long outF = Dim();
                var w = Exactly(Tensor(xt.Element, outF, xt.Dim(xt.Rank - 1)));
                return _rng.Chance(0.4) ? With(x, w, Exactly(Tensor(xt.Element, outF))) : With(x, w);
            }
            case "tensor.embedding":
            {
                var table = AnyFloat(2, 2);
                var ids = PickOrMake(t => !t.Element.IsFloat && t.Element.Kind is ScalarKind.I32 or ScalarKind.I64 && t.Rank <= 3,
                    () => RandomTensor(_rng.One(_ints), 0, 2));
                return With(table, ids);
            }
            case "tensor.broadcast":
            {
                var x = AnyTensor(0, 3);
                if (x is null) return null;
                var xt = (TensorType)x.Type;
                int resultRank = Math.Min(4, xt.Rank + _rng.Next(0, 3));
                var dims = Enumerable.Range(0, resultRank).OrderBy(_ => _rng.Next()).Take(xt.Rank).OrderBy(d => d).ToArray();
                var shape = new long[resultRank];
                for (int j = 0; j < resultRank; j++) shape[j] = Dim(4);
                for (int i = 0; i < dims.Length; i++) shape[dims[i]] = xt.Dim(i) == 1 ? Dim(4) : xt.Dim(i);
                attrs.Add(new("shape", Ints(shape)));
                attrs.Add(new("dims", Ints(dims.Select(d => _rng.Chance(0.3) ? (long)d - resultRank : d))));
                return With(x);
            }
            case "tensor.reshape":
            {
                var x = AnyTensor();
                if (x is null) return null;
                var xt = (TensorType)x.Type;
                return new Proposal(new[] { x }, attrs, new Type[] { _ctx.Tensor(Factorize(xt.NumElements), xt.Element) });
            }
            case "tensor.transpose":
            {
                var x = AnyTensor();
                if (x is null) return null;
                var rank = ((TensorType)x.Type).Rank;
                attrs.Add(new("perm", Ints(Enumerable.Range(0, rank).Select(i => (long)i).OrderBy(_ => _rng.Next()))));
                return With(x);
            }
            case "tensor.slice":
            {
                var x = AnyTensor();
                if (x is null) return null;
                var xt = (TensorType)x.Type;
                var offsets = new long[xt.Rank];
                var sizes = new long[xt.Rank];
                for (int i = 0; i < xt.Rank; i++)
                {
                    long d = xt.Dim(i) == TensorType.Dynamic ? 4 : xt.Dim(i);   // a dynamic size is not checked
                    offsets[i] = _rng.Next(0, (int)Math.Max(1, d));
                    sizes[i] = _rng.Chance(0.03) ? 0 : _rng.Next(1, (int)Math.Max(1, d - offsets[i]) + 1);
                }
                attrs.Add(new("offsets", Ints(offsets)));
                attrs.Add(new("sizes", Ints(sizes)));
                return With(x);
            }
            case "tensor.concat":
            {
                var x = AnyTensor(1, 4);
                if (x is null) return null;
                var xt = (TensorType)x.Type;
                int dim = _rng.Next(xt.Rank);
                attrs.Add(new("dim", Int(_rng.Chance(0.3) ? dim - xt.Rank : dim)));
                var operands = new List<Value?> { x };
                int more = _rng.Next(0, 3);
                for (int k = 0; k < more; k++)
                {
                    var shape = xt.Shape.ToArray();
                    shape[dim] = Dim();
                    operands.Add(_rng.Chance(0.3) ? x : Exactly(Tensor(xt.Element, shape)));
                }
                return With(operands.ToArray());
            }
            case "tensor.reduce_sum" or "tensor.reduce_mean" or "tensor.reduce_max":
            {
                var x = AnyFloat();
                if (x is null) return null;
                int rank = ((TensorType)x.Type).Rank;
                var dims = Enumerable.Range(0, rank).Where(_ => _rng.Chance(0.5)).Select(d => _rng.Chance(0.3) ? (long)d - rank : d);
                attrs.Add(new("dims", Ints(dims.OrderBy(_ => _rng.Next()))));
                if (_rng.Chance(0.5)) attrs.Add(new("keepdim", _ctx.Unit));
                return With(x);
            }
            case "tensor.softmax":
            {
                var x = AnyFloat(1, 4);
                if (x is null) return null;
                int rank = ((TensorType)x.Type).Rank;
                if (_rng.Chance(0.5)) attrs.Add(new("dim", Int(_rng.Next(-rank, rank))));
                return With(x);
            }
            case "tensor.rms_norm":
            {
                var x = AnyFloat(1, 4);
                if (x is null) return null;
                var xt = (TensorType)x.Type;
                attrs.Add(new("eps", _rng.Next(4) switch { 0 => _ctx.Float(1e-5), 1 => _ctx.Float(1e-6), 2 => _ctx.Float(0.0), _ => _ctx.Integer(0) }));
                return With(x, Exactly(Tensor(xt.Element, xt.Dim(xt.Rank - 1))));
            }
            case "tensor.rope":
            {
                var x = PickOrMake(t => t.Element.IsFloat && t.Rank == 4 && t.Dim(3) % 2 == 0,
                    () => Tensor(_rng.One(_floats), Dim(2), Dim(4), Dim(2), 2 * Dim(4)));
                attrs.Add(new("theta", _ctx.Float(_rng.One(new[] { 10000.0, 500000.0, 1.0 }))));
                if (_rng.Chance(0.4)) attrs.Add(new("offset", Int(_rng.Next(0, 129))));
                // A run-time position offset operand (rank-0 i64 or i32).
                return _rng.Chance(0.3) ? With(x, Exactly(Tensor(_rng.Chance(0.5) ? _ctx.I64 : _ctx.I32))) : With(x);
            }
            case "tensor.attention":
            {
                var elem = _rng.One(_floats);
                long b = Dim(2), s = Dim(4), hkv = Dim(2), hq = hkv * Dim(2), d = Dim(4), dv = Dim(4);
                bool causal = _rng.Chance(0.4);
                long t = causal ? s + _rng.Next(0, 3) : Dim(4);
                var q = PickOrMake(x => x.Element.IsFloat && x.Rank == 4, () => Tensor(elem, b, s, hq, d));
                if (q is null) return null;
                var qt = (TensorType)q.Type;
                if (qt.Dim(2) % hkv != 0) hkv = 1;
                if (causal && t < qt.Dim(1)) t = qt.Dim(1);
                var k = Exactly(Tensor(qt.Element, qt.Dim(0), t, hkv, qt.Dim(3)));
                var v = Exactly(Tensor(qt.Element, qt.Dim(0), t, hkv, dv));
                if (causal) attrs.Add(new("causal", _ctx.Unit));
                if (_rng.Chance(0.3)) attrs.Add(new("scale", _ctx.Float(0.125)));
                return With(q, k, v);
            }
            case "tensor.cross_entropy":
            {
                var logits = PickOrMake(x => x.Element.IsFloat && x.Rank == 3, () => Tensor(_rng.One(_floats), Dim(2), 1 + Dim(4), Dim()));
                if (logits is null) return null;
                var lt = (TensorType)logits.Type;
                var labels = Exactly(Tensor(_rng.One(_ints), lt.Dim(0), lt.Dim(1)));
                if (_rng.Chance(0.4)) attrs.Add(new("shift", Int(_rng.Next(0, (int)Math.Max(1, lt.Dim(1))))));
                if (_rng.Chance(0.3)) attrs.Add(new("ignore_index", Int(_rng.Chance(0.5) ? -100 : 0)));
                if (_rng.Chance(0.3)) attrs.Add(new("reduction", _ctx.String(_rng.Chance(0.5) ? "sum" : "mean")));
                return With(logits, labels);
            }
            case "tensor.count_valid":
            {
                var labels = PickOrMake(t => t.Element.IsInteger && t.Rank >= 1, () => RandomTensor(_rng.One(_ints), 1, 3));
                if (labels is null) return null;
                if (_rng.Chance(0.4)) attrs.Add(new("ignore_index", Int(_rng.Chance(0.5) ? -100 : 0)));
                return new Proposal(new[] { labels }, attrs, new Type[] { Tensor(_rng.One(_floats)) });
            }
            case "tensor.shift":
            {
                var x = AnyTensor(1, 4);
                if (x is null) return null;
                var xt = (TensorType)x.Type;
                int dim = _rng.Next(xt.Rank);
                attrs.Add(new("dim", Int(_rng.Chance(0.3) ? dim - xt.Rank : dim)));
                attrs.Add(new("amount", Int(_rng.Next(-3, 4))));
                if (_rng.Chance(0.5))
                    attrs.Add(new("fill", xt.Element.IsFloat && _rng.Chance(0.5) ? _ctx.Float(-1.5) : Int(xt.Element.Kind == ScalarKind.I1 ? 1 : -100)));
                return With(x);
            }
            // ---- backward ops
            case "tensor.pad":
            {
                var x = AnyTensor();
                if (x is null) return null;
                int rank = ((TensorType)x.Type).Rank;
                attrs.Add(new("low", Ints(Enumerable.Range(0, rank).Select(_ => (long)_rng.Next(0, 3)))));
                attrs.Add(new("high", Ints(Enumerable.Range(0, rank).Select(_ => (long)_rng.Next(0, 3)))));
                return With(x);
            }
            case "tensor.silu_grad" or "tensor.gelu_grad":
            {
                var x = AnyFloat();
                if (x is null) return null;
                return With(x, Exactly((TensorType)x.Type));
            }
            case "tensor.softmax_grad":
            {
                var y = AnyFloat(1, 4);
                if (y is null) return null;
                int rank = ((TensorType)y.Type).Rank;
                if (_rng.Chance(0.5)) attrs.Add(new("dim", Int(_rng.Next(-rank, rank))));
                return With(y, Exactly((TensorType)y.Type));
            }
            case "tensor.reduce_max_grad":
            {
                var x = AnyFloat();
                if (x is null) return null;
                var xt = (TensorType)x.Type;
                var dims = Enumerable.Range(0, xt.Rank).Where(_ => _rng.Chance(0.5)).ToArray();
                bool keep = _rng.Chance(0.5);
                var shape = Enumerable.Range(0, xt.Rank).Where(i => keep || !dims.Contains(i)).Select(i => dims.Contains(i) ? 1 : xt.Dim(i)).ToArray();
                attrs.Add(new("dims", Ints(dims.Select(d => (long)d))));
                if (keep) attrs.Add(new("keepdim", _ctx.Unit));
                var yt = Tensor(xt.Element, shape);
                return With(x, Exactly(yt), Exactly(yt));
            }
            case "tensor.rms_norm_grad":
            {
                var x = AnyFloat(1, 4);
                if (x is null) return null;
                var xt = (TensorType)x.Type;
                attrs.Add(new("eps", _ctx.Float(_rng.One(new[] { 1e-5, 0.0 }))));
                return With(x, Exactly(Tensor(xt.Element, xt.Dim(xt.Rank - 1))), Exactly(xt));
            }
            case "tensor.rope_grad":
            {
                var dy = PickOrMake(t => t.Element.IsFloat && t.Rank == 4 && t.Dim(3) % 2 == 0,
                    () => Tensor(_rng.One(_floats), Dim(2), Dim(4), Dim(2), 2 * Dim(4)));
                attrs.Add(new("theta", _ctx.Float(_rng.One(new[] { 10000.0, 1.0 }))));
                if (_rng.Chance(0.4)) attrs.Add(new("offset", Int(_rng.Next(0, 129))));
                return _rng.Chance(0.3) ? With(dy, Exactly(Tensor(_rng.Chance(0.5) ? _ctx.I64 : _ctx.I32))) : With(dy);
            }
            case "tensor.attention_grad":
            {
                var elem = _rng.One(_floats);
                long b = Dim(2), sq = Dim(4), hkv = Dim(2), hq = hkv * Dim(2), d = Dim(4), dv = Dim(4), t = sq + _rng.Next(0, 3);
                var q = Exactly(Tensor(elem, b, sq, hq, d));
                var k = Exactly(Tensor(elem, b, t, hkv, d));
                var v = Exactly(Tensor(elem, b, t, hkv, dv));
                var dout = Exactly(Tensor(elem, b, sq, hq, dv));
                if (_rng.Chance(0.4)) attrs.Add(new("causal", _ctx.Unit));
                if (_rng.Chance(0.3)) attrs.Add(new("scale", _ctx.Float(0.5)));
                return With(q, k, v, dout);
            }
            case "tensor.cross_entropy_grad":
            {
                var logits = PickOrMake(x => x.Element.IsFloat && x.Rank == 3, () => Tensor(_rng.One(_floats), Dim(2), 1 + Dim(4), Dim()));
                if (logits is null) return null;
                var lt = (TensorType)logits.Type;
                var labels = Exactly(Tensor(_rng.One(_ints), lt.Dim(0), lt.Dim(1)));
                if (_rng.Chance(0.4)) attrs.Add(new("shift", Int(_rng.Next(0, (int)Math.Max(1, lt.Dim(1))))));
                if (_rng.Chance(0.3)) attrs.Add(new("reduction", _ctx.String(_rng.Chance(0.5) ? "sum" : "mean")));
                return With(logits, labels, Exactly(Tensor(lt.Element)));
            }
            case "tensor.linear_wgrad":
            {
                var dy = AnyFloat(2, 4);
                if (dy is null) return null;
                var dt = (TensorType)dy.Type;
                var shape = dt.Shape.ToArray();
                shape[^1] = Dim();
                return With(dy, Exactly(Tensor(dt.Element, shape)));
            }
            case "tensor.embedding_grad":
            {
                var dout = AnyFloat(1, 3);
                if (dout is null) return null;
                var dt = (TensorType)dout.Type;
                attrs.Add(new("num_embeddings", Int(Dim(16))));
                return With(dout, Exactly(Tensor(_rng.One(_ints), dt.Shape[..^1].ToArray())));
            }
            default:
                return ProposeUnknown(def, attrs);
        }
    }

    /// <summary>An op this builder does not know: operands from the pool, required attributes guessed by kind.</summary>
    private Proposal? ProposeUnknown(OpDef def, List<KeyValuePair<string, Attribute>> attrs)
    {
        if (def.NumRegions > 0 || def.HasTrait(OpTraits.Terminator)) return null;
        int n = def.VariadicOperands ? def.Operands.Length + _rng.Next(0, 2) : def.Operands.Length;
        var operands = new Value?[n];
        if (def.HasTrait(OpTraits.SameOperandsAndResultType) && n > 0)
        {
            operands[0] = AnyFloat();
            for (int i = 1; i < n && operands[0] is not null; i++) operands[i] = Exactly((TensorType)operands[0]!.Type);
        }
        else
            for (int i = 0; i < n; i++) operands[i] = _rng.Chance(0.5) ? AnyFloat() : AnyTensor();
        if (operands.Any(o => o is null)) return null;
        foreach (var spec in def.Attributes)
        {
            if (!spec.Required && !_rng.Chance(0.3)) continue;
            Attribute? a = spec.Kind switch
            {
                AttrKind.Integer => Int(_rng.Next(-1, 2)),
                AttrKind.Float => _ctx.Float(_rng.One(new[] { 0.0, 1e-5, 1.0, 2.0 })),
                AttrKind.IntArray => Ints(new long[] { _rng.Next(-1, 2) }),
                AttrKind.Unit => _ctx.Unit,
                AttrKind.Bool => _ctx.Bool(_rng.Chance(0.5)),
                AttrKind.String => _ctx.String("s"),
                _ => null,
            };
            if (a is null)
            {
                if (spec.Required) return null;
                continue;
            }
            attrs.Add(new(spec.Name, a));
        }
        if (def.InferResultTypes is null)
        {
            if (def.NumResults != 1 || def.VariadicResults || n == 0) return null;
            return new Proposal(operands!, attrs, new[] { operands[0]!.Type });
        }
        return new Proposal(operands!, attrs);
    }

    /// <summary>A random shape of rank 0-4 with <paramref name="numel"/> elements.</summary>
    private long[] Factorize(long numel)
    {
        if (numel < 0)
        {
            // A dynamic operand: any shape with a dynamic size passes the element count check.
            var dyn = Enumerable.Range(0, _rng.Next(1, 4)).Select(_ => Dim(4)).ToArray();
            dyn[_rng.Next(dyn.Length)] = TensorType.Dynamic;
            return dyn;
        }
        var primes = new List<long>();
        long m = numel;
        for (long p = 2; p * p <= m; p++)
            while (m % p == 0) { primes.Add(p); m /= p; }
        if (m > 1) primes.Add(m);
        int rank = _rng.Next(primes.Count == 0 ? 0 : 1, 5);
        if (rank == 0) return numel == 1 ? Array.Empty<long>() : new[] { numel };
        var shape = Enumerable.Repeat(1L, rank).ToArray();
        foreach (var p in primes) shape[_rng.Next(rank)] *= p;
        return shape;
    }

    private static readonly double[] FloatValues =
        { 0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 3.140625, 1e-5, 100.0, -7.25, 65504.0, 1e30, double.PositiveInfinity, double.NaN };

    private DenseElementsAttr RandomDense(TensorType type, bool foldable = false)
    {
        bool splat = _rng.Chance(0.5) || type.NumElements <= 1 || type.NumElements > 64;
        int n = splat ? 1 : (int)type.NumElements;
        if (type.Element.IsFloat)
        {
            var values = new double[n];
            for (int i = 0; i < n; i++)
                values[i] = foldable && _rng.Chance(0.6) ? _rng.One(new[] { 0.0, 1.0 })
                    : _rng.Chance(0.7) ? _rng.One(FloatValues) : Math.Round((_rng.NextDouble() - 0.5) * 200, 3);
            return _ctx.DenseFloats(type, values);
        }
        var ints = new long[n];
        for (int i = 0; i < n; i++)
            ints[i] = type.Element.Kind switch
            {
                ScalarKind.I1 => _rng.Next(2),
                ScalarKind.I8 => _rng.Next(-128, 128),
                ScalarKind.I32 => _rng.Next(int.MinValue, int.MaxValue),
                _ => _rng.Chance(0.2) ? _rng.One(new[] { long.MinValue, long.MaxValue }) : _rng.NextInt64(-1000, 1000),
            };
        return _ctx.DenseInts(type, ints);
    }
}

// ====================================================================== unregistered ops

/// <summary>
/// The attribute a generator meant to build, kept apart from the context so that a parsed
/// attribute can be compared with it exactly: floats bit for bit after rounding to their type
/// (every NaN equal to every NaN), not through the context's interning.
/// </summary>
public abstract record AttrModel
{
    public abstract Attribute Build(Context ctx);
    public abstract bool Matches(Attribute a);

    public static bool SameDouble(double x, double y) =>
        double.IsNaN(x) ? double.IsNaN(y) : BitConverter.DoubleToInt64Bits(x) == BitConverter.DoubleToInt64Bits(y);
}

public sealed record IntModel(long Value, string TypeName) : AttrModel
{
    public override Attribute Build(Context ctx) => ctx.Integer(Value, ctx.LookupScalar(TypeName));
    public override bool Matches(Attribute a) => a is IntegerAttr i && i.Value == Value && i.Type.Name == TypeName;
    public override string ToString() => $"{Value} : {TypeName}";
}

public sealed record FloatModel(double Value, string TypeName) : AttrModel
{
    public override Attribute Build(Context ctx) => ctx.Float(Value, ctx.LookupScalar(TypeName));
    public override bool Matches(Attribute a) =>
        a is FloatAttr f && f.Type.Name == TypeName && SameDouble(f.Value, Context.RoundTo(Value, f.Type));
    public override string ToString() => $"{Value.ToString("R", CultureInfo.InvariantCulture)} (bits {BitConverter.DoubleToInt64Bits(Value):X16}) : {TypeName}";
}

public sealed record StringModel(string Value) : AttrModel
{
    public override Attribute Build(Context ctx) => ctx.String(Value);
    public override bool Matches(Attribute a) => a is StringAttr s && s.Value == Value;
    public override string ToString() => "string " + string.Join(" ", Value.Select(c => ((int)c).ToString("X4")));
}

public sealed record BoolModel(bool Value) : AttrModel
{
    public override Attribute Build(Context ctx) => ctx.Bool(Value);
    public override bool Matches(Attribute a) => a is BoolAttr b && b.Value == Value;
}

public sealed record UnitModel : AttrModel
{
    public override Attribute Build(Context ctx) => ctx.Unit;
    public override bool Matches(Attribute a) => a is UnitAttr;
}

public sealed record SymbolModel(string Name) : AttrModel
{
    public override Attribute Build(Context ctx) => ctx.Symbol(Name);
    public override bool Matches(Attribute a) => a is SymbolRefAttr s && s.Name == Name;
}

public sealed record ArrayModel(AttrModel[] Elements) : AttrModel
{
    public override Attribute Build(Context ctx) => ctx.Array(Elements.Select(e => e.Build(ctx)).ToArray());
    public override bool Matches(Attribute a) =>
        a is ArrayAttr arr && arr.Count == Elements.Length && Elements.Select((e, i) => e.Matches(arr[i])).All(x => x);
    public override string ToString() => "[" + string.Join(", ", Elements.Select(e => e.ToString())) + "]";
}

public sealed record DictModel(KeyValuePair<string, AttrModel>[] Entries) : AttrModel
{
    public override Attribute Build(Context ctx) =>
        ctx.Dictionary(Entries.Select(e => new KeyValuePair<string, Attribute>(e.Key, e.Value.Build(ctx))));
    public override bool Matches(Attribute a) =>
        a is DictionaryAttr d && d.Count == Entries.Length && Entries.All(e => d.Get(e.Key) is { } v && e.Value.Matches(v));
    public override string ToString() => "{" + string.Join(", ", Entries.Select(e => $"'{e.Key}' = {e.Value}")) + "}";
}

/// <summary>A type attribute; types hold no floats here, so their printed text identifies them.</summary>
public sealed record TypeModel(Func<Context, Type> Make, string Text) : AttrModel
{
    public override Attribute Build(Context ctx) => ctx.TypeAttr(Make(ctx));
    public override bool Matches(Attribute a) => a is TypeAttr t && t.Value.ToString() == Text;
    public override string ToString() => "type " + Text;
}

public sealed record OpaqueModel(string Name, string Body) : AttrModel
{
    public override Attribute Build(Context ctx) => ctx.OpaqueAttr(Name, Body);
    public override bool Matches(Attribute a) => a is OpaqueAttr o && o.Name == Name && o.Body == Body;
}

public sealed record DenseModel(Func<Context, TensorType> Make, string TypeText, double[]? Floats, long[]? Ints) : AttrModel
{
    public override Attribute Build(Context ctx) =>
        Floats is not null ? ctx.DenseFloats(Make(ctx), (double[])Floats.Clone()) : ctx.DenseInts(Make(ctx), (long[])Ints!.Clone());

    public override bool Matches(Attribute a)
    {
        if (a is not DenseElementsAttr d || d.Type.ToString() != TypeText) return false;
        if (Floats is not null)
        {
            if (d.Floats.Length != Floats.Length) return false;
            for (int i = 0; i < Floats.Length; i++)
                if (!SameDouble(d.Floats[i], Context.RoundTo(Floats[i], d.Type.Element))) return false;
            return true;
        }
        return d.Ints.SequenceEqual(Ints!);
    }

    public override string ToString() =>
        $"dense {TypeText} " + (Floats is not null ? string.Join(",", Floats.Select(f => BitConverter.DoubleToInt64Bits(f).ToString("X16"))) : string.Join(",", Ints!));
}

/// <summary>
/// Builds modules of unregistered generic ops ("test.op", with
/// <see cref="Context.AllowUnregisteredDialects"/>): random attribute dictionaries of every
/// attribute kind with awkward values (extreme integers, signed zeros, NaN, infinities,
/// subnormals, strings with escapes and non-ASCII, keys and symbols that need quotes, nested
/// arrays and dictionaries, type attributes, dense elements, dialect attributes), operands and
/// results of random types (dynamic tensors, encodings, function and dialect types), ops with
/// several results used as <c>%r#1</c>, and regions of blocks with arguments and successors.
/// Some modules put the ops in a func.func; some regions hold a registered op (custom form).
/// </summary>
public sealed class UnregisteredModuleBuilder
{
    private readonly Context _ctx;
    private readonly System.Random _rng;
    private readonly UnregisteredModuleSpec _spec;
    private readonly List<DictModel> _models = new();
    private int _opsLeft;
    private int _blockNameCounter;

    private UnregisteredModuleBuilder(Context ctx, UnregisteredModuleSpec spec)
    {
        _ctx = ctx;
        _spec = spec;
        _rng = new System.Random(spec.Seed);
    }

    /// <summary>
    /// Builds the module; <paramref name="models"/> are the attribute dictionaries of the generic
    /// test ops in pre-order (the order of <see cref="Operation.Walk"/>, see <see cref="IsModeled"/>).
    /// </summary>
    public static Operation Build(UnregisteredModuleSpec spec, out Context ctx, out List<DictModel> models)
    {
        ctx = AllDialects.NewContext();
        ctx.AllowUnregisteredDialects = true;
        var b = new UnregisteredModuleBuilder(ctx, spec);
        var m = b.BuildModule();
        models = b._models;
        return m;
    }

    /// <summary>The ops whose attributes the builder modeled: every op without a registered definition.</summary>
    public static bool IsModeled(Operation op) => op.Def is null;

    private static readonly string[] OpNames =
        { "test.op", "test.op", "test.multi", "test.region", "foo.bar.baz", "test.\"quoted\"\\name", "test.é", "tensor.unknown_op", "x" };

    private Operation BuildModule()
    {
        var module = Operation.Create(_ctx, "module", Array.Empty<Value>(), Array.Empty<Type>(), null, 1);
        var body = module.Region(0).AddBlock();
        _opsLeft = _spec.MaxOps + _rng.Next(0, _spec.MaxOps + 1);
        int top = _rng.Next(1, _spec.MaxOps + 1);
        if (_rng.Chance(0.3))
        {
            // The ops inside a function: its arguments are visible to them.
            var func = Operation.Create(_ctx, "func.func", Array.Empty<Value>(), Array.Empty<Type>(), null, 1);
            body.Append(func);
            var entry = func.Region(0).AddBlock();
            var visible = new List<Value>();
            for (int i = 0, n = _rng.Next(0, 3); i < n; i++)
            {
                var a = entry.AddArgument(RandomType(1));
                a.NameHint = _rng.One(Pick.Hints);
                visible.Add(a);
            }
            for (int i = 0; i < top; i++) AddOp(entry, visible, _spec.MaxDepth, allowSuccessors: null);
            var returned = visible.Count > 0 && _rng.Chance(0.5) ? new[] { _rng.One(visible) } : Array.Empty<Value>();
            entry.Append(Operation.Create(_ctx, "func.return", returned, Array.Empty<Type>()));
            func.Attributes = _ctx.Dictionary(new KeyValuePair<string, Attribute>[]
            {
                new("sym_name", _ctx.String("f")),
                new("function_type", _ctx.TypeAttr(_ctx.Function(entry.Arguments.Select(a => a.Type).ToArray(), returned.Select(v => v.Type).ToArray()))),
            });
        }
        else
        {
            var visible = new List<Value>();
            for (int i = 0; i < top; i++) AddOp(body, visible, _spec.MaxDepth, allowSuccessors: null);
        }
        return module;
    }

    /// <summary>Appends one op to <paramref name="block"/>; its results join <paramref name="visible"/>.</summary>
    private void AddOp(Block block, List<Value> visible, int depth, IReadOnlyList<Block>? allowSuccessors)
    {
        _opsLeft--;
        // A registered op in custom form now and then.
        var floats = visible.Where(v => v.Type is TensorType { Element.IsFloat: true }).ToList();
        if (floats.Count > 0 && _rng.Chance(0.1))
        {
            var x = _rng.One(floats);
            var neg = Operation.Create(_ctx, "tensor.neg", new[] { x }, new[] { x.Type });
            neg.Result(0).NameHint = _rng.One(Pick.Hints);
            block.Append(neg);
            visible.Add(neg.Result(0));
            return;
        }

        var name = _rng.One(OpNames);
        var operands = new List<Value>();
        for (int i = 0, n = visible.Count == 0 ? 0 : _rng.Next(0, 4); i < n; i++) operands.Add(_rng.One(visible));
        int numResults = _rng.Next(4) switch { 0 => 0, 1 or 2 => 1, _ => _rng.Next(2, 4) };
        var resultTypes = Enumerable.Range(0, numResults).Select(_ => RandomType(1)).ToArray();
        var model = RandomDict(_rng.Next(0, 5), 2);
        var successors = allowSuccessors is { Count: > 0 } && _rng.Chance(0.5)
            ? Enumerable.Range(0, _rng.Next(1, 3)).Select(_ => _rng.One(allowSuccessors)).ToArray()
            : null;
        int numRegions = depth > 0 && _opsLeft > 0 && _rng.Chance(0.35) ? _rng.Next(1, 3) : 0;
        var op = Operation.Create(_ctx, name, operands, resultTypes, (DictionaryAttr)model.Build(_ctx), numRegions, successors: successors);
        block.Append(op);
        _models.Add(model);

        for (int r = 0; r < numRegions; r++) FillRegion(op.Region(r), visible, depth - 1);

        var hint = _rng.One(Pick.Hints);
        foreach (var res in op.Results)
        {
            res.NameHint = hint;
            visible.Add(res);
        }
    }

    private static readonly string?[] BlockHints = { null, null, "bb0", "bb1", "entry", "loop", "exit", "7", "with space", "a.b" };

    private void FillRegion(Region region, List<Value> outer, int depth)
    {
        int numBlocks = _rng.Next(0, 4);
        var blocks = new List<Block>();
        for (int i = 0; i < numBlocks; i++)
        {
            var b = region.AddBlock();
            // Unique names unless colliding ones are asked for (the printer does not rename blocks).
            // Successors never name the entry block: the custom and generic forms print no label for
            // an entry block without arguments, so a branch to it cannot be printed (see
            // RoundTripProperties.EntryBlockAsSuccessorRoundTrips).
            var hint = _rng.One(BlockHints);
            b.NameHint = _spec.CollidingBlockNames ? hint : hint is null ? null : hint + "_u" + _blockNameCounter++;
            blocks.Add(b);
        }
        foreach (var b in blocks)
        {
            var visible = new List<Value>(outer);
            for (int i = 0, n = _rng.Next(0, 3); i < n; i++)
            {
                var a = b.AddArgument(RandomType(1));
                a.NameHint = _rng.One(Pick.Hints);
                visible.Add(a);
            }
            int ops = _opsLeft > 0 ? _rng.Next(0, 4) : 0;
            for (int i = 0; i < ops; i++)
                AddOp(b, visible, depth, allowSuccessors: i == ops - 1 && blocks.Count > 1 ? blocks.Skip(1).ToList() : null);
        }
    }

    // ------------------------------------------------------------------ types

    private static readonly string[] ScalarNames = { "f64", "f32", "bf16", "f16", "i64", "i32", "i8", "i1", "index" };

    private static readonly (string Name, string Body)[] OpaqueTypes =
    {
        ("test.tok", ""), ("test.t", "<4, f32>"), ("test.pair", "<[1, 2], {a = \"s\"}>"), ("dist.token", ""), ("test.fn", "<(i32) -> i64>"),
        ("test.wrap", "<tensor<4xf32>>"),
    };

    private static readonly long[] DimChoices = { 1, 2, 4, 8, 3, TensorType.Dynamic, 0 };

    /// <summary>A random type: tensors (dynamic sizes, encodings), scalars, function and dialect types.</summary>
    private Type RandomType(int depth) => RandomTypeMaker(depth)(_ctx);

    private Func<Context, Type> RandomTypeMaker(int depth)
    {
        int k = _rng.Next(10);
        if (k < 5) return RandomTensorMaker(allowDynamic: true, allowEncoding: true);
        if (k < 7)
        {
            var s = _rng.One(ScalarNames);
            return c => c.LookupScalar(s)!;
        }
        if (k < 9 && depth > 0)
        {
            var ins = Enumerable.Range(0, _rng.Next(0, 3)).Select(_ => RandomTypeMaker(depth - 1)).ToArray();
            var outs = Enumerable.Range(0, _rng.Next(0, 3)).Select(_ => RandomTypeMaker(depth - 1)).ToArray();
            return c => c.Function(ins.Select(f => f(c)).ToArray(), outs.Select(f => f(c)).ToArray());
        }
        var (name, body) = _rng.One(OpaqueTypes);
        return c => c.Opaque(name, body);
    }

    private Func<Context, TensorType> RandomTensorMaker(bool allowDynamic, bool allowEncoding, int maxRank = 3)
    {
        int rank = _rng.Next(0, maxRank + 1);
        var shape = new long[rank];
        for (int i = 0; i < rank; i++)
        {
            do shape[i] = _rng.One(DimChoices);
            while (!allowDynamic && shape[i] == TensorType.Dynamic);
        }
        var elem = _rng.One(ScalarNames);
        AttrModel? encoding = allowEncoding && _rng.Chance(0.15)
            ? _rng.Next(5) switch
            {
                0 => new IntModel(_rng.Next(-3, 4), "i64"),
                1 => new StringModel("enc"),
                2 => new OpaqueModel("test.enc", ""),
                3 => new OpaqueModel("test.sharding", "<@mesh, [{}, {\"sp\"}, {}]>"),
                _ => new DictModel(new KeyValuePair<string, AttrModel>[] { new("a", new IntModel(1, "i64")), new("sp", new SymbolModel("mesh")) }),
            }
            : null;
        return c => c.Tensor(shape, c.LookupScalar(elem)!, encoding?.Build(c));
    }

    // ------------------------------------------------------------------ attributes

    private static readonly string[] Keys =
    {
        "a", "b_c", "aspir.seq_dim", "value", "module", "tensor", "dense", "true", "false", "unit", "attributes", "inf", "nan",
        "func.func", "func.return", "func.call", "", "with space", "quote\"d", "back\\slash", "1abc", "-x", "é", "x$y", "a.b.c", "infinity",
        "nan.x", "new\nline", "sym_name", "_", "$", "key-dash", "%v", "@s", "#h",
    };

    private static readonly string[] SymbolNames =
        { "f", "main", "a.b", "-", "123", "0x1", "with space", "", "q\"uote", "é", "a$b", "back\\slash", "tab\there", "-1", ".", "$" };

    private static readonly long[] IntValues = { 0, 1, -1, 42, long.MinValue, long.MaxValue, long.MinValue + 1, int.MinValue, int.MaxValue, 255, -128 };

    private static readonly double[] FloatValues =
    {
        0.0, -0.0, 1.0, -1.0, 0.1, 1e-5, 3.5, -2.5e-10, double.Epsilon, -double.Epsilon, 2.2250738585072014e-308, 1e-320,
        double.MaxValue, double.MinValue, 1e300, 1e16, 123456789012345678.0, double.PositiveInfinity, double.NegativeInfinity,
        double.NaN, float.MaxValue, float.Epsilon, 65504.0, 1.0 / 3.0, 0.1f,
    };

    private static readonly string[] StringPieces =
    {
        "a", "hello", " ", "\"", "\\", "\n", "\t", "\r", "\0", "\u0001", "\u001f", "\u007f", "\u0085", "é", "中文", "\u2028", "😀",
        "{", "}", "#", "%x", "@f", "\\n", "\\22", "01", "ff", "//", "->", "'", "\uFEFF",
    };

    private DictModel RandomDict(int entries, int depth)
    {
        var list = new List<KeyValuePair<string, AttrModel>>();
        var seen = new HashSet<string>();
        for (int i = 0; i < entries; i++)
        {
            var key = _rng.One(Keys);
            if (!seen.Add(key)) continue;
            list.Add(new(key, RandomAttr(depth)));
        }
        return new DictModel(list.ToArray());
    }

    private AttrModel RandomAttr(int depth)
    {
        int k = _rng.Next(depth > 0 ? 14 : 11);
        switch (k)
        {
            case 0 or 1:
            {
                var v = _rng.Chance(0.6) ? _rng.One(IntValues) : _rng.NextInt64(long.MinValue, long.MaxValue);
                switch (_rng.Next(6))
                {
                    case 0: return new IntModel((int)Math.Clamp(v, int.MinValue, int.MaxValue), "i32");
                    case 1: return new IntModel(v & 1, "i1");
                    case 2: return new IntModel((sbyte)v, "i8");
                    case 3: return new IntModel(v, "index");
                    default: return new IntModel(v, "i64");
                }
            }
            case 2 or 3:
            {
                var v = _rng.Chance(0.7) ? _rng.One(FloatValues) : BitConverter.Int64BitsToDouble(_rng.NextInt64(long.MinValue, long.MaxValue));
                return new FloatModel(v, _rng.One(new[] { "f64", "f64", "f32", "bf16", "f16" }));
            }
            case 4:
            {
                var s = string.Concat(Enumerable.Range(0, _rng.Next(0, 6)).Select(_ => _rng.One(StringPieces)));
                return new StringModel(s);
            }
            case 5: return new BoolModel(_rng.Chance(0.5));
            case 6: return new UnitModel();
            case 7: return new SymbolModel(_rng.One(SymbolNames));
            case 8:
            {
                var make = _rng.Chance(0.5) ? (Func<Context, Type>)RandomTensorMaker(allowDynamic: true, allowEncoding: true) : RandomTypeMaker(2);
                return new TypeModel(make, make(_ctx).ToString());
            }
            case 9: return RandomDense();
            case 10:
                return _rng.Next(4) switch
                {
                    0 => new OpaqueModel("test.enc", ""),
                    3 => new OpaqueModel("test.layout", "<tensor<2x?xi8>, 1>"),
                    1 => new OpaqueModel("test.sharding", "<@mesh, [{}, {\"sp\"}, {}]>"),
                    _ => new OpaqueModel("dist.layout", "<[0, 1], \"x\">"),
                };
            case 11 or 12:
                return new ArrayModel(Enumerable.Range(0, _rng.Next(0, 4)).Select(_ => RandomAttr(depth - 1)).ToArray());
            default:
                return RandomDict(_rng.Next(0, 4), depth - 1);
        }
    }

    private AttrModel RandomDense()
    {
        var make = RandomTensorMaker(allowDynamic: false, allowEncoding: false, maxRank: 3);
        var type = make(_ctx);
        var text = type.ToString();
        long numel = type.NumElements;
        bool splat = numel >= 1 && (_rng.Chance(0.4) || numel > 24);
        int n = splat ? 1 : (int)numel;
        if (type.Element.IsFloat)
        {
            var values = Enumerable.Range(0, n).Select(_ => _rng.Chance(0.7) ? _rng.One(FloatValues) : (_rng.NextDouble() - 0.5) * 1e6).ToArray();
            return new DenseModel(make, text, values, null);
        }
        var ints = Enumerable.Range(0, n).Select(_ => type.Element.Kind switch
        {
            ScalarKind.I1 => _rng.Next(2),
            ScalarKind.I8 => _rng.Next(-128, 128),
            ScalarKind.I32 => _rng.Next(int.MinValue, int.MaxValue),
            _ => _rng.Chance(0.5) ? _rng.One(IntValues) : _rng.NextInt64(long.MinValue, long.MaxValue),
        }).ToArray();
        return new DenseModel(make, text, null, ints);
    }
}
