namespace AutoSpIR.Runtime;

/// <summary>
/// The interpreter's memory accounting (no real allocation happens here): the bytes of the
/// values live at each moment and the peak over a run. A value counts at its element type's
/// width (<see cref="TensorType.ByteSize"/>: bf16 is 2 bytes even though the host stores it in
/// a float), whatever the host storage; kernels' scratch buffers are not counted.
/// </summary>
public sealed class Allocator
{
    /// <summary>Bytes of the values live now.</summary>
    public long LiveBytes { get; private set; }

    /// <summary>The largest <see cref="LiveBytes"/> seen so far.</summary>
    public long PeakBytes { get; private set; }

    /// <summary>Number of live buffers (for diagnostics and tests).</summary>
    public int LiveBuffers { get; private set; }

    public void Allocate(long bytes)
    {
        if (bytes < 0) throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "a buffer has a size >= 0");
        LiveBytes += bytes;
        LiveBuffers++;
        if (LiveBytes > PeakBytes) PeakBytes = LiveBytes;
    }

    public void Free(long bytes)
    {
        if (bytes < 0 || bytes > LiveBytes || LiveBuffers == 0)
            throw new InvalidOperationException($"freeing {bytes} bytes with {LiveBytes} bytes in {LiveBuffers} buffers live");
        LiveBytes -= bytes;
        LiveBuffers--;
    }
}
