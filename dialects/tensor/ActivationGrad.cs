namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// Backward ops of the elementwise activations, each taking the forward input x and the
/// gradient dy of the forward result, all of one floating-point type (printed once):
/// <c>%dx = tensor.silu_grad %x, %dy : tensor&lt;4x8xf32&gt;</c>.
/// <list type="bullet">
/// <item><c>tensor.silu_grad</c>: with s = sigmoid(x) = 1 / (1 + e^-x),
/// <c>dx = dy * s * (1 + x * (1 - s))</c>, the derivative of silu(x) = x * s times dy.</item>
/// <item><c>tensor.gelu_grad</c>: with Phi(x) = 0.5 (1 + erf(x / sqrt 2)) and
/// phi(x) = e^(-x^2/2) / sqrt(2 pi), <c>dx = dy * (Phi(x) + x * phi(x))</c>, the derivative of
/// the exact gelu(x) = x Phi(x) times dy.</item>
/// </list>
/// Costs per element: silu_grad 8 FLOPs, gelu_grad 12 (transcendentals count as a few).
/// Sharding rule: pointwise, as the forward activations (every dimension one Parallel factor).
/// </summary>
public static class ActivationGrad
{
    public static readonly OpDef SiluGrad = Make("tensor.silu_grad", "dy * s (1 + x (1 - s)) with s = sigmoid(x): the gradient of silu.", 8);
    public static readonly OpDef GeluGrad = Make("tensor.gelu_grad", "dy * (Phi(x) + x phi(x)): the gradient of the exact gelu.", 12);

    public static readonly OpDef[] All = { SiluGrad, GeluGrad };

    private static OpDef Make(string name, string summary, int flopsPerElement) => new()
    {
        Name = name,
        Summary = summary,
        Operands = new[] { "input", "grad_output" },
        Traits = OpTraits.Pure | OpTraits.SameOperandsAndResultType,
        InferResultTypes = s =>
        {
            if (!Dims.RequireFloatTensor(s, 0, out var x) || !s.RequireTensor(1, out var dy)) return null;
            if (!ReferenceEquals(x, dy))
                return s.Fail($"operand #1 ('grad_output') has type {dy}, expected {x} (the type of operand #0 ('input'))");
            return new Type[] { x };
        },
        Flops = s => flopsPerElement * Dims.Numel(s.ResultTensor(0)),
        ShardingRule = ShardingRules.Pointwise,
    };
}
