using System.Runtime.InteropServices;

namespace AutoSpIR.Runtime.Comm;

/// <summary>Which GPU collective library: NVIDIA NCCL or AMD RCCL (the same C API).</summary>
public enum GpuCollectives { Nccl, Rccl }

/// <summary>A backend that cannot run on this machine (its library or its GPU is missing); the message says which and what to use instead.</summary>
public sealed class BackendUnavailableException(string message) : Exception(message);

/// <summary>
/// NCCL / RCCL, loaded on demand: <c>libnccl.so.2</c> (NVIDIA) or <c>librccl.so.1</c> / <c>librccl.so</c>
/// (AMD) with <see cref="NativeLibrary.TryLoad(string, out IntPtr)"/>, then the entry points AutoSpIR
/// would use (ncclGetVersion, ncclCommInitRank, ncclAllReduce, ncclAllGather, ncclReduceScatter,
/// ncclSend, ncclRecv, ncclGroupStart/End, ncclCommDestroy, ncclGetErrorString), and the GPU count
/// from the driver (<c>libcuda.so.1</c> cuInit + cuDeviceGetCount; <c>libamdhip64.so</c> hipGetDeviceCount).
/// </summary>
public sealed unsafe class NcclLibrary
{
    private static readonly string[] Functions =
    {
        "ncclGetVersion", "ncclGetUniqueId", "ncclCommInitRank", "ncclAllReduce", "ncclAllGather", "ncclReduceScatter",
        "ncclSend", "ncclRecv", "ncclGroupStart", "ncclGroupEnd", "ncclCommDestroy", "ncclGetErrorString",
    };

    private NcclLibrary(GpuCollectives which, string path, Dictionary<string, nint> entries, int version, int gpus)
    {
        Which = which;
        Path = path;
        Entries = entries;
        Version = version;
        Gpus = gpus;
    }

    public GpuCollectives Which { get; }
    /// <summary>The library file loaded.</summary>
    public string Path { get; }
    /// <summary>The entry points by name (function pointers).</summary>
    public IReadOnlyDictionary<string, nint> Entries { get; }
    /// <summary>ncclGetVersion: major * 10000 + minor * 100 + patch (2.18.3: 21803).</summary>
    public int Version { get; }
    /// <summary>The number of GPUs the driver sees (at least 1).</summary>
    public int Gpus { get; }

    /// <summary>
    /// Loads the library and checks that a GPU is visible; a <see cref="BackendUnavailableException"/> saying
    /// what is missing otherwise: <c>the nccl backend needs NVIDIA NCCL (libnccl.so.2) and an NVIDIA GPU;
    /// libnccl.so.2 is not installed on this machine. Use --backend threads, native or mpi.</c>
    /// </summary>
    public static NcclLibrary Load(GpuCollectives which)
    {
        bool nvidia = which == GpuCollectives.Nccl;
        string backend = nvidia ? "nccl" : "rccl";
        string[] names = nvidia ? new[] { "libnccl.so.2" } : new[] { "librccl.so.1", "librccl.so" };
        string needs = nvidia
            ? "the nccl backend needs NVIDIA NCCL (libnccl.so.2) and an NVIDIA GPU"
            : "the rccl backend needs AMD RCCL (librccl.so.1) and an AMD GPU";
        const string instead = " Use --backend threads, native or mpi.";

        nint lib = 0;
        string? path = names.FirstOrDefault(n => NativeLibrary.TryLoad(n, out lib));
        if (path is null)
            throw new BackendUnavailableException($"{needs}; {string.Join(" / ", names)} {(names.Length == 1 ? "is" : "are")} not installed on this machine.{instead}");
        var entries = new Dictionary<string, nint>();
        foreach (var f in Functions)
        {
            if (!NativeLibrary.TryGetExport(lib, f, out var p))
                throw new BackendUnavailableException($"{needs}; {path} has no {f}, so it is not a usable {(nvidia ? "NCCL" : "RCCL")}.{instead}");
            entries[f] = p;
        }
        int version = 0;
        var getVersion = (delegate* unmanaged<int*, int>)entries["ncclGetVersion"];
        if (getVersion(&version) != 0) version = 0;

        int gpus = nvidia ? CudaDevices(out var why) : HipDevices(out why);
        if (gpus <= 0) throw new BackendUnavailableException($"{needs}; {why}.{instead}");
        return new NcclLibrary(which, path, entries, version, gpus);
    }

    private static int CudaDevices(out string why)
    {
        if (!NativeLibrary.TryLoad("libcuda.so.1", out var cuda))
        {
            why = "no NVIDIA GPU is visible (the driver library libcuda.so.1 is not installed)";
            return 0;
        }
        if (!NativeLibrary.TryGetExport(cuda, "cuInit", out var init) || !NativeLibrary.TryGetExport(cuda, "cuDeviceGetCount", out var count))
        {
            why = "libcuda.so.1 has no cuInit / cuDeviceGetCount";
            return 0;
        }
        int rc = ((delegate* unmanaged<uint, int>)init)(0), n = 0;
        if (rc == 0) rc = ((delegate* unmanaged<int*, int>)count)(&n);
        why = rc != 0 ? $"no NVIDIA GPU is visible (cuInit / cuDeviceGetCount returned CUDA error {rc})" : "no NVIDIA GPU is visible (cuDeviceGetCount gives 0)";
        return rc == 0 ? n : 0;
    }

    private static int HipDevices(out string why)
    {
        if (!NativeLibrary.TryLoad("libamdhip64.so", out var hip) && !NativeLibrary.TryLoad("libamdhip64.so.6", out hip) && !NativeLibrary.TryLoad("libamdhip64.so.5", out hip))
        {
            why = "no AMD GPU is visible (the HIP runtime libamdhip64.so is not installed)";
            return 0;
        }
        if (!NativeLibrary.TryGetExport(hip, "hipGetDeviceCount", out var count))
        {
            why = "libamdhip64.so has no hipGetDeviceCount";
            return 0;
        }
        int n = 0, rc = ((delegate* unmanaged<int*, int>)count)(&n);
        why = rc != 0 ? $"no AMD GPU is visible (hipGetDeviceCount returned HIP error {rc})" : "no AMD GPU is visible (hipGetDeviceCount gives 0)";
        return rc == 0 ? n : 0;
    }
}

/// <summary>
/// The NCCL / RCCL backend of <see cref="ICommunicator"/>, as far as it honestly goes today: the
/// constructor loads the library and checks for a GPU (<see cref="NcclLibrary.Load"/>; a clear
/// <see cref="BackendUnavailableException"/> on a machine without them, such as the CI machines).
/// The data path is NOT implemented: AutoSpIR's tensors live in host memory, and running a
/// collective on NCCL needs device buffers (cudaMalloc + copies, or the native executor's device
/// tensors) and a communicator made with <c>ncclCommInitRank</c> from a unique id shared over another
/// channel (MPI). So on a machine that has both, the constructor throws a <see cref="NotSupportedException"/>
/// that says so, rather than running collectives that were never tested.
/// </summary>
public sealed class NcclCommunicator : ICommunicator
{
    public NcclCommunicator(GpuCollectives which, int rank, int size)
    {
        Library = NcclLibrary.Load(which);
        Rank = rank;
        Size = size;
        string name = which == GpuCollectives.Nccl ? "NCCL" : "RCCL";
        int v = Library.Version;
        throw new NotSupportedException(
            $"{name} {v / 10000}.{v / 100 % 100}.{v % 100} ({Library.Path}) and {Library.Gpus} GPU{(Library.Gpus == 1 ? "" : "s")} were found, "
            + $"but AutoSpIR's {name} data path (device buffers, ncclCommInitRank from a unique id shared over MPI) is not implemented yet; use --backend mpi or threads");
    }

    public NcclLibrary Library { get; }
    public int Rank { get; }
    public int Size { get; }
    public long BytesSent => 0;
    public long Collectives => 0;

    private static NotSupportedException NotImplemented() => new("the NCCL/RCCL data path is not implemented (see NcclCommunicator)");

    public HostTensor AllReduce(HostTensor x, IReadOnlyList<int> group, ReduceOp op, TensorType? resultType = null) => throw NotImplemented();
    public HostTensor AllGather(HostTensor x, IReadOnlyList<int> group, int dim, TensorType? resultType = null) => throw NotImplemented();
    public HostTensor ReduceScatter(HostTensor x, IReadOnlyList<int> group, int dim, TensorType? resultType = null) => throw NotImplemented();
    public HostTensor AllToAll(HostTensor x, IReadOnlyList<int> group, int splitDim, int concatDim, TensorType? resultType = null) => throw NotImplemented();
    public HostTensor Shift(HostTensor x, IReadOnlyList<int> group, int offset, bool rotate, TensorType? resultType = null) => throw NotImplemented();
    public void Barrier(IReadOnlyList<int> group) => throw NotImplemented();
}
