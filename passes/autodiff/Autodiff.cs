using AutoSpIR.Dialects.Func;
using AutoSpIR.Dialects.Tensor;

namespace AutoSpIR.Passes.Autodiff;

/// <summary>
/// <c>autodiff</c>: turns a forward function returning a scalar loss into the joint
/// forward+backward function returning the loss and the gradient of every parameter, by
/// reverse-mode differentiation over its single block.
/// <code>
/// func.func @train_step(%x: tensor&lt;4x8xf32&gt;, %w: tensor&lt;16x8xf32&gt; {aspir.param = "w"}, ...) -&gt; tensor&lt;f32&gt; {
///   %h = tensor.linear %x, %w ...
///   %loss = ...
///   func.return %loss : tensor&lt;f32&gt;
/// }
/// </code>
/// becomes
/// <code>
/// func.func @train_step(%x: ..., %w: ... {aspir.param = "w"}, ...)
///     -&gt; (tensor&lt;f32&gt; {aspir.name = "loss"}, tensor&lt;16x8xf32&gt; {aspir.grad = "w"}, ...) {
///   ... the forward ops, unchanged ...
///   %dloss = tensor.constant dense&lt;1.0&gt; : tensor&lt;f32&gt;   // the seed d(loss)/d(loss)
///   ... the backward ops, the forward ops' gradient rules in reverse order ...
///   func.return %loss, %dw, ... : tensor&lt;f32&gt;, tensor&lt;16x8xf32&gt;, ...
/// }
/// </code>
/// <para>
/// Each forward op whose results reach the loss and depend on a parameter has its
/// <see cref="OpDef.Gradient"/> rule called, from the last op to the first, with a builder at
/// the end of the backward section. Only values that depend on a parameter and are
/// floating-point get gradients: integer operands, labels and values computed from
/// non-parameters only are skipped, and the backward ops computing nothing that is used are
/// erased at the end ("unused gradients are not computed"). A value used more than once sums
/// its gradients with <c>tensor.add</c>. A parameter the loss does not depend on gets a
/// <c>tensor.constant</c> splat 0.
/// </para>
/// <para>
/// Which functions: the one named by option <c>entry</c>, or by default every func.func with
/// a body whose single result is a rank-0 floating-point tensor and that has at least one
/// <c>aspir.param</c> argument. Errors (located, and the pass fails): an op on the path from a
/// parameter to the loss without a gradient rule; a loss that is not a single rank-0
/// floating-point result; a function of more than one block or called by another; a dynamic
/// shape on the path; a parameter that is not a floating-point tensor.
/// </para>
/// </summary>
public sealed class Autodiff(string entry) : Pass
{
    public override string Name => "autodiff";

    public override bool Run(Operation op, PassContext pc)
    {
        var funcs = new List<Operation>();
        op.Walk(o => { if (o.Name == "func.func") funcs.Add(o); });
        if (entry.Length > 0)
        {
            var f = funcs.FirstOrDefault(o => o.GetString("sym_name") == entry);
            if (f is null)
            {
                pc.Diagnostics.Error(op.Location, $"autodiff: no function named '@{entry}'");
                return false;
            }
            return Differentiate(f, pc);
        }
        bool ok = true;
        foreach (var f in funcs.Where(IsTrainingStep)) ok &= Differentiate(f, pc);
        return ok;
    }

    /// <summary>The default selection: a body, one rank-0 float result, an <c>aspir.param</c> argument.</summary>
    private static bool IsTrainingStep(Operation func)
    {
        if (func.Region(0).IsEmpty || func.GetAttr("function_type") is not TypeAttr { Value: FunctionType ft }) return false;
        if (ft.Results is not [TensorType { Rank: 0, Element.IsFloat: true }]) return false;
        return Enumerable.Range(0, ft.Inputs.Count).Any(i => FuncDialect.ArgAttrs(func, i).Get("aspir.param") is not null);
    }

    private static bool Differentiate(Operation func, PassContext pc)
    {
        var ctx = pc.Context;
        var name = FuncDialect.SymName(func);
        Operation? lastForward = null, ret = null;
        bool building = false;
        bool Fail(Location loc, string message)
        {
            pc.Diagnostics.Error(loc, message);
            // Leave the function as it was: erase the backward ops built so far (last first).
            while (building && ret?.PrevInBlock is { } o && o != lastForward) o.Erase();
            return false;
        }

        if (func.Region(0).Blocks.Count != 1)
            return Fail(func.Location, $"autodiff: '@{name}' has {func.Region(0).Blocks.Count} blocks; only a function with a single-block body can be differentiated");
        var block = func.Region(0).Blocks[0];
        if (block.Terminator is not { Name: "func.return" } terminator)
            return Fail(func.Location, $"autodiff: the body of '@{name}' does not end in func.return");
        ret = terminator;
        if (ret.NumOperands != 1 || ret.Operand(0).Type is not TensorType { Rank: 0, Element.IsFloat: true })
            return Fail(ret.Location, $"autodiff: the loss of '@{name}' must be a single rank-0 floating-point tensor, " +
                                      $"but it returns ({string.Join(", ", ret.OperandTypes)})");
        var loss = ret.Operand(0);

        // The signature changes: a call of the function would no longer match it.
        Operation? call = null;
        func.ParentOp?.Walk(o => call ??= o.Name == FuncDialect.Call.Name && (o.GetAttr("callee") as SymbolRefAttr)?.Name == name ? o : null);
        if (call is not null)
            return Fail(call.Location, $"autodiff: '@{name}' is called here; its callers would not match the joint signature (only an entry function can be differentiated)");

        // The parameters, in argument order.
        var parameters = new List<(BlockArgument Arg, string Name)>();
        foreach (var arg in block.Arguments)
        {
            if (FuncDialect.ArgAttrs(func, arg.Index).Get("aspir.param") is not { } p) continue;
            var paramName = (p as StringAttr)?.Value ?? p.ToString();
            if (arg.Type is not TensorType { Element.IsFloat: true })
                return Fail(func.Location, $"autodiff: parameter '{paramName}' (argument #{arg.Index} of '@{name}') has type {arg.Type}; a parameter must be a floating-point tensor");
            parameters.Add((arg, paramName));
        }

        // Values that depend on a parameter: only they need (and get) gradients.
        var varying = new HashSet<Value>(parameters.Select(p => (Value)p.Arg));
        foreach (var o in block.Ops)
        {
            bool depends = false;
            o.Walk(inner => depends |= inner.Operands.Any(varying.Contains));
            if (!depends) continue;
            foreach (var r in o.Results)
                if (r.Type is TensorType { Element.IsFloat: true }) varying.Add(r);
        }

        // The backward section goes between the last forward op and the return.
        lastForward = ret.PrevInBlock;
        building = true;
        var b = new Builder(ctx);
        b.SetInsertionPoint(ret);
        b.Location = ret.Location;
        var grads = new Dictionary<Value, Value>();
        if (varying.Contains(loss))
        {
            var seed = Grad.Splat(b, (TensorType)loss.Type, 1.0);
            seed.NameHint = "d" + (loss.NameHint ?? "loss");
            grads[loss] = seed;
        }

        for (var o = lastForward; o is not null; o = o.PrevInBlock)
        {
            var resultGrads = o.Results.Select(r => grads.GetValueOrDefault(r)).ToArray();
            if (resultGrads.All(g => g is null)) continue;
            if (o.Def?.Gradient is not { } rule)
                return Fail(o.Location, $"'{o.Name}' op has no gradient rule; autodiff cannot differentiate through it");
            if (o.Operands.Concat(o.Results).FirstOrDefault(v => v.Type is TensorType { IsStatic: false }) is { } dynamic)
                return Fail(o.Location, $"'{o.Name}' op has a value of the dynamic type {dynamic.Type}; autodiff needs static shapes");
            b.Location = o.Location;
            Value?[] operandGrads;
            try
            {
                operandGrads = rule(new GradientContext(o, resultGrads, b));
            }
            catch (InvalidOperationException e)
            {
                return Fail(o.Location, $"'{o.Name}' op: its gradient rule cannot be applied: {e.Message}");
            }
            if (operandGrads.Length != o.NumOperands)
                return Fail(o.Location, $"'{o.Name}' op: its gradient rule returned {operandGrads.Length} gradients for {o.NumOperands} operands");
            for (int i = 0; i < o.NumOperands; i++)
            {
                var v = o.Operand(i);
                if (operandGrads[i] is not { } g || !varying.Contains(v)) continue;
                if (!ReferenceEquals(g.Type, v.Type))
                    return Fail(o.Location, $"'{o.Name}' op: its gradient rule gave operand #{i} a gradient of type {g.Type}, expected {v.Type}");
                var sum = grads.TryGetValue(v, out var earlier) ? Grad.Add(b, earlier, g) : g;
                // %dw for %w; a result of a multi-result op prints as a group (%0:3) and keeps no name.
                if (sum.NameHint is null && v.NameHint is { } hint && sum is OpResult { Owner.NumResults: 1 }) sum.NameHint = "d" + hint;
                grads[v] = sum;
            }
        }

        // Results: the loss, then each parameter's gradient (zero when the loss does not depend on it).
        b.Location = ret.Location;
        var results = new List<Value> { loss };
        foreach (var (arg, _) in parameters)
        {
            if (!grads.TryGetValue(arg, out var g))
            {
                if (!((TensorType)arg.Type).IsStatic)
                    return Fail(func.Location, $"autodiff: cannot build the zero gradient of argument #{arg.Index} of the dynamic type {arg.Type}");
                g = Grad.Splat(b, (TensorType)arg.Type, 0.0);
                g.NameHint = "d" + (arg.NameHint ?? "param");
            }
            results.Add(g);
        }
        ret.SetOperands(results);
        EraseUnusedBackwardOps(ret, lastForward);

        var lossAttrs = func.GetAttr("res_attrs") is ArrayAttr { Count: 1 } old && old[0] is DictionaryAttr d ? d : ctx.EmptyDictionary;
        var resAttrs = new List<Attribute>
        {
            ctx.Dictionary(lossAttrs.Entries.Where(e => e.Key != "aspir.name").Append(new("aspir.name", ctx.String("loss")))),
        };
        foreach (var (_, paramName) in parameters)
            resAttrs.Add(ctx.Dictionary(new KeyValuePair<string, Attribute>[] { new("aspir.grad", ctx.String(paramName)) }));
        var ft = FuncDialect.Signature(func);
        func.SetAttr("function_type", ctx.TypeAttr(ctx.Function(ft.Inputs, results.Select(r => r.Type).ToArray())));
        func.SetAttr("res_attrs", ctx.Array(resAttrs.ToArray()));
        return true;
    }

    /// <summary>Erases the backward ops (between <paramref name="lastForward"/> and the return) whose results nothing uses, last first.</summary>
    private static void EraseUnusedBackwardOps(Operation ret, Operation? lastForward)
    {
        for (var o = ret.PrevInBlock; o is not null && o != lastForward;)
        {
            var prev = o.PrevInBlock;
            if (o.HasTrait(OpTraits.Pure) && !o.HasResultUses) o.Erase();
            o = prev;
        }
    }
}
