using System.Runtime.InteropServices;

namespace AutoSpIR.Runtime.Comm;

/// <summary>
/// The few Open MPI 4 (<c>libmpi.so.40</c>, Debian's libopenmpi3) functions <see cref="MpiWorld"/> and
/// <see cref="MpiCommunicator"/> use. Open MPI's predefined handles (<c>MPI_COMM_WORLD</c>, <c>MPI_BYTE</c>)
/// are the addresses of exported globals (<c>ompi_mpi_comm_world</c>, <c>ompi_mpi_byte</c>), found with
/// <see cref="NativeLibrary.GetExport"/>; <c>MPI_Status</c> is Open MPI's 24-byte struct. Every call is
/// made from the thread that called <c>MPI_Init_thread</c> (<c>MPI_THREAD_FUNNELED</c>).
/// </summary>
internal static unsafe partial class MpiNative
{
    public const string Library = "libmpi.so.40";
    public const int Success = 0;
    public const int AnySource = -1;
    public const int ThreadFunneled = 1;
    /// <summary>The keyval of the <c>MPI_TAG_UB</c> attribute in Open MPI's mpi.h.</summary>
    public const int TagUbKey = 0;

    /// <summary>Open MPI's <c>MPI_Status</c> (<c>ompi_status_public_t</c>).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Status
    {
        public int Source;
        public int Tag;
        public int Error;
        public int Cancelled;
        public nuint UCount;
    }

    private static nint _lib, _commWorld, _byte;

    /// <summary>Loads libmpi.so.40 (false when it is not installed) and resolves the predefined handles.</summary>
    public static bool TryLoad(out string? error)
    {
        error = null;
        if (_lib != 0) return true;
        if (!NativeLibrary.TryLoad(Library, out var lib))
        {
            error = $"{Library} (Open MPI 4) is not installed on this machine (Debian: apt-get install openmpi-bin libopenmpi-dev)";
            return false;
        }
        if (!NativeLibrary.TryGetExport(lib, "ompi_mpi_comm_world", out var world) || !NativeLibrary.TryGetExport(lib, "ompi_mpi_byte", out var b))
        {
            error = $"{Library} does not export ompi_mpi_comm_world / ompi_mpi_byte: it is not Open MPI";
            return false;
        }
        _lib = lib;
        _commWorld = world;
        _byte = b;
        return true;
    }

    public static nint CommWorld => _commWorld;
    public static nint Byte => _byte;

    [LibraryImport(Library)] public static partial int MPI_Initialized(int* flag);
    [LibraryImport(Library)] public static partial int MPI_Finalized(int* flag);
    [LibraryImport(Library)] public static partial int MPI_Init_thread(int* argc, byte*** argv, int required, int* provided);
    [LibraryImport(Library)] public static partial int MPI_Finalize();
    [LibraryImport(Library)] public static partial int MPI_Abort(nint comm, int errorcode);
    [LibraryImport(Library)] public static partial int MPI_Comm_rank(nint comm, int* rank);
    [LibraryImport(Library)] public static partial int MPI_Comm_size(nint comm, int* size);
    [LibraryImport(Library)] public static partial int MPI_Comm_get_attr(nint comm, int keyval, void* value, int* flag);
    [LibraryImport(Library)] public static partial int MPI_Isend(void* buf, int count, nint datatype, int dest, int tag, nint comm, nint* request);
    [LibraryImport(Library)] public static partial int MPI_Iprobe(int source, int tag, nint comm, int* flag, Status* status);
    [LibraryImport(Library)] public static partial int MPI_Get_count(Status* status, nint datatype, int* count);
    [LibraryImport(Library)] public static partial int MPI_Recv(void* buf, int count, nint datatype, int source, int tag, nint comm, Status* status);
    [LibraryImport(Library)] public static partial int MPI_Test(nint* request, int* flag, Status* status);
    [LibraryImport(Library)] public static partial int MPI_Testall(int count, nint* requests, int* flag, Status* statuses);

    /// <summary>Throws when an MPI call did not return MPI_SUCCESS (with the default error handler a failing call aborts first).</summary>
    public static void Check(int rc, string what)
    {
        if (rc != Success) throw new InvalidOperationException($"{what} failed with MPI error code {rc}");
    }
}
