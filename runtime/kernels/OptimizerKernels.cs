using static AutoSpIR.Runtime.Kernels.KernelUtil;
using AdamWOp = AutoSpIR.Dialects.Tensor.AdamW;

namespace AutoSpIR.Runtime.Kernels;

/// <summary>tensor.adamw: one AdamW step per element, in double, each result rounded once to its type.</summary>
public sealed class OptimizerKernels : IKernelSet
{
    public void Register(KernelTable table) => table.Add("tensor.adamw", AdamW);

    private static HostTensor[] AdamW(KernelContext k)
    {
        var h = AdamWOp.Read(k.Op);
        var p = Read(k.Input(0));
        var g = Read(k.Input(1));
        var m = Read(k.Input(2));
        var v = Read(k.Input(3));
        var p2 = new double[p.Length];
        var m2 = new double[p.Length];
        var v2 = new double[p.Length];
        for (int i = 0; i < p.Length; i++)
            (p2[i], m2[i], v2[i]) = AdamWOp.Update(h, p[i], g[i], m[i], v[i]);
        var type = k.ResultType(0);
        return new[] { Write(type, p2), Write(type, m2), Write(type, v2) };
    }
}
