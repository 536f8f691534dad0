namespace AutoSpIR.Passes.Memory;

/// <summary>
/// The arena of one rank as memory-plan's heap simulator sees it (XLA's best-fit heap in its
/// sequential form): buffers are allocated and freed in program order, and each allocation of
/// <c>size</c> bytes goes to a FREE GAP chosen by this exact rule:
/// <list type="number">
/// <item>the gaps are the free ranges between live buffers, from offset 0 up to the end of the
/// highest live buffer, plus the unbounded top gap that starts there;</item>
/// <item>among the bounded gaps at least <c>size</c> long, the SMALLEST wins (best fit); among
/// equally small ones, the LOWEST offset;</item>
/// <item>when no bounded gap fits, the buffer goes at the start of the top gap (which may grow
/// the arena);</item>
/// <item>the buffer is placed at the lowest offset of its gap. A 0-byte buffer gets offset 0 and
/// occupies nothing. No alignment (offsets are byte offsets; sizes are exact).</item>
/// </list>
/// <see cref="HighWater"/> is the largest offset + size ever allocated: the arena's size.
/// </summary>
public sealed class BestFitHeap
{
    // Live chunks sorted by offset.
    private readonly List<(long Offset, long Size)> _live = new();

    /// <summary>The arena size so far: the largest end of any allocation.</summary>
    public long HighWater { get; private set; }

    /// <summary>Bytes allocated and not freed.</summary>
    public long LiveBytes { get; private set; }

    public long Allocate(long size)
    {
        if (size < 0) throw new ArgumentOutOfRangeException(nameof(size), size, "a buffer has a size >= 0");
        if (size == 0) return 0;
        long prevEnd = 0, best = -1, bestGap = long.MaxValue;
        int insertAt = _live.Count, bestIndex = -1;
        for (int k = 0; k < _live.Count; k++)
        {
            long gap = _live[k].Offset - prevEnd;
            if (gap >= size && gap < bestGap)
            {
                best = prevEnd;
                bestGap = gap;
                bestIndex = k;
            }
            prevEnd = Math.Max(prevEnd, _live[k].Offset + _live[k].Size);
        }
        if (best < 0) best = prevEnd;
        else insertAt = bestIndex;
        _live.Insert(insertAt, (best, size));
        LiveBytes += size;
        HighWater = Math.Max(HighWater, best + size);
        return best;
    }

    public void Free(long offset, long size)
    {
        if (size == 0) return;
        int k = _live.FindIndex(c => c.Offset == offset && c.Size == size);
        if (k < 0) throw new InvalidOperationException($"no live buffer of {size} bytes at offset {offset}");
        _live.RemoveAt(k);
        LiveBytes -= size;
    }
}
