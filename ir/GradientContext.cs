namespace AutoSpIR.IR;

/// <summary>What an op's gradient rule sees: the forward op, its result gradients, and where to build.</summary>
public sealed class GradientContext(Operation op, IReadOnlyList<Value?> resultGradients, Builder builder)
{
    /// <summary>The forward op; its operands and results are available to the backward ops.</summary>
    public Operation Op { get; } = op;
    /// <summary>d(loss)/d(result #i), or null when result #i does not reach the loss.</summary>
    public IReadOnlyList<Value?> ResultGradients { get; } = resultGradients;
    /// <summary>Builds the backward ops (insertion point and location already set).</summary>
    public Builder Builder { get; } = builder;
    public Context Context => Builder.Context;

    public Value Operand(int i) => Op.Operand(i);
    public Value Result(int i = 0) => Op.Result(i);
    /// <summary>The gradient of result #i (the rule is only called when at least one is non-null).</summary>
    public Value? Grad(int i = 0) => ResultGradients[i];
}
