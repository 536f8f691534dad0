using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace AutoSpIR.Runtime.Comm;

/// <summary>
/// This process's place in an Open MPI job (started by <c>mpirun</c>): MPI is initialized once per
/// process (<see cref="Initialize"/>), this process is rank <see cref="Rank"/> of <see cref="Size"/>,
/// and <see cref="Communicator"/> is its <see cref="MpiCommunicator"/>. End with <see cref="Shutdown"/>
/// (MPI_Finalize, every rank) after a success, or <see cref="Abort"/> after an error.
/// <para>
/// The failure protocol (<see cref="Abort"/>), run by a rank once it has printed its error: a rank
/// whose error is its own (not a secondary "rank K failed") sends a failure notice with its message
/// to every other rank; every failing rank then sends an exit notice to every other rank and waits
/// until it has received one from every other rank, or <see cref="FailureGrace"/> has passed, and
/// calls <c>MPI_Abort(MPI_COMM_WORLD, 1)</c>, which ends every process of the job (mpirun exits
/// with 1). Ranks waiting in a collective, or starting one, see the failure notice and fail with a
/// secondary <c>rank K failed: message</c> error, print it, and run the same protocol; so every
/// rank prints one error before the job ends, unless it stays away from collectives (computing or
/// hung) for longer than the grace period.
/// </para>
/// </summary>
public sealed unsafe class MpiWorld
{
    /// <summary>The environment variable mpirun (Open MPI) sets in every process it starts.</summary>
    public const string WorldSizeVariable = "OMPI_COMM_WORLD_SIZE";

    private static MpiWorld? _current;
    private bool _allExited;

    private MpiWorld(int rank, int size, int tagUb, TimeSpan timeout)
    {
        Rank = rank;
        Size = size;
        Communicator = new MpiCommunicator(rank, size, tagUb, timeout);
    }

    public int Rank { get; }
    public int Size { get; }
    public MpiCommunicator Communicator { get; }

    /// <summary>How long a failing rank waits for every other rank's exit notice before MPI_Abort (10 s by default).</summary>
    public TimeSpan FailureGrace { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>True when this process was started by Open MPI's mpirun (it set <see cref="WorldSizeVariable"/>).</summary>
    public static bool IsUnderMpirun => Environment.GetEnvironmentVariable(WorldSizeVariable) is not null;

    /// <summary>
    /// Initializes MPI (<c>MPI_Init_thread</c>, <c>MPI_THREAD_FUNNELED</c>: every later call from this thread) and
    /// returns this process's world; the same world when called again. Throws an InvalidOperationException
    /// when the process was not started by mpirun or libmpi.so.40 is missing.
    /// </summary>
    public static MpiWorld Initialize(TimeSpan? timeout = null)
    {
        if (_current is { } w)
        {
            if (timeout is { } t0) w.Communicator.Timeout = t0;
            return w;
        }
        if (!IsUnderMpirun)
            throw new InvalidOperationException($"this process was not started by mpirun ({WorldSizeVariable} is not set)");
        if (!MpiNative.TryLoad(out var error)) throw new InvalidOperationException(error);
        int flag, provided, rank, size;
        MpiNative.Check(MpiNative.MPI_Initialized(&flag), "MPI_Initialized");
        if (flag == 0)
        {
            MpiNative.Check(MpiNative.MPI_Init_thread(null, null, MpiNative.ThreadFunneled, &provided), "MPI_Init_thread");
            if (provided < MpiNative.ThreadFunneled)
                throw new InvalidOperationException($"MPI_Init_thread provides thread level {provided}, below MPI_THREAD_FUNNELED");
        }
        MpiNative.Check(MpiNative.MPI_Comm_rank(MpiNative.CommWorld, &rank), "MPI_Comm_rank");
        MpiNative.Check(MpiNative.MPI_Comm_size(MpiNative.CommWorld, &size), "MPI_Comm_size");
        int* ub = null;
        int tagUb = 32767;   // the least MPI guarantees
        MpiNative.Check(MpiNative.MPI_Comm_get_attr(MpiNative.CommWorld, MpiNative.TagUbKey, &ub, &flag), "MPI_Comm_get_attr");
        if (flag != 0 && ub is not null) tagUb = *ub;
        _current = new MpiWorld(rank, size, tagUb, timeout ?? ThreadWorld.DefaultTimeout);
        return _current;
    }

    /// <summary>MPI_Finalize: every rank calls it after a successful run.</summary>
    public void Shutdown()
    {
        int flag;
        MpiNative.Check(MpiNative.MPI_Finalized(&flag), "MPI_Finalized");
        if (flag == 0) MpiNative.Check(MpiNative.MPI_Finalize(), "MPI_Finalize");
    }

    /// <summary>
    /// The failure protocol (see the class): call it after printing this rank's error. With a
    /// <paramref name="notice"/> (this rank's own error; null for a secondary one) first sends it to every
    /// other rank; then exchanges exit notices for up to <see cref="FailureGrace"/>, and calls MPI_Abort.
    /// Never returns.
    /// </summary>
    [DoesNotReturn]
    public void Abort(string? notice)
    {
        Console.Out.Flush();
        Console.Error.Flush();
        try
        {
            var keep = new List<(nint Request, bool Done)>();
            void SendToAll(int tag, byte[] data)
            {
                for (int r = 0; r < Size; r++)
                {
                    if (r == Rank) continue;
                    var copy = (byte[])data.Clone();
                    var handle = System.Runtime.InteropServices.GCHandle.Alloc(copy, System.Runtime.InteropServices.GCHandleType.Pinned);   // never freed: the process ends
                    nint req;
                    MpiNative.Check(MpiNative.MPI_Isend((void*)handle.AddrOfPinnedObject(), copy.Length, MpiNative.Byte, r, tag, MpiNative.CommWorld, &req), "MPI_Isend");
                    keep.Add((req, false));
                }
            }
            if (notice is not null) SendToAll(MpiCommunicator.FailTag, Encoding.UTF8.GetBytes(notice));
            SendToAll(MpiCommunicator.ExitTag, new byte[1]);
            var exited = new HashSet<int> { Rank };
            long deadline = Stopwatch.GetTimestamp() + (long)(FailureGrace.TotalSeconds * Stopwatch.Frequency);
            while (exited.Count < Size && Stopwatch.GetTimestamp() < deadline)
            {
                MpiNative.Status st;
                int flag;
                MpiNative.Check(MpiNative.MPI_Iprobe(MpiNative.AnySource, MpiCommunicator.ExitTag, MpiNative.CommWorld, &flag, &st), "MPI_Iprobe");
                if (flag != 0)
                {
                    byte b;
                    MpiNative.Check(MpiNative.MPI_Recv(&b, 1, MpiNative.Byte, st.Source, MpiCommunicator.ExitTag, MpiNative.CommWorld, null), "MPI_Recv");
                    exited.Add(st.Source);
                    continue;
                }
                for (int i = 0; i < keep.Count; i++)   // drives the sends (progress)
                {
                    if (keep[i].Done) continue;
                    var req = keep[i].Request;
                    MpiNative.MPI_Test(&req, &flag, null);
                    keep[i] = (req, flag != 0);
                }
                Thread.Sleep(1);
            }
            _allExited = exited.Count == Size;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"rank {Rank.ToString(CultureInfo.InvariantCulture)}: the failure protocol failed too: {e.Message}");
        }
        Console.Error.Flush();
        // Every rank has printed: one abort (the lowest rank's) ends the job, so mpirun prints one notice, not one per rank;
        // the others wait to be ended, and abort themselves should that not happen.
        if (_allExited && Rank != 0) Thread.Sleep(FailureGrace);
        MpiNative.MPI_Abort(MpiNative.CommWorld, 1);
        Environment.Exit(1);
        throw new UnreachableException();
    }
}
