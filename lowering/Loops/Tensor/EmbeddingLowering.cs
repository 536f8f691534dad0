namespace AutoSpIR.Lowering.Loops.Tensor;

/// <summary>Loop lowerings of embedding embedding_grad cross_entropy cross_entropy_grad adamw (to be written).</summary>
internal static class EmbeddingLowering
{
    public static readonly (string Op, OpLowering Lower)[] Rules = Array.Empty<(string, OpLowering)>();
}
