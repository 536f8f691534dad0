using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace AutoSpIR.Runtime.Comm;

/// <summary>
/// The Open MPI backend of <see cref="ICommunicator"/>: one process per rank, started by
/// <c>mpirun</c>; made by <see cref="MpiWorld.Initialize"/>, used from the thread that made it.
/// <para>
/// Every collective is point-to-point: each rank <c>MPI_Isend</c>s the bytes the others need
/// (all_reduce and all_gather: its whole input to every other rank of the group; reduce_scatter
/// and all_to_all: chunk j to position j; shift: its input to its destination; barrier: an empty
/// message to every rank), then polls (<c>MPI_Iprobe</c> + <c>MPI_Recv</c> of exactly the
/// probed size, <c>MPI_Test</c> of its sends) until everything has arrived and been taken, or
/// until <see cref="Timeout"/>. Each rank then computes its result from the received inputs
/// with the same reference code as <see cref="ThreadCommunicator"/> (<see cref="CollectiveCall"/>:
/// float reductions in double, in group order, rounded once), so results are bit-identical to
/// the threads backend; data travels as the raw storage of <see cref="HostTensor"/> (f64 and
/// integers as 8 bytes, f32/bf16/f16 as the 4-byte floats that hold them).
/// </para>
/// <para>
/// Matching: a group's messages use one MPI tag, derived from the group's set of ranks (a bit
/// mask for worlds of up to 30 ranks, else a hash), and MPI keeps the order of messages with the
/// same source, tag and communicator, so the n-th call over a group meets the n-th calls of the
/// others. Each message starts with a header: the sequence number n, the call's kind, arguments,
/// input shape and element type, and the group order; a receiver whose own call differs fails
/// with <c>rank 1: ranks 1 and 2 disagree on collective #3 over ranks [0, 1, 2, 3]: ...</c>.
/// </para>
/// <para>Errors: a bad call is an <see cref="ArgumentException"/> before anything is sent. A
/// collective that does not complete within <see cref="Timeout"/> is a
/// <see cref="CommunicatorException"/> <c>rank 0: dist.all_reduce #2 over ranks [0, 1, 2, 3] timed out
/// after 60 s waiting for rank 3</c>; a failure notice from another rank (<see cref="MpiWorld.Abort"/>),
/// checked when a collective starts and while it waits, is a secondary one, <c>rank 2 failed: message</c>.
/// After such an error the communicator must not be used again (sends may still be in flight).</para>
/// </summary>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    /// <summary>The tag of a failure notice (payload: the failing rank's message, UTF-8).</summary>
    internal const int FailTag = 1;
    /// <summary>The tag of "this rank has printed its error and is about to abort" (empty).</summary>
    internal const int ExitTag = 2;
    private const int FirstGroupTag = 8;

    private readonly Dictionary<string, long> _sequence = new();
    private readonly int _tagUb;
    private readonly int _thread;
    private long _bytesSent, _collectives;
    private TimeSpan _timeout;

    internal MpiCommunicator(int rank, int size, int tagUb, TimeSpan timeout)
    {
        Rank = rank;
        Size = size;
        _tagUb = tagUb;
        Timeout = timeout;
        _thread = Environment.CurrentManagedThreadId;
    }

    public int Rank { get; }
    public int Size { get; }
    public long BytesSent => _bytesSent;
    public long Collectives => _collectives;

    /// <summary>How long a rank waits in a collective for the others (<see cref="ThreadWorld.DefaultTimeout"/> by default).</summary>
    public TimeSpan Timeout
    {
        get => _timeout;
        set => _timeout = value > TimeSpan.Zero ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "the timeout must be positive");
    }

    /// <summary>The message of the first failure notice received from another rank, once one has been.</summary>
    public (int Rank, string Message)? FailureNotice { get; private set; }

    // ------------------------------------------------------------------ collectives

    public HostTensor AllReduce(HostTensor x, IReadOnlyList<int> group, ReduceOp op, TensorType? resultType = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        return EveryoneSendsAll(x, group, CollectiveCall.AllReduce(x, op), resultType);
    }

    public HostTensor AllGather(HostTensor x, IReadOnlyList<int> group, int dim, TensorType? resultType = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        return EveryoneSendsAll(x, group, CollectiveCall.AllGather(x, dim), resultType);
    }

    /// <summary>A collective (all_reduce, all_gather) in which every rank sends its whole input to every other.</summary>
    private HostTensor EveryoneSendsAll(HostTensor x, IReadOnlyList<int> group, CollectiveCall call, TensorType? resultType)
    {
        var g = CheckGroup(group);
        var type = call.ResultType(g.Length, resultType);
        int p = Array.IndexOf(g, Rank);
        var got = Exchange(call, g, q => x, q => true);
        return Done(call, g, p, call.Compute(Inputs(got, p, x, x.Type), p, type));
    }

    public HostTensor ReduceScatter(HostTensor x, IReadOnlyList<int> group, int dim, TensorType? resultType = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        var g = CheckGroup(group);
        var call = CollectiveCall.ReduceScatter(x, dim, g.Length);
        var type = call.ResultType(g.Length, resultType);
        int p = Array.IndexOf(g, Rank);
        HostTensor Chunk(int q)
        {
            var start = new long[type.Rank];
            start[call.Dim] = q * type.Dim(call.Dim);
            return TensorBoxes.Extract(x, start, type);
        }
        var got = Exchange(call, g, Chunk, q => true);
        var chunks = Inputs(got, p, Chunk(p), type);
        // The reference reduce_scatter sums the chunks #p of the inputs in group order, rounded once: an all_reduce of the chunks.
        var sum = CollectiveCall.AllReduce(chunks[0], ReduceOp.Sum).Compute(chunks, p, type);
        return Done(call, g, p, sum);
    }

    public HostTensor AllToAll(HostTensor x, IReadOnlyList<int> group, int splitDim, int concatDim, TensorType? resultType = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        var g = CheckGroup(group);
        var call = CollectiveCall.AllToAll(x, splitDim, concatDim, g.Length);
        var type = call.ResultType(g.Length, resultType);
        int p = Array.IndexOf(g, Rank);
        var box = x.Type.Shape.ToArray();
        box[call.Dim] /= g.Length;
        var boxType = RuntimeTypes.WithShape(x.Type, box);
        HostTensor Chunk(int q)
        {
            var start = new long[box.Length];
            start[call.Dim] = q * box[call.Dim];
            return TensorBoxes.Extract(x, start, boxType);
        }
        var got = Exchange(call, g, Chunk, q => true);
        var chunks = Inputs(got, p, Chunk(p), boxType);
        var r = new HostTensor(type);
        var to = new long[box.Length];
        for (int q = 0; q < g.Length; q++)
        {
            to[call.Dim2] = q * box[call.Dim2];
            TensorBoxes.Copy(chunks[q], new long[box.Length], r, to, box);
        }
        return Done(call, g, p, r);
    }

    public HostTensor Shift(HostTensor x, IReadOnlyList<int> group, int offset, bool rotate, TensorType? resultType = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        var g = CheckGroup(group);
        var call = CollectiveCall.Shift(x, offset, rotate);
        var type = call.ResultType(g.Length, resultType);
        int p = Array.IndexOf(g, Rank);
        int dst = Step(p, offset, rotate, g.Length), src = Step(p, -(long)offset, rotate, g.Length);
        var got = Exchange(call, g, q => q == dst ? x : null, q => q == src);
        HostTensor result;
        if (src < 0) result = new HostTensor(type);
        else if (src == p) result = new HostTensor(type, f64: (double[]?)x.F64?.Clone(), f32: (float[]?)x.F32?.Clone(), ints: (long[]?)x.Ints?.Clone());
        else result = FromBytes(type, got[src]!, g[src]);
        return Done(call, g, p, result);
    }

    public void Barrier(IReadOnlyList<int> group)
    {
        var g = CheckGroup(group);
        var call = CollectiveCall.Barrier();
        Exchange(call, g, q => null, q => true, emptyMessages: true);
        _collectives++;
    }

    /// <summary>
    /// Not a collective of <see cref="ICommunicator"/> (not counted in <see cref="BytesSent"/> or
    /// <see cref="Collectives"/>): every rank of the world sends <paramref name="x"/> to
    /// <paramref name="root"/>, which gets the world's tensors in rank order; the others get null.
    /// Every rank must pass a tensor of the same type. The tools gather per-rank results with it.
    /// </summary>
    public HostTensor[]? GatherTo(HostTensor x, int root)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (root < 0 || root >= Size) throw new ArgumentOutOfRangeException(nameof(root), root, $"the world has ranks 0..{Size - 1}");
        var g = Enumerable.Range(0, Size).ToArray();
        string key = $"gather|{x.Type.Element.Kind}|{string.Join("x", x.Type.Shape.ToArray())}|{root}";
        var got = Exchange("gather", key, $"gather({x.Type}) to rank {root}", g, q => Rank != root && q == root ? x : null, q => Rank == root, false);
        return Rank == root ? Inputs(got, Rank, x, x.Type) : null;
    }

    // ------------------------------------------------------------------ the exchange

    private HostTensor Done(CollectiveCall call, int[] g, int position, HostTensor result)
    {
        _bytesSent += call.BytesSent(g.Length, position);
        _collectives++;
        return result;
    }

    /// <summary>The G inputs by position: this rank's own, the others' from their messages.</summary>
    private HostTensor[] Inputs(byte[]?[] got, int position, HostTensor own, TensorType type)
    {
        var inputs = new HostTensor[got.Length];
        for (int q = 0; q < got.Length; q++) inputs[q] = q == position ? own : FromBytes(type, got[q]!, q);
        return inputs;
    }

    /// <summary>Where position <paramref name="p"/> sends (positive step) or receives from (negative) in a shift; -1 for none.</summary>
    private static int Step(int p, long offset, bool rotate, int g)
    {
        long q = p + offset;
        if (rotate) return (int)(((q % g) + g) % g);
        return q >= 0 && q < g ? (int)q : -1;
    }

    private byte[]?[] Exchange(CollectiveCall call, int[] g, Func<int, HostTensor?> sendTo, Func<int, bool> receiveFrom, bool emptyMessages = false)
    {
        var i = call.Input;
        string key = $"{call.Kind}|{call.Reduce}|{call.Dim}|{call.Dim2}|{call.Offset}|{call.Rotate}|"
                     + (i is null ? "-" : $"{i.Element.Kind}|{string.Join("x", i.Shape.ToArray())}");
        return Exchange(call.Name, key, call.ToString(), g, sendTo, receiveFrom, emptyMessages);
    }

    /// <summary>
    /// Sends to every other position q the tensor <paramref name="sendTo"/>(q) (nothing when null, an empty
    /// payload with <paramref name="emptyMessages"/>), receives from every other position q with
    /// <paramref name="receiveFrom"/>(q), and returns the payloads received by position, once every send has
    /// completed. Throws on a mismatch, a timeout or another rank's failure notice.
    /// </summary>
    private byte[]?[] Exchange(string name, string key, string display, int[] g, Func<int, HostTensor?> sendTo, Func<int, bool> receiveFrom, bool emptyMessages)
    {
        if (Environment.CurrentManagedThreadId != _thread)
            throw new InvalidOperationException($"rank {Rank}: the MPI communicator is used from another thread than the one that initialized MPI");
        int p = Array.IndexOf(g, Rank);
        var sorted = g.Order().ToArray();
        string groupKey = string.Join(",", sorted);
        _sequence.TryGetValue(groupKey, out var seq);
        _sequence[groupKey] = ++seq;
        CheckNotices();
        int tag = TagOf(sorted);
        string order = ThreadWorld.List(g);
        var header = Encoding.UTF8.GetBytes($"{seq}\n{key}\n{order}\n{display}");
        int headerBytes = 8 + (header.Length + 7) / 8 * 8;

        // Post the sends.
        var sends = new List<(int Position, nint Request, nint Buffer)>();
        for (int q = 0; q < g.Length; q++)
        {
            if (q == p) continue;
            var t = sendTo(q);
            if (t is null && !emptyMessages) continue;
            var payload = t is null ? ReadOnlySpan<byte>.Empty : Bytes(t);
            long total = headerBytes + (long)payload.Length;
            if (total > int.MaxValue)
                throw new ArgumentException($"{name}: a message of {total} bytes is more than MPI's int count allows (2 GiB)");
            var buf = (byte*)NativeMemory.Alloc((nuint)Math.Max(total, 1));
            *(int*)buf = header.Length;
            *(int*)(buf + 4) = 0;
            header.CopyTo(new Span<byte>(buf + 8, header.Length));
            payload.CopyTo(new Span<byte>(buf + headerBytes, payload.Length));
            nint req;
            MpiNative.Check(MpiNative.MPI_Isend(buf, (int)total, MpiNative.Byte, g[q], tag, MpiNative.CommWorld, &req), "MPI_Isend");
            sends.Add((q, req, (nint)buf));
        }

        // Poll until everything arrived and every send completed.
        var got = new byte[]?[g.Length];
        var waiting = new List<int>();
        for (int q = 0; q < g.Length; q++)
            if (q != p && receiveFrom(q)) waiting.Add(q);
        long deadline = Stopwatch.GetTimestamp() + (long)(Timeout.TotalSeconds * Stopwatch.Frequency);
        int idle = 0;
        while (waiting.Count > 0 || sends.Count > 0)
        {
            bool progress = false;
            for (int k = waiting.Count - 1; k >= 0; k--)
            {
                int q = waiting[k];
                MpiNative.Status st;
                int flag;
                MpiNative.Check(MpiNative.MPI_Iprobe(g[q], tag, MpiNative.CommWorld, &flag, &st), "MPI_Iprobe");
                if (flag == 0) continue;
                var message = Receive(g[q], tag, &st);
                got[q] = Open(message, seq, key, order, display, g, g[q]);
                waiting.RemoveAt(k);
                progress = true;
            }
            for (int k = sends.Count - 1; k >= 0; k--)
            {
                var (q, req, buf) = sends[k];
                int flag;
                MpiNative.Check(MpiNative.MPI_Test(&req, &flag, null), "MPI_Test");
                if (flag == 0) continue;
                NativeMemory.Free((void*)buf);
                sends.RemoveAt(k);
                progress = true;
            }
            if (waiting.Count == 0 && sends.Count == 0) break;
            CheckNotices();
            if (Stopwatch.GetTimestamp() > deadline)
            {
                // The sends still in flight stay allocated: MPI may read them until the process ends.
                var missing = waiting.Concat(sends.Select(s => s.Position)).Select(q => g[q]).Distinct().Order().ToList();
                throw new CommunicatorException(Rank,
                    $"rank {Rank}: {name} #{seq} over ranks {ThreadWorld.List(g)} timed out after {Seconds(Timeout)} s waiting for rank{(missing.Count == 1 ? "" : "s")} {string.Join(", ", missing)}");
            }
            if (progress) idle = 0;
            else if (++idle < 64) Thread.Yield();
            else Thread.Sleep(idle < 256 ? 0 : 1);
        }
        return got;
    }

    /// <summary>Receives the message that MPI_Iprobe has just found (exactly its size).</summary>
    private static byte[] Receive(int source, int tag, MpiNative.Status* st)
    {
        int count;
        MpiNative.Check(MpiNative.MPI_Get_count(st, MpiNative.Byte, &count), "MPI_Get_count");
        var message = new byte[count];
        fixed (byte* b = message)
            MpiNative.Check(MpiNative.MPI_Recv(b, count, MpiNative.Byte, source, tag, MpiNative.CommWorld, null), "MPI_Recv");
        return message;
    }

    /// <summary>Checks a message's header against this rank's call and returns its payload.</summary>
    private byte[] Open(byte[] message, long seq, string key, string order, string display, int[] g, int from)
    {
        int len = message.Length >= 8 ? BitConverter.ToInt32(message, 0) : -1;
        if (len < 0 || 8 + len > message.Length)
            throw new CommunicatorException(Rank, $"rank {Rank}: a message from rank {from} for collective #{seq} over ranks {ThreadWorld.List(g.Order())} has no valid header");
        var fields = Encoding.UTF8.GetString(message, 8, len).Split('\n', 4);
        string theirSeq = fields[0], theirKey = fields.Length > 1 ? fields[1] : "", theirOrder = fields.Length > 2 ? fields[2] : "", theirDisplay = fields.Length > 3 ? fields[3] : "?";
        if (theirSeq != seq.ToString(CultureInfo.InvariantCulture) || theirKey != key || theirOrder != order)
        {
            bool showGroups = theirOrder != order;
            string mine = showGroups ? $"{display} over ranks {order}" : display, theirs = showGroups ? $"{theirDisplay} over ranks {theirOrder}" : theirDisplay;
            if (theirSeq != seq.ToString(CultureInfo.InvariantCulture)) theirs += $" as its collective #{theirSeq}";
            var (a, ca, b, cb) = Rank < from ? (Rank, mine, from, theirs) : (from, theirs, Rank, mine);
            throw new CommunicatorException(Rank,
                $"rank {Rank}: ranks {a} and {b} disagree on collective #{seq} over ranks {ThreadWorld.List(g.Order())}: rank {a} called {ca}, rank {b} called {cb}");
        }
        int headerBytes = 8 + (len + 7) / 8 * 8;
        return message.AsSpan(Math.Min(headerBytes, message.Length)).ToArray();
    }

    /// <summary>Throws the secondary error of the first failure notice another rank has sent, if any.</summary>
    internal void CheckNotices()
    {
        if (FailureNotice is null)
        {
            MpiNative.Status st;
            int flag;
            MpiNative.Check(MpiNative.MPI_Iprobe(MpiNative.AnySource, FailTag, MpiNative.CommWorld, &flag, &st), "MPI_Iprobe");
            if (flag == 0) return;
            var message = Receive(st.Source, FailTag, &st);
            FailureNotice = (st.Source, Encoding.UTF8.GetString(message));
        }
        var (rank, text) = FailureNotice.Value;
        throw new CommunicatorException(Rank, $"rank {rank} failed: {text}", isSecondary: true);
    }

    /// <summary>The tag of a group's messages: FirstGroupTag + the bit mask of its ranks, or a hash when that does not fit.</summary>
    private int TagOf(int[] sorted)
    {
        long range = (long)_tagUb - FirstGroupTag + 1;
        if (Size <= 30 && (1L << Size) <= range)
        {
            long mask = 0;
            foreach (var r in sorted) mask |= 1L << r;
            return (int)(FirstGroupTag + mask);
        }
        ulong h = 14695981039346656037UL;   // FNV-1a: the same on every process (string.GetHashCode is not)
        foreach (var r in sorted)
        {
            h ^= (uint)r;
            h *= 1099511628211UL;
        }
        return (int)(FirstGroupTag + (long)(h % (ulong)range));
    }

    private static ReadOnlySpan<byte> Bytes(HostTensor t) =>
        t.F64 is { } d ? MemoryMarshal.AsBytes(d.AsSpan())
        : t.F32 is { } f ? MemoryMarshal.AsBytes(f.AsSpan())
        : MemoryMarshal.AsBytes(t.Ints!.AsSpan());

    private HostTensor FromBytes(TensorType type, byte[] payload, int from)
    {
        var t = new HostTensor(type);
        var dst = t.F64 is { } d ? MemoryMarshal.AsBytes(d.AsSpan()) : t.F32 is { } f ? MemoryMarshal.AsBytes(f.AsSpan()) : MemoryMarshal.AsBytes(t.Ints!.AsSpan());
        if (payload.Length != dst.Length)
            throw new CommunicatorException(Rank, $"rank {Rank}: rank {from} sent {payload.Length} bytes for a {type} of {dst.Length} bytes");
        payload.CopyTo(dst);
        return t;
    }

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);

    private int[] CheckGroup(IReadOnlyList<int> group) => CollectiveCall.CheckGroup(group, Rank, Size);
}
