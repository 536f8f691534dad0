namespace AutoSpIR.Lowering.Loops.Tensor;

/// <summary>Loop lowerings of reshape transpose broadcast slice concat pad shift (to be written).</summary>
internal static class ShapeLowering
{
    public static readonly (string Op, OpLowering Lower)[] Rules = Array.Empty<(string, OpLowering)>();
}
