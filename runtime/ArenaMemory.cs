using AutoSpIR.Dialects.Func;
using AutoSpIR.Dialects.Mem;

namespace AutoSpIR.Runtime;

/// <summary>
/// The memory of a PLANNED run (a function with <c>mem.arena_size</c>, see <see cref="MemDialect"/>):
/// one byte array of the planned arena size per rank, into which every argument and every op
/// result is written at its planned offset (<c>mem.offset</c>, <c>mem.offsets</c>) in its element
/// type's width (bf16 and f16 as 2 bytes, i1 as 1), and from which every operand is read back. So
/// a wrong plan (two live buffers overlapping) corrupts the numbers, and is also caught: an
/// allocation that overlaps a live buffer, an in-place write into a buffer that is not live at
/// the same offset and size, or a free of a buffer that is not live, is a
/// <see cref="RuntimeErrorException"/>. <see cref="HighWater"/> is the arena's high-water mark
/// (largest offset + size allocated); <see cref="PeakLiveBytes"/> the largest sum of live buffers,
/// sampled like the planner's (after an op's new buffers, before its frees).
/// </summary>
public sealed class ArenaMemory
{
    private readonly byte[] _bytes;
    private readonly Dictionary<long, (long Offset, long Size)> _live = new();
    private readonly Dictionary<Value, long> _offsetOf = new();

    public ArenaMemory(Operation func)
    {
        long size = (func.GetAttr(MemDialect.ArenaSize) as IntegerAttr)?.Value
                    ?? throw new ArgumentException($"function @{FuncDialect.SymName(func)} has no '{MemDialect.ArenaSize}': run memory-plan first", nameof(func));
        if (size < 0 || size > Array.MaxLength)
            throw new ArgumentException($"the planned arena of {size} bytes does not fit in one host array", nameof(func));
        _bytes = new byte[size];
        Size = size;
    }

    /// <summary>The planned arena size.</summary>
    public long Size { get; }
    public long HighWater { get; private set; }
    public long LiveBytes { get; private set; }
    public long PeakLiveBytes { get; private set; }

    /// <summary>Places argument <paramref name="index"/> at its planned offset and copies it in.</summary>
    public void PlaceArgument(Operation func, int index, BlockArgument arg, HostTensor value)
    {
        var attrs = FuncDialect.ArgAttrs(func, index);
        long id = (attrs.Get(MemDialect.Buffer) as IntegerAttr)?.Value ?? throw Bad(func, $"argument #{index} has no '{MemDialect.Buffer}'");
        long off = (attrs.Get(MemDialect.Offset) as IntegerAttr)?.Value ?? throw Bad(func, $"argument #{index} has no '{MemDialect.Offset}'");
        Allocate(func, id, off, value.ByteSize);
        Store(arg, off, value);
    }

    /// <summary>Writes the results of <paramref name="op"/> at their planned offsets (allocating new buffers, or in place).</summary>
    public void StoreResults(Operation op, HostTensor[] outputs)
    {
        var ids = MemDialect.Ints(op, MemDialect.Buffers);
        var offs = MemDialect.Ints(op, MemDialect.Offsets);
        if (outputs.Length == 0) return;
        if (ids is null || offs is null || ids.Length != outputs.Length || offs.Length != outputs.Length)
            throw Bad(op, $"needs '{MemDialect.Buffers}' and '{MemDialect.Offsets}' with one entry per result in a planned function");
        for (int j = 0; j < outputs.Length; j++)
        {
            long size = outputs[j].ByteSize;
            if (_live.TryGetValue(ids[j], out var b))
            {
                if (b.Offset != offs[j] || b.Size != size)
                    throw Bad(op, $"result #{j} is written in place into buffer {ids[j]} [{b.Offset}, {b.Offset + b.Size}), but is planned at [{offs[j]}, {offs[j] + size})");
            }
            else Allocate(op, ids[j], offs[j], size);
        }
        if (LiveBytes > PeakLiveBytes) PeakLiveBytes = LiveBytes;
        for (int j = 0; j < outputs.Length; j++) Store(op.Result(j), offs[j], outputs[j]);
    }

    /// <summary>Releases the buffers of <c>mem.free</c> after <paramref name="op"/>.</summary>
    public void FreeAfter(Operation op)
    {
        foreach (var id in MemDialect.Ints(op, MemDialect.Free) ?? Array.Empty<long>())
        {
            if (!_live.Remove(id, out var b)) throw Bad(op, $"frees buffer {id}, which is not live");
            LiveBytes -= b.Size;
        }
    }

    /// <summary>Reads value <paramref name="v"/> back from the arena.</summary>
    public HostTensor Load(Value v) => Decode((TensorType)v.Type, _bytes.AsSpan(), _offsetOf[v]);

    /// <summary>The tensor of <paramref name="type"/> stored at byte <paramref name="off"/> of <paramref name="span"/> in its type's width (the arena layout).</summary>
    public static HostTensor Decode(TensorType type, ReadOnlySpan<byte> span, long off = 0)
    {
        var t = new HostTensor(type);
        long n = t.Count;
        int w = type.Element.ByteWidth;
        switch (type.Element.Kind)
        {
            case ScalarKind.F64:
                for (long i = 0; i < n; i++) t.F64![i] = BitConverter.ToDouble(span.Slice(checked((int)(off + i * 8)), 8));
                break;
            case ScalarKind.F32:
                for (long i = 0; i < n; i++) t.F32![i] = BitConverter.ToSingle(span.Slice(checked((int)(off + i * 4)), 4));
                break;
            case ScalarKind.BF16:
                for (long i = 0; i < n; i++) t.F32![i] = BitConverter.Int32BitsToSingle(BitConverter.ToUInt16(span.Slice(checked((int)(off + i * 2)), 2)) << 16);
                break;
            case ScalarKind.F16:
                for (long i = 0; i < n; i++) t.F32![i] = (float)BitConverter.ToHalf(span.Slice(checked((int)(off + i * 2)), 2));
                break;
            default:
                for (long i = 0; i < n; i++)
                {
                    var s = span.Slice(checked((int)(off + i * w)), w);
                    t.Ints![i] = w switch
                    {
                        8 => BitConverter.ToInt64(s),
                        4 => BitConverter.ToInt32(s),
                        2 => BitConverter.ToInt16(s),
                        _ => type.Element.Kind == ScalarKind.I1 ? s[0] : (sbyte)s[0],
                    };
                }
                break;
        }
        return t;
    }

    private void Store(Value v, long off, HostTensor t)
    {
        _offsetOf[v] = off;
        Encode(t, _bytes.AsSpan(), off);
    }

    /// <summary>Writes <paramref name="t"/> at byte <paramref name="off"/> of <paramref name="span"/> in its type's width (the arena layout).</summary>
    public static void Encode(HostTensor t, Span<byte> span, long off = 0)
    {
        var type = t.Type;
        int w = type.Element.ByteWidth;
        long n = t.Count;
        for (long i = 0; i < n; i++)
        {
            var s = span.Slice(checked((int)(off + i * w)), w);
            switch (type.Element.Kind)
            {
                case ScalarKind.F64: BitConverter.TryWriteBytes(s, t.F64![i]); break;
                case ScalarKind.F32: BitConverter.TryWriteBytes(s, t.F32![i]); break;
                case ScalarKind.BF16:
                    int bits = BitConverter.SingleToInt32Bits(t.F32![i]);
                    if ((bits & 0xFFFF) != 0 && !float.IsNaN(t.F32[i]))
                        throw new InvalidOperationException($"a bf16 value {t.F32[i]} is not rounded to bf16");
                    BitConverter.TryWriteBytes(s, (ushort)(bits >>> 16));
                    break;
                case ScalarKind.F16: BitConverter.TryWriteBytes(s, (Half)t.F32![i]); break;
                default:
                    long x = t.Ints![i];
                    switch (w)
                    {
                        case 8: BitConverter.TryWriteBytes(s, x); break;
                        case 4: BitConverter.TryWriteBytes(s, (int)x); break;
                        case 2: BitConverter.TryWriteBytes(s, (short)x); break;
                        default: s[0] = (byte)x; break;
                    }
                    break;
            }
        }
    }

    private void Allocate(Operation where, long id, long off, long size)
    {
        if (off < 0 || off + size > Size)
            throw Bad(where, $"buffer {id} [{off}, {off + size}) lies outside the arena of {Size} bytes");
        if (size > 0)
            foreach (var (other, b) in _live)
                if (b.Size > 0 && off < b.Offset + b.Size && b.Offset < off + size)
                    throw Bad(where, $"buffer {id} [{off}, {off + size}) overlaps live buffer {other} [{b.Offset}, {b.Offset + b.Size})");
        if (!_live.TryAdd(id, (off, size))) throw Bad(where, $"buffer {id} is allocated twice");
        LiveBytes += size;
        HighWater = Math.Max(HighWater, off + size);
        if (LiveBytes > PeakLiveBytes) PeakLiveBytes = LiveBytes;
    }

    private static RuntimeErrorException Bad(Operation op, string message) => new(op.Location, $"planned memory: '{op.Name}' {message}");
}
