using AutoSpIR.Dialects.Func;
using AutoSpIR.Dialects.Tensor;

namespace AutoSpIR.Passes.AutoSp;

/// <summary>
/// <c>sp-legalize</c>: rewrites the loss of a training step into a form whose pieces can be
/// computed on sequence shards, in the GLOBAL view and exactly (the program computes the same
/// numbers on one device):
/// <code>
/// %loss = tensor.cross_entropy %logits, %labels {shift = 1, ignore_index = -100}
/// </code>
/// becomes
/// <code>
/// %t    = tensor.shift %labels {dim = 1, amount = 1, fill = -100}         // the targets, aligned
/// %sum  = tensor.cross_entropy %logits, %t {shift = 0, ignore_index = -100, reduction = "sum"}
/// %n    = tensor.count_valid %t {ignore_index = -100}
/// %loss = tensor.div %sum, %n
/// </code>
/// and <c>tensor.cross_entropy_grad %logits, %labels, %dloss</c> (mean) becomes
/// <c>tensor.cross_entropy_grad %logits, %t, (%dloss / %n) {shift = 0, reduction = "sum"}</c>.
/// <para>
/// Why: the mean over counted tokens of the whole batch is not the mean of per-shard means
/// (shards count different numbers of tokens), but a sum of sums over a sum of counts; and the
/// label of the last position of a shard lives on the next shard. After this rewrite the sums
/// and the count are plain Reduction factors (partial sums, all-reduced), and the shift is a
/// Positional factor with a halo of one label, which <c>dist-partition</c> fetches from the next
/// rank (<c>dist.shift</c>; the last rank gets <c>ignore_index</c>).
/// </para>
/// <para>
/// A labels argument also gets <c>aspir.pad_value = ignore_index</c>, so that a sequence that
/// does not divide over the ranks is padded with positions the loss does not count.
/// </para>
/// </summary>
public sealed class SpLegalize : Pass
{
    public override string Name => "sp-legalize";

    public const string PadValueAttr = "aspir.pad_value";

    public override bool Run(Operation op, PassContext pc)
    {
        foreach (var func in SpMesh.ModelSteps(SpMesh.ModuleOf(op))) Legalize(func);
        return true;
    }

    private static void Legalize(Operation func)
    {
        var ctx = func.Context;
        var b = new Rewriter(ctx);
        var targets = new Dictionary<(Value Labels, long Shift, long Ignore), Value>();
        var counts = new Dictionary<(Value Targets, long Ignore, Type Type), Value>();

        Value Targets(Value labels, long shift, long ignore)
        {
            if (shift == 0) return labels;
            if (targets.TryGetValue((labels, shift, ignore), out var t)) return t;
            t = b.Create("tensor.shift", new[] { labels }, new[] { labels.Type },
                b.Attrs(("dim", ctx.Integer(1)), ("amount", ctx.Integer(shift)), ("fill", ctx.Integer(ignore)))).Result(0);
            return targets[(labels, shift, ignore)] = t;
        }
        Value Count(Value t, long ignore, Type type)
        {
            if (counts.TryGetValue((t, ignore, type), out var n)) return n;
            n = b.Create("tensor.count_valid", new[] { t }, new[] { type }, b.Attrs(("ignore_index", ctx.Integer(ignore)))).Result(0);
            return counts[(t, ignore, type)] = n;
        }

        foreach (var op in func.Region(0).EntryBlock!.Ops.ToList())
        {
            bool forward = op.Name == CrossEntropy.Def.Name, backward = op.Name == CrossEntropyGrad.Def.Name;
            if (!forward && !backward) continue;
            long shift = CrossEntropy.ShiftOf(op);
            long ignore = op.GetInt("ignore_index") ?? -100;
            bool mean = (op.GetString("reduction") ?? "mean") == "mean";

            // Even a loss already in this form needs its labels padded with ignore_index.
            var labels = op.Operand(1);
            if (labels is BlockArgument arg && arg.Owner.ParentOp == func)
                FuncDialect.SetArgAttr(func, arg.Index, PadValueAttr, ctx.Integer(ignore));
            if (shift == 0 && !mean) continue;

            b.SetInsertionPoint(op);
            b.Location = op.Location;
            var t = Targets(labels, shift, ignore);
            var attrs = b.Attrs(("shift", ctx.Integer(0)), ("ignore_index", ctx.Integer(ignore)), ("reduction", ctx.String("sum")));
            var lossType = forward ? op.Result(0).Type : op.Operand(2).Type;
            if (forward)
            {
                var sum = b.Create(op.Name, new[] { op.Operand(0), t }, new[] { lossType }, attrs).Result(0);
                var loss = mean ? Grad.Div(b, sum, Count(t, ignore, lossType)) : sum;
                b.ReplaceOp(op, loss);
            }
            else
            {
                var dloss = mean ? Grad.Div(b, op.Operand(2), Count(t, ignore, lossType)) : op.Operand(2);
                var grad = b.Create(op.Name, new[] { op.Operand(0), t, dloss }, new[] { op.Result(0).Type }, attrs).Result(0);
                b.ReplaceOp(op, grad);
            }
        }
    }
}
