namespace AutoSpIR.Lowering.Loops.Tensor;

/// <summary>Loop lowerings of attention attention_grad (to be written).</summary>
internal static class AttentionLowering
{
    public static readonly (string Op, OpLowering Lower)[] Rules = Array.Empty<(string, OpLowering)>();
}
