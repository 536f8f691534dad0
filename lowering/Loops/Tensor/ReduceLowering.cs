namespace AutoSpIR.Lowering.Loops.Tensor;

/// <summary>Loop lowerings of reduce_sum reduce_mean reduce_max reduce_max_grad count_valid (to be written).</summary>
internal static class ReduceLowering
{
    public static readonly (string Op, OpLowering Lower)[] Rules = Array.Empty<(string, OpLowering)>();
}
