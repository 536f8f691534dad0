namespace AutoSpIR.Lowering.Loops.Tensor;

/// <summary>Loop lowerings of rms_norm rms_norm_grad rope rope_grad softmax softmax_grad (to be written).</summary>
internal static class NormLowering
{
    public static readonly (string Op, OpLowering Lower)[] Rules = Array.Empty<(string, OpLowering)>();
}
