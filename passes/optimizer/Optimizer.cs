using System.Globalization;
using AutoSpIR.Dialects.Func;
using AutoSpIR.Dialects.Tensor;

namespace AutoSpIR.Passes.Optimizer;

/// <summary>
/// <c>optimizer{lr=1e-3,beta1=0.9,beta2=0.999,eps=1e-8,weight-decay=0.01,step=1,keep-grads=false}</c>:
/// appends one AdamW update (<c>tensor.adamw</c>, <c>torch.optim.AdamW</c>'s step) to every
/// joint training step: a function whose results are tagged <c>aspir.grad = "NAME"</c>, with an
/// argument tagged <c>aspir.param = "NAME"</c> for each (what <c>autodiff</c> makes; also the
/// per-rank program <c>autosp</c> makes of it).
/// <para>
/// The signature after the pass, for parameters p_1..p_n (in the order of their gradient results):
/// <code>
/// arguments: the original arguments, then for each p_i:
///   %m_i {aspir.name = "p_i.exp_avg",    aspir.opt_state = "m", aspir.param = "p_i"}  (the param's type)
///   %v_i {aspir.name = "p_i.exp_avg_sq", aspir.opt_state = "v", aspir.param = "p_i"}
/// results: the loss (unchanged), [the gradients, with keep-grads=true], then for each p_i:
///   new p_i {aspir.updated = "p_i"}, new m_i {aspir.opt_state = "m", aspir.param = "p_i"},
///   new v_i {aspir.opt_state = "v", aspir.param = "p_i"}
/// </code>
/// The state names are PyTorch's (<c>optimizer.state[p]["exp_avg"]</c>); autosp-run loads them by
/// their aspir.name from the parameter file (zeros with <c>--init-opt-state</c>) and writes the
/// results as <c>p_i</c>, <c>p_i.exp_avg</c>, <c>p_i.exp_avg_sq</c>, so its output file is the
/// next step's parameter file. A <c>dist.sharding</c> / <c>aspir.global_shape</c> of the
/// parameter argument is copied to its state arguments and updated results. <c>step</c> is the
/// step number after this update (bias correction), fixed in the program.
/// </para>
/// <para>Functions without aspir.grad results are left alone. Errors: a gradient without its
/// parameter argument, or of another type than the parameter.</para>
/// </summary>
public sealed class OptimizerPass(string lr, string beta1, string beta2, string eps, string weightDecay, long step, bool keepGrads) : Pass
{
    public override string Name => "optimizer";

    public static readonly PassOption[] Options =
    {
        new("lr", "float", "1e-3", "learning rate"),
        new("beta1", "float", "0.9", "decay of the first moment (m)"),
        new("beta2", "float", "0.999", "decay of the second moment (v)"),
        new("eps", "float", "1e-8", "added to the bias-corrected sqrt(v)"),
        new("weight-decay", "float", "0.01", "decoupled weight decay (PyTorch AdamW's default)"),
        new("step", "int", "1", "the step number after this update, for bias correction (1 = the first step)"),
        new("keep-grads", "bool", "false", "also return the gradients (after the loss)"),
    };

    public const string OptStateAttr = "aspir.opt_state";
    public const string UpdatedAttr = "aspir.updated";

    /// <summary>The aspir.name of a parameter's state argument: PyTorch's state key after the parameter name.</summary>
    public static string StateName(string param, string which) => param + (which == "m" ? ".exp_avg" : ".exp_avg_sq");

    public override bool Run(Operation root, PassContext pc)
    {
        var hyper = new List<(string Name, double Value)>();
        foreach (var (name, text) in new[] { ("lr", lr), ("beta1", beta1), ("beta2", beta2), ("eps", eps), ("weight_decay", weightDecay) })
        {
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
            {
                pc.Diagnostics.Error(root.Location, $"optimizer: option '{name.Replace('_', '-')}' must be a number, not '{text}'");
                return false;
            }
            hyper.Add((name, v));
        }
        var funcs = new List<Operation>();
        root.Walk(o => { if (o.Name == "func.func" && !o.Region(0).IsEmpty) funcs.Add(o); });
        if (root.Name == "func.func" && !funcs.Contains(root)) funcs.Add(root);
        foreach (var f in funcs)
            if (!RunOn(f, pc, hyper)) return false;
        return true;
    }

    private bool RunOn(Operation func, PassContext pc, List<(string Name, double Value)> hyper)
    {
        var ctx = func.Context;
        var sig = FuncDialect.Signature(func);
        var grads = Enumerable.Range(0, sig.Results.Count)
            .Select(i => (Index: i, Name: (FuncDialect.ResAttrs(func, i).Get("aspir.grad") as StringAttr)?.Value))
            .Where(g => g.Name is not null).ToList();
        if (grads.Count == 0) return true;
        var block = func.Region(0).EntryBlock!;
        var ret = block.Terminator!;
        var paramArgs = new Dictionary<string, int>();
        for (int i = 0; i < sig.Inputs.Count; i++)
        {
            var attrs = FuncDialect.ArgAttrs(func, i);
            if (attrs.Get("aspir.param") is StringAttr p && attrs.Get(OptStateAttr) is null) paramArgs.TryAdd(p.Value, i);
        }

        var argAttrs = Enumerable.Range(0, sig.Inputs.Count).Select(i => (Attribute)FuncDialect.ArgAttrs(func, i)).ToList();
        var resAttrs = new List<Attribute>();
        var results = new List<Value>();
        for (int i = 0; i < sig.Results.Count; i++)
            if (keepGrads || !grads.Any(g => g.Index == i))
            {
                results.Add(ret.Operand(i));
                resAttrs.Add(FuncDialect.ResAttrs(func, i));
            }

        var b = new Builder(ctx) { Location = ret.Location };
        b.SetInsertionPoint(ret);
        var attrsOfOp = hyper.Select(h => (h.Name, (Attribute)ctx.Float(h.Value))).Append(("step", ctx.Integer(step))).ToArray();
        foreach (var (index, name) in grads)
        {
            if (!paramArgs.TryGetValue(name!, out int pi))
            {
                pc.Diagnostics.Error(func.Location, $"optimizer: result #{index} is the gradient of '{name}', but no argument has aspir.param = \"{name}\"");
                return false;
            }
            var param = block.Arguments[pi];
            var grad = ret.Operand(index);
            if (!ReferenceEquals(param.Type, grad.Type))
            {
                pc.Diagnostics.Error(func.Location, $"optimizer: the gradient of '{name}' (result #{index}) has type {grad.Type}, but the parameter (argument #{pi}) has type {param.Type}");
                return false;
            }
            // The parameter's layout (a sharded argument) is the state's and the update's.
            var layout = FuncDialect.ArgAttrs(func, pi).Entries
                .Where(e => e.Key is "dist.sharding" or "aspir.global_shape").ToList();
            Attribute Dict(params (string, Attribute)[] extra) =>
                ctx.Dictionary(layout.Concat(extra.Select(e => new KeyValuePair<string, Attribute>(e.Item1, e.Item2))));
            var m = block.AddArgument(param.Type);
            var v = block.AddArgument(param.Type);
            m.NameHint = (param.NameHint ?? "p") + "_m";
            v.NameHint = (param.NameHint ?? "p") + "_v";
            argAttrs.Add(Dict(("aspir.name", ctx.String(StateName(name!, "m"))), (OptStateAttr, ctx.String("m")), ("aspir.param", ctx.String(name!))));
            argAttrs.Add(Dict(("aspir.name", ctx.String(StateName(name!, "v"))), (OptStateAttr, ctx.String("v")), ("aspir.param", ctx.String(name!))));
            var update = b.Create(AdamW.Def, new Value[] { param, grad, m, v }, b.Attrs(attrsOfOp));
            results.Add(update.Result(0));
            results.Add(update.Result(1));
            results.Add(update.Result(2));
            resAttrs.Add(Dict((UpdatedAttr, ctx.String(name!))));
            resAttrs.Add(Dict((OptStateAttr, ctx.String("m")), ("aspir.param", ctx.String(name!))));
            resAttrs.Add(Dict((OptStateAttr, ctx.String("v")), ("aspir.param", ctx.String(name!))));
        }
        ret.SetOperands(results);
        FuncDialect.SyncSignature(func);
        func.SetAttr("arg_attrs", ctx.Array(argAttrs.ToArray()));
        func.SetAttr("res_attrs", ctx.Array(resAttrs.ToArray()));
        return true;
    }
}
