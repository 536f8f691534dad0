namespace AutoSpIR.Dialects.Mem;

/// <summary>
/// The <c>mem</c> dialect: buffers, lifetimes and planned offsets of a function body, written as
/// ATTRIBUTES on the value-semantics ops (no new ops: the program stays runnable and every
/// other pass keeps working on it). <c>bufferize</c> writes the buffers and lifetimes,
/// <c>memory-plan</c> the offsets; <see cref="BufferProgram.Read"/> checks them
/// (<c>mem-verify</c> runs that check as a pass).
/// <para>
/// Vocabulary (all integers; a size is never written: it is the local type's
/// <see cref="TensorType.ByteSize"/>, bf16 = 2 bytes):
/// <list type="bullet">
/// <item>argument attribute <c>mem.buffer = B</c>: argument i lives in buffer B, owned by the
/// caller and live for the whole call (a parameter when it has <c>aspir.param</c>, else an input);</item>
/// <item>op attribute <c>mem.buffers = [B0, ...]</c>: result j is written into buffer Bj. A buffer id
/// not seen before is a new buffer allocated right before the op runs; an id that is live is an
/// IN-PLACE write into the buffer of an operand that dies at this op (same size);</item>
/// <item>op attribute <c>mem.free = [B, ...]</c>: the buffers released right after the op (their
/// value's last use is this op, or a result nobody uses); values returned by <c>func.return</c>
/// live to the end and are never freed, nor are arguments;</item>
/// <item>after <c>memory-plan</c>: argument attribute <c>mem.offset = O</c>, op attribute
/// <c>mem.offsets = [O0, ...]</c> (byte offset of each result's buffer in the rank's arena; an
/// in-place result has its buffer's offset), and the function attributes
/// <c>mem.arena_size</c> (the arena's bytes: the largest offset + size) and
/// <c>mem.live_peak</c> (the largest sum of live buffer sizes at one op).</item>
/// </list>
/// </para>
/// <para>
/// Timing at op i (the interpreter's rule): its new result buffers are allocated while its
/// operands are still live (inputs and outputs coexist), the live bytes are sampled, then the
/// buffers of <c>mem.free</c> are released.
/// </para>
/// </summary>
public static class MemDialect
{
    public const string Buffer = "mem.buffer";
    public const string Offset = "mem.offset";
    public const string Buffers = "mem.buffers";
    public const string Free = "mem.free";
    public const string Offsets = "mem.offsets";
    public const string ArenaSize = "mem.arena_size";
    public const string LivePeak = "mem.live_peak";

    /// <summary>The dialect (attributes only; it declares no ops).</summary>
    public static readonly Dialect Dialect = new("mem", "Buffers, lifetimes and planned arena offsets, as attributes on value-semantics ops.", Array.Empty<OpDef>());

    /// <summary>Every attribute name of the dialect on ops (not on arguments or the function).</summary>
    public static readonly string[] OpAttributes = { Buffers, Free, Offsets };

    /// <summary>True when the function has been through <c>memory-plan</c>.</summary>
    public static bool IsPlanned(Operation func) => func.GetAttr(ArenaSize) is IntegerAttr;

    /// <summary>The integers of an int-array attribute, or null.</summary>
    public static long[]? Ints(Operation op, string name) =>
        op.GetAttr(name) is ArrayAttr a ? a.AsInts() : null;
}
