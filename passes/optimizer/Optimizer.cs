using System.Globalization;
using AutoSpIR.Dialects.Func;
using AutoSpIR.Dialects.Tensor;
using TensorGrad = AutoSpIR.Dialects.Tensor.Grad;

namespace AutoSpIR.Passes.Optimizer;

/// <summary>
/// <c>optimizer{lr=1e-3,beta1=0.9,beta2=0.999,eps=1e-8,weight-decay=0.01,step=1,keep-grads=false,master-dtype=none}</c>:
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
/// <para>
/// <c>master-dtype=f32</c> (mixed precision, as bf16 training keeps it: PyTorch AMP's f32 master
/// copy): for a parameter of a narrower float type (bf16, f16) the step also takes an f32 master
/// copy <c>%p_master {aspir.name = "p_i.master", aspir.opt_state = "master", aspir.param = "p_i"}</c>
/// (before m and v, which are then f32 too); the update is
/// <code>
/// %g32 = tensor.cast %g : bf16 -> f32
/// %master2, %m2, %v2 = tensor.adamw %master, %g32, %m, %v : f32
/// %p2 = tensor.cast %master2 : f32 -> bf16
/// </code>
/// and the results per parameter are new p_i {aspir.updated}, new master
/// {aspir.opt_state = "master", aspir.param}, new m, new v (autosp-run writes the master as
/// <c>p_i.master</c>). The bf16 parameter argument is read by the forward and backward only. For an
/// f32 parameter the option changes nothing (the parameter is its own master); an f64 parameter
/// is an error (the master would be narrower). <c>master-dtype=none</c> (the default): the state
/// in the parameter's type, no master.
/// </para>
/// <para>Functions without aspir.grad results are left alone. Errors: a gradient without its
/// parameter argument, or of another type than the parameter; master-dtype other than none or
/// f32; master-dtype=f32 with an f64 parameter.</para>
/// </summary>
public sealed class OptimizerPass(string lr, string beta1, string beta2, string eps, string weightDecay, long step, bool keepGrads, string masterDtype = "none") : Pass
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
        new("master-dtype", "string", "none", "f32: an f32 master copy of every bf16/f16 parameter, updated with f32 m and v (mixed precision); none: the state in the parameter's type"),
    };

    public const string OptStateAttr = "aspir.opt_state";
    public const string UpdatedAttr = "aspir.updated";

    /// <summary>The aspir.name of a parameter's state argument: PyTorch's state key after the parameter name;
    /// <c>which</c>: "m" (<c>.exp_avg</c>), "v" (<c>.exp_avg_sq</c>) or "master" (<c>.master</c>).</summary>
    public static string StateName(string param, string which) => param + which switch { "m" => ".exp_avg", "master" => ".master", _ => ".exp_avg_sq" };

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
        if (masterDtype is not ("none" or "" or "f32"))
        {
            pc.Diagnostics.Error(root.Location, $"optimizer: master-dtype must be none or f32, not '{masterDtype}'");
            return false;
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
            var paramType = param.Type as TensorType;
            bool withMaster = masterDtype == "f32" && paramType?.Element.Kind is ScalarKind.BF16 or ScalarKind.F16;
            if (masterDtype == "f32" && paramType?.Element.Kind == ScalarKind.F64)
            {
                pc.Diagnostics.Error(func.Location, $"optimizer: master-dtype=f32 would be narrower than the parameter '{name}' ({param.Type})");
                return false;
            }
            var stateType = withMaster ? ctx.Tensor(paramType!.Shape, ctx.F32) : param.Type;
            BlockArgument? master = null;
            if (withMaster)
            {
                master = block.AddArgument(stateType);
                master.NameHint = (param.NameHint ?? "p") + "_master";
                argAttrs.Add(Dict(("aspir.name", ctx.String(StateName(name!, "master"))), (OptStateAttr, ctx.String("master")), ("aspir.param", ctx.String(name!))));
            }
            var m = block.AddArgument(stateType);
            var v = block.AddArgument(stateType);
            m.NameHint = (param.NameHint ?? "p") + "_m";
            v.NameHint = (param.NameHint ?? "p") + "_v";
            argAttrs.Add(Dict(("aspir.name", ctx.String(StateName(name!, "m"))), (OptStateAttr, ctx.String("m")), ("aspir.param", ctx.String(name!))));
            argAttrs.Add(Dict(("aspir.name", ctx.String(StateName(name!, "v"))), (OptStateAttr, ctx.String("v")), ("aspir.param", ctx.String(name!))));
            var update = withMaster
                ? b.Create(AdamW.Def, new Value[] { master!, TensorGrad.Cast(b, grad, (TensorType)stateType), m, v }, b.Attrs(attrsOfOp))
                : b.Create(AdamW.Def, new Value[] { param, grad, m, v }, b.Attrs(attrsOfOp));
            results.Add(withMaster ? TensorGrad.Cast(b, update.Result(0), paramType!) : update.Result(0));
            resAttrs.Add(Dict((UpdatedAttr, ctx.String(name!))));
            if (withMaster)
            {
                results.Add(update.Result(0));
                resAttrs.Add(Dict((OptStateAttr, ctx.String("master")), ("aspir.param", ctx.String(name!))));
            }
            results.Add(update.Result(1));
            results.Add(update.Result(2));
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
