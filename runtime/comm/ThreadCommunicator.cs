namespace AutoSpIR.Runtime.Comm;

/// <summary>
/// The in-process backend of <see cref="ICommunicator"/>: one rank of a <see cref="ThreadWorld"/>,
/// used from that rank's thread. A collective enters the world's rendezvous for (group, n),
/// waits for the group, computes this rank's result from the others' inputs (outside the
/// world's lock), and returns once every rank of the group is done reading its input.
/// </summary>
public sealed class ThreadCommunicator : ICommunicator
{
    private readonly ThreadWorld _world;
    private readonly Dictionary<string, long> _sequence = new();
    private long _bytesSent, _collectives;

    internal ThreadCommunicator(ThreadWorld world, int rank)
    {
        _world = world;
        Rank = rank;
    }

    public int Rank { get; }
    public int Size => _world.Size;
    public ThreadWorld World => _world;
    public long BytesSent => Interlocked.Read(ref _bytesSent);
    public long Collectives => Interlocked.Read(ref _collectives);

    public HostTensor AllReduce(HostTensor x, IReadOnlyList<int> group, ReduceOp op, TensorType? resultType = null) =>
        Collective(group, x, g => CollectiveCall.AllReduce(x, op), resultType);

    public HostTensor AllGather(HostTensor x, IReadOnlyList<int> group, int dim, TensorType? resultType = null) =>
        Collective(group, x, g => CollectiveCall.AllGather(x, dim), resultType);

    public HostTensor ReduceScatter(HostTensor x, IReadOnlyList<int> group, int dim, TensorType? resultType = null) =>
        Collective(group, x, g => CollectiveCall.ReduceScatter(x, dim, g), resultType);

    public HostTensor AllToAll(HostTensor x, IReadOnlyList<int> group, int splitDim, int concatDim, TensorType? resultType = null) =>
        Collective(group, x, g => CollectiveCall.AllToAll(x, splitDim, concatDim, g), resultType);

    public HostTensor Shift(HostTensor x, IReadOnlyList<int> group, int offset, bool rotate, TensorType? resultType = null) =>
        Collective(group, x, g => CollectiveCall.Shift(x, offset, rotate), resultType);

    public void Barrier(IReadOnlyList<int> group)
    {
        var g = CheckGroup(group);
        var rv = _world.Arrive(Rank, g, CollectiveCall.Barrier(), null);
        _world.Depart(rv, waitForOthers: false);
        Interlocked.Increment(ref _collectives);
    }

    /// <summary>The next sequence number of this rank's calls over a group (1-based); called under the world's lock.</summary>
    internal long NextSequence(string groupKey)
    {
        _sequence.TryGetValue(groupKey, out var n);
        _sequence[groupKey] = ++n;
        return n;
    }

    private HostTensor Collective(IReadOnlyList<int> group, HostTensor x, Func<int, CollectiveCall> makeCall, TensorType? resultType)
    {
        ArgumentNullException.ThrowIfNull(x);
        var g = CheckGroup(group);
        var call = makeCall(g.Length);
        var type = call.ResultType(g.Length, resultType);
        var rv = _world.Arrive(Rank, g, call, x);
        int position = Array.IndexOf(rv.Group, Rank);
        HostTensor result;
        try
        {
            result = call.Compute(rv.Inputs!, position, type);
        }
        finally
        {
            _world.Depart(rv, waitForOthers: true);
        }
        Interlocked.Add(ref _bytesSent, call.BytesSent(g.Length, position));
        Interlocked.Increment(ref _collectives);
        return result;
    }

    private int[] CheckGroup(IReadOnlyList<int> group) => CollectiveCall.CheckGroup(group, Rank, Size);
}
