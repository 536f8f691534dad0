namespace AutoSpIR.Runtime.Comm;

/// <summary>The reduction of <see cref="ICommunicator.AllReduce"/>.</summary>
public enum ReduceOp { Sum, Max }

/// <summary>
/// One rank's end of a collective runtime; every backend (threads in-process, later MPI,
/// NCCL, RCCL) implements this. A collective runs over a <em>group</em>: an ordered list of
/// global ranks that holds the caller; a rank's <em>position</em> is its index in that list.
/// Every rank of the group makes the same call (same kind, same arguments, same input shape
/// and element type, same group order) as its n-th collective over that group; calls are
/// matched by (group, n).
/// <para>
/// Results are new tensors, inputs are never written, and when a call returns no other rank
/// reads its input any more. Float reductions compute in double, adding in group order, and
/// round once to the element type, so every rank gets bit-identical results; integer sums
/// wrap at the element type's width. Dimensions may be negative (counted from the end).
/// <paramref name="resultType"/> arguments are optional: when given, the result has that type
/// (checked against the shape the collective produces); otherwise a type of the right shape.
/// </para>
/// <para>Errors: a bad call (group without the caller, dimension out of range, size not
/// divisible by the group) is an <see cref="ArgumentException"/> before anything is sent;
/// a failure of the group (mismatched calls, a timeout, a failed or finished rank) is a
/// <see cref="CommunicatorException"/>.</para>
/// </summary>
public interface ICommunicator
{
    /// <summary>This rank, in [0, <see cref="Size"/>).</summary>
    int Rank { get; }

    /// <summary>Number of ranks of the world.</summary>
    int Size { get; }

    /// <summary>
    /// Bytes this rank has sent so far, by the ring/direct algorithms' counts per collective
    /// (G the group size, B the input's bytes at its element type's width, integer division
    /// last): all_reduce 2(G-1)B/G, all_gather (G-1)B, reduce_scatter (G-1)B/G, all_to_all
    /// (G-1)B/G, shift B when this rank has a destination other than itself; a barrier 0.
    /// </summary>
    long BytesSent { get; }

    /// <summary>Number of collectives (barriers included) this rank has completed.</summary>
    long Collectives { get; }

    /// <summary>The elementwise sum or max of the group's tensors (all of one shape).</summary>
    HostTensor AllReduce(HostTensor x, IReadOnlyList<int> group, ReduceOp op, TensorType? resultType = null);

    /// <summary>The group's tensors concatenated along <paramref name="dim"/> in group order.</summary>
    HostTensor AllGather(HostTensor x, IReadOnlyList<int> group, int dim, TensorType? resultType = null);

    /// <summary>The sum over the group, of which this rank keeps chunk #position of <paramref name="dim"/> (size/G).</summary>
    HostTensor ReduceScatter(HostTensor x, IReadOnlyList<int> group, int dim, TensorType? resultType = null);

    /// <summary>
    /// Splits <paramref name="splitDim"/> into G chunks and sends chunk j to position j; the G chunks
    /// received are concatenated along <paramref name="concatDim"/> in group order.
    /// </summary>
    HostTensor AllToAll(HostTensor x, IReadOnlyList<int> group, int splitDim, int concatDim, TensorType? resultType = null);

    /// <summary>
    /// Position i receives the tensor of position i - <paramref name="offset"/>: modulo G when
    /// <paramref name="rotate"/>, otherwise zeros where that position does not exist.
    /// </summary>
    HostTensor Shift(HostTensor x, IReadOnlyList<int> group, int offset, bool rotate, TensorType? resultType = null);

    /// <summary>Returns once every rank of the group has entered the barrier.</summary>
    void Barrier(IReadOnlyList<int> group);
}

/// <summary>
/// A collective that cannot complete: mismatched calls, a timeout, a rank that failed or
/// finished without joining, a deadlock. The message starts with the rank that raised it
/// (<c>rank 2: dist.all_to_all #7 over ranks [0, 1, 2, 3] timed out after 60 s waiting for
/// ranks 1, 3</c>), except the secondary errors a failed rank causes on the others
/// (<c>rank 1 failed: its message</c>), which <see cref="IsSecondary"/> marks.
/// </summary>
public sealed class CommunicatorException : Exception
{
    public CommunicatorException(int rank, string message, bool isSecondary = false, Location? location = null)
        : base(message)
    {
        Rank = rank;
        IsSecondary = isSecondary;
        Location = location;
    }

    /// <summary>The rank on which this exception was raised.</summary>
    public int Rank { get; }

    /// <summary>True when raised only because another rank failed first (that rank's error is the real one).</summary>
    public bool IsSecondary { get; }

    /// <summary>The location of the op whose kernel made the call, when it came from the interpreter.</summary>
    public Location? Location { get; }

    /// <summary>The same error, located at an op.</summary>
    public CommunicatorException At(Location location) => new(Rank, Message, IsSecondary, location);
}
