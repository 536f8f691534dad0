using System.Diagnostics;
using System.Globalization;

namespace AutoSpIR.Runtime.Comm;

/// <summary>What one rank's program gave: its value, or the exception it ended with.</summary>
public sealed class RankOutcome<T>
{
    public required int Rank { get; init; }
    public T? Value { get; init; }
    public Exception? Error { get; init; }
    public required TimeSpan Elapsed { get; init; }
    /// <summary>Order in which the ranks failed (0 = first), -1 when this rank did not fail.</summary>
    public int FailureOrder { get; init; } = -1;
}

/// <summary>
/// The in-process world of <see cref="ThreadCommunicator"/>s: P ranks, one thread each, that
/// meet in collectives. All state sits behind one lock; data is combined outside it.
/// <para>
/// A call is matched across its group by (the group's set of ranks, the caller's count of
/// calls over that group). A collective fails, on every rank waiting in it and every rank
/// that arrives later, with a <see cref="CommunicatorException"/> when
/// <list type="bullet">
/// <item>two ranks' calls differ (kind, arguments, input shape or type, group order);</item>
/// <item>it does not complete within <see cref="Timeout"/> of a rank's arrival;</item>
/// <item>a rank of its group that has not joined it finished its program (<see cref="MarkDone"/>);</item>
/// <item>no rank can make progress any more: every rank of the world is waiting in a collective
/// that cannot complete, or has finished (a deadlock of diverged programs).</item>
/// </list>
/// A rank that fails (<see cref="MarkFailed"/>) poisons the world: every rank waiting in or later
/// entering a collective gets a secondary <c>rank N failed: message</c> error at once.
/// </para>
/// </summary>
public sealed class ThreadWorld
{
    /// <summary>The default time a rank waits in a collective for the others.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    private enum RankState { Running, Waiting, Done, Failed }

    private readonly object _gate = new();
    private readonly RankState[] _state;
    private readonly Rendezvous?[] _waitingIn;
    private readonly ThreadCommunicator[] _comms;
    private readonly Dictionary<(string Key, long Seq), Rendezvous> _pending = new();
    private (int Rank, string Message)? _poison;
    private int _failures;
    private bool _ran;

    public ThreadWorld(int size, TimeSpan? timeout = null)
    {
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), size, "a world has at least one rank");
        var t = timeout ?? DefaultTimeout;
        if (t <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeout), t, "the timeout must be positive");
        Size = size;
        Timeout = t;
        _state = new RankState[size];
        _waitingIn = new Rendezvous?[size];
        _comms = new ThreadCommunicator[size];
        for (int r = 0; r < size; r++) _comms[r] = new ThreadCommunicator(this, r);
    }

    public int Size { get; }
    public TimeSpan Timeout { get; }

    /// <summary>The communicator of <paramref name="rank"/> (one per rank; use it from that rank's thread).</summary>
    public ThreadCommunicator Communicator(int rank) =>
        rank >= 0 && rank < Size ? _comms[rank] : throw new ArgumentOutOfRangeException(nameof(rank), rank, $"the world has ranks 0..{Size - 1}");

    /// <summary>True once a rank has failed.</summary>
    public bool IsPoisoned
    {
        get { lock (_gate) return _poison is not null; }
    }

    /// <summary>
    /// Runs <paramref name="program"/> on one thread per rank and waits for all; marks each rank
    /// done or failed as its program ends. Never throws for a rank's error: see the outcomes.
    /// A world runs once.
    /// </summary>
    public RankOutcome<T>[] RunAll<T>(Func<ThreadCommunicator, T> program)
    {
        ArgumentNullException.ThrowIfNull(program);
        lock (_gate)
        {
            if (_ran) throw new InvalidOperationException("a ThreadWorld runs one program; make a new world");
            _ran = true;
        }
        var outcomes = new RankOutcome<T>[Size];
        var threads = new Thread[Size];
        for (int r = 0; r < Size; r++)
        {
            int rank = r;
            threads[r] = new Thread(() => outcomes[rank] = RunRank(rank, program)) { Name = $"rank {rank}", IsBackground = true };
        }
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        return outcomes;
    }

    /// <summary>
    /// <see cref="RunAll"/>, then each rank's value; when a rank failed, the first real failure
    /// (not a secondary one) is rethrown, with its rank in the message (<see cref="WithRank"/>).
    /// </summary>
    public T[] Run<T>(Func<ThreadCommunicator, T> program)
    {
        var outcomes = RunAll(program);
        if (FirstError(outcomes) is { } e) throw e;
        return outcomes.Select(o => o.Value!).ToArray();
    }

    /// <summary>The first real failure of a run, with its rank in the message, or null when every rank succeeded.</summary>
    public static Exception? FirstError<T>(IReadOnlyList<RankOutcome<T>> outcomes)
    {
        var failed = outcomes.Where(o => o.Error is not null).OrderBy(o => o.FailureOrder).ToList();
        if (failed.Count == 0) return null;
        var primary = failed.FirstOrDefault(o => o.Error is not CommunicatorException { IsSecondary: true }) ?? failed[0];
        return WithRank(primary.Rank, primary.Error!);
    }

    /// <summary>
    /// <paramref name="error"/> of <paramref name="rank"/> with <c>rank N: </c> before its message, as the same
    /// exception type for the ones callers catch (RuntimeErrorException keeps its location; a
    /// CommunicatorException already names its rank), else an InvalidOperationException wrapping it.
    /// </summary>
    public static Exception WithRank(int rank, Exception error)
    {
        string prefix = $"rank {rank.ToString(CultureInfo.InvariantCulture)}: ";
        if (error.Message.StartsWith(prefix, StringComparison.Ordinal)) prefix = "";
        return error switch
        {
            CommunicatorException c => c,
            RuntimeErrorException r => new RuntimeErrorException(r.Location, prefix + r.Message),
            ArgumentException a => new ArgumentException(prefix + a.Message, a),
            _ => new InvalidOperationException(prefix + error.Message, error),
        };
    }

    private RankOutcome<T> RunRank<T>(int rank, Func<ThreadCommunicator, T> program)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            var value = program(_comms[rank]);
            MarkDone(rank);
            return new RankOutcome<T> { Rank = rank, Value = value, Elapsed = clock.Elapsed };
        }
        catch (Exception e)
        {
            int order = MarkFailed(rank, e);
            return new RankOutcome<T> { Rank = rank, Error = e, Elapsed = clock.Elapsed, FailureOrder = order };
        }
    }

    // ------------------------------------------------------------------ rank lifecycle

    /// <summary>
    /// <paramref name="rank"/>'s program has finished: collectives waiting for it fail with
    /// <c>rank 3 finished without joining dist.all_reduce #2 over ranks [...]</c>.
    /// </summary>
    public void MarkDone(int rank)
    {
        lock (_gate)
        {
            if (_state[rank] is RankState.Done or RankState.Failed) return;
            _state[rank] = RankState.Done;
            foreach (var rv in _pending.Values)
                if (rv.IsOpen && rv.Missing().Contains(rank))
                    FailRendezvous(rv, $"rank {rank} finished without joining {rv}");
            CheckDeadlock();
        }
    }

    /// <summary>
    /// <paramref name="rank"/>'s program failed with <paramref name="error"/>: poisons the world (the first
    /// failure's message is the one the others see). Returns the order of this failure (0 = first).
    /// </summary>
    public int MarkFailed(int rank, Exception error)
    {
        lock (_gate)
        {
            _state[rank] = RankState.Failed;
            if (_poison is null)
            {
                string msg = error.Message;
                string own = $"rank {rank.ToString(CultureInfo.InvariantCulture)}: ";
                if (msg.StartsWith(own, StringComparison.Ordinal)) msg = msg[own.Length..];
                _poison = (rank, msg);
                for (int r = 0; r < Size; r++)
                    if (_state[r] == RankState.Waiting) _state[r] = RankState.Running;
                Monitor.PulseAll(_gate);
            }
            return _failures++;
        }
    }

    // ------------------------------------------------------------------ collectives

    /// <summary>
    /// Enters <paramref name="call"/> over <paramref name="group"/> (checked by the caller) with
    /// <paramref name="input"/>, and returns the rendezvous once every rank of the group has entered
    /// it; the caller then computes its result and must call <see cref="Depart"/>.
    /// </summary>
    internal Rendezvous Arrive(int rank, int[] group, CollectiveCall call, HostTensor? input)
    {
        var key = string.Join(",", group.Order());
        lock (_gate)
        {
            if (_state[rank] is RankState.Done or RankState.Failed)
                throw new InvalidOperationException($"rank {rank} has already finished its program");
            long seq = _comms[rank].NextSequence(key);
            // A collective that already failed says why (more precise than the poison its failure caused).
            if (_pending.TryGetValue((key, seq), out var rv) && rv.Error is { } earlier)
                throw new CommunicatorException(rank, $"rank {rank}: {earlier}");
            ThrowIfPoisoned(rank);
            if (rv is null)
            {
                rv = new Rendezvous(key, seq, group, call, rank);
                _pending[(key, seq)] = rv;
            }
            int pos = Array.IndexOf(rv.Group, rank);
            if (!rv.Group.SequenceEqual(group) || !rv.FirstCall.Matches(call))
            {
                var (a, callA, groupA, b, callB, groupB) = rv.FirstRank < rank
                    ? (rv.FirstRank, rv.FirstCall, rv.Group, rank, call, group)
                    : (rank, call, group, rv.FirstRank, rv.FirstCall, rv.Group);
                bool showGroups = !groupA.SequenceEqual(groupB);
                string Text(CollectiveCall c, int[] g) => showGroups ? $"{c} over ranks {List(g)}" : c.ToString();
                FailRendezvous(rv, $"ranks {a} and {b} disagree on collective #{seq} over ranks {List(rv.Group.Order())}: "
                                   + $"rank {a} called {Text(callA, groupA)}, rank {b} called {Text(callB, groupB)}");
                throw new CommunicatorException(rank, $"rank {rank}: {rv.Error}");
            }
            rv.Inputs[pos] = input;
            rv.Arrived[pos] = true;
            if (++rv.ArrivedCount == rv.Group.Length)
            {
                rv.IsComplete = true;
                foreach (var m in rv.Group)
                    if (_state[m] == RankState.Waiting && _waitingIn[m] == rv)
                    {
                        _state[m] = RankState.Running;
                        _waitingIn[m] = null;
                    }
                Monitor.PulseAll(_gate);
                return rv;
            }
            foreach (var m in rv.Missing())
                if (_state[m] == RankState.Done)
                {
                    FailRendezvous(rv, $"rank {m} finished without joining {rv}");
                    throw new CommunicatorException(rank, $"rank {rank}: {rv.Error}");
                }

            _state[rank] = RankState.Waiting;
            _waitingIn[rank] = rv;
            CheckDeadlock();
            var deadline = Stopwatch.GetTimestamp() + (long)(Timeout.TotalSeconds * Stopwatch.Frequency);
            while (true)
            {
                if (rv.IsComplete) return rv;
                if (rv.Error is { } error) throw new CommunicatorException(rank, $"rank {rank}: {error}");
                ThrowIfPoisoned(rank);
                long left = deadline - Stopwatch.GetTimestamp();
                if (left <= 0)
                {
                    var missing = rv.Missing();
                    FailRendezvous(rv, $"{rv} timed out after {Seconds(Timeout)} s waiting for rank{(missing.Count == 1 ? "" : "s")} {string.Join(", ", missing)}");
                    throw new CommunicatorException(rank, $"rank {rank}: {rv.Error}");
                }
                Monitor.Wait(_gate, TimeSpan.FromSeconds(Math.Min((double)left / Stopwatch.Frequency, int.MaxValue / 1000.0)));
            }
        }
    }

    /// <summary>
    /// The rank has computed its result from the rendezvous' inputs; returns once every rank of
    /// the group has (so no input is read after its owner's call returned).
    /// </summary>
    internal void Depart(Rendezvous rv, bool waitForOthers)
    {
        lock (_gate)
        {
            if (++rv.DepartedCount == rv.Group.Length)
            {
                _pending.Remove((rv.Key, rv.Seq));
                Array.Clear(rv.Inputs);
                Monitor.PulseAll(_gate);
                return;
            }
            while (waitForOthers && rv.DepartedCount < rv.Group.Length) Monitor.Wait(_gate);
        }
    }

    private void ThrowIfPoisoned(int rank)
    {
        if (_poison is { } p)
        {
            _state[rank] = _state[rank] == RankState.Waiting ? RankState.Running : _state[rank];
            _waitingIn[rank] = null;
            throw new CommunicatorException(rank, $"rank {p.Rank} failed: {p.Message}", isSecondary: true);
        }
    }

    /// <summary>Fails an open rendezvous; its waiting ranks wake up (and count as running again).</summary>
    private void FailRendezvous(Rendezvous rv, string reason)
    {
        rv.Error = reason;
        foreach (var m in rv.Group)
            if (_state[m] == RankState.Waiting && _waitingIn[m] == rv)
            {
                _state[m] = RankState.Running;
                _waitingIn[m] = null;
            }
        Monitor.PulseAll(_gate);
    }

    /// <summary>No rank running and some waiting: nothing can ever complete those collectives.</summary>
    private void CheckDeadlock()
    {
        bool anyWaiting = false;
        for (int r = 0; r < Size; r++)
        {
            if (_state[r] == RankState.Running) return;
            anyWaiting |= _state[r] == RankState.Waiting;
        }
        if (!anyWaiting) return;
        var open = new HashSet<Rendezvous>();
        for (int r = 0; r < Size; r++)
            if (_state[r] == RankState.Waiting && _waitingIn[r] is { } rv) open.Add(rv);
        var reasons = new Dictionary<Rendezvous, string>();
        foreach (var rv in open)
        {
            var why = rv.Missing().Select(m => _state[m] switch
            {
                RankState.Waiting when _waitingIn[m] is { } other => $"rank {m} waits in {other}",
                RankState.Done => $"rank {m} finished",
                RankState.Failed => $"rank {m} failed",
                _ => $"rank {m} is stuck",
            });
            reasons[rv] = $"deadlock: {rv} can never complete: {string.Join(", ", why)}";
        }
        foreach (var (rv, reason) in reasons) FailRendezvous(rv, reason);
    }

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);

    internal static string List(IEnumerable<int> ranks) => "[" + string.Join(", ", ranks) + "]";

    /// <summary>One collective instance: the group's calls and inputs as they arrive.</summary>
    internal sealed class Rendezvous(string key, long seq, int[] group, CollectiveCall firstCall, int firstRank)
    {
        public string Key { get; } = key;
        public long Seq { get; } = seq;
        /// <summary>The group in the first caller's order; positions index it.</summary>
        public int[] Group { get; } = group;
        public CollectiveCall FirstCall { get; } = firstCall;
        public int FirstRank { get; } = firstRank;
        public HostTensor?[] Inputs { get; } = new HostTensor?[group.Length];
        public bool[] Arrived { get; } = new bool[group.Length];
        public int ArrivedCount { get; set; }
        public int DepartedCount { get; set; }
        public bool IsComplete { get; set; }
        public string? Error { get; set; }
        public bool IsOpen => !IsComplete && Error is null;

        public List<int> Missing()
        {
            var m = new List<int>();
            for (int i = 0; i < Group.Length; i++)
                if (!Arrived[i]) m.Add(Group[i]);
            m.Sort();
            return m;
        }

        /// <summary><c>dist.all_reduce #2 over ranks [0, 1, 2, 3]</c>.</summary>
        public override string ToString() => $"{FirstCall.Name} #{Seq} over ranks {List(Group)}";
    }
}
