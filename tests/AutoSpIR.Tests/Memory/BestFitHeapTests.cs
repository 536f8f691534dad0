using AutoSpIR.Passes.Memory;

namespace AutoSpIR.Tests.Memory;

/// <summary>The best-fit rule of <see cref="BestFitHeap"/>, case by case.</summary>
public class BestFitHeapTests
{
    [Fact]
    public void AllocatesUpwardsFromZero()
    {
        var h = new BestFitHeap();
        Assert.Equal(0, h.Allocate(10));
        Assert.Equal(10, h.Allocate(5));
        Assert.Equal(15, h.Allocate(1));
        Assert.Equal(16, h.HighWater);
        Assert.Equal(16, h.LiveBytes);
    }

    [Fact]
    public void TheSmallestGapThatFitsWinsOverALowerLargerOne()
    {
        var h = new BestFitHeap();
        long a = h.Allocate(64), b = h.Allocate(8), c = h.Allocate(32), d = h.Allocate(8);
        Assert.Equal((0L, 64L, 72L, 104L), (a, b, c, d));
        h.Free(a, 64);   // gap of 64 at 0
        h.Free(c, 32);   // gap of 32 at 72
        Assert.Equal(72, h.Allocate(30));   // best fit: 32 at 72, not first fit at 0
        Assert.Equal(0, h.Allocate(33));    // only the 64 gap fits
        Assert.Equal(112, h.HighWater);
    }

    [Fact]
    public void AmongEquallySmallGapsTheLowestOffsetWins()
    {
        var h = new BestFitHeap();
        long[] o = { h.Allocate(16), h.Allocate(4), h.Allocate(16), h.Allocate(4) };
        h.Free(o[2], 16);
        h.Free(o[0], 16);
        Assert.Equal(0, h.Allocate(16));
        Assert.Equal(20, h.Allocate(16));
    }

    [Fact]
    public void WithNoBoundedGapThatFitsTheBufferGoesToTheTopGap()
    {
        var h = new BestFitHeap();
        long a = h.Allocate(8), b = h.Allocate(8), c = h.Allocate(8);
        h.Free(a, 8);
        h.Free(c, 8);   // the top gap now starts at 16 (the end of b), below the high-water mark 24
        Assert.Equal(16, h.Allocate(12));
        Assert.Equal(28, h.HighWater);
        Assert.Equal(0, h.Allocate(8));
        Assert.Equal(8, b);
    }

    [Fact]
    public void AdjacentFreeChunksMakeOneGap()
    {
        var h = new BestFitHeap();
        long a = h.Allocate(8), b = h.Allocate(8), c = h.Allocate(8);
        h.Free(a, 8);
        h.Free(b, 8);
        Assert.Equal(0, h.Allocate(16));   // the gap [0, 16) made of a and b
        Assert.Equal(16, c);
        Assert.Equal(24, h.HighWater);
    }

    [Fact]
    public void ZeroByteBuffersOccupyNothing()
    {
        var h = new BestFitHeap();
        Assert.Equal(0, h.Allocate(0));
        Assert.Equal(0, h.Allocate(4));
        h.Free(0, 0);
        Assert.Equal(4, h.HighWater);
        Assert.Throws<InvalidOperationException>(() => h.Free(1, 4));
    }
}
