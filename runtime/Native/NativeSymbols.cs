using System.Runtime.InteropServices;
using AutoSpIR.Lowering.Llvm;

namespace AutoSpIR.Runtime.Native;

/// <summary>
/// The symbols lowered code calls, bound into each JIT by address: <c>cblas_sgemm</c>/<c>cblas_dgemm</c> from
/// OpenBLAS (Debian's libopenblas0-pthread), <c>GOMP_parallel</c>, <c>omp_get_thread_num</c>,
/// <c>omp_get_num_threads</c> from libgomp (Debian's libgomp1), and <c>aspir_host</c>, <c>aspir_profile</c> (<see cref="NativeProgram"/>).
/// libm's functions come from the process. A missing library is an error saying which package to install.
/// </summary>
internal static unsafe partial class NativeSymbols
{
    private static readonly Lazy<(string Name, nint Address)[]> s_symbols = new(Load);

    public static void EnsureLoaded() => _ = s_symbols.Value;

    public static void Define(LlvmJit jit)
    {
        foreach (var (name, address) in s_symbols.Value) jit.DefineAbsolute(name, address);
    }

    private static (string, nint)[] Load()
    {
        var blas = Open(Blas.LibraryName, "libopenblas0-pthread");
        // Idle OpenMP threads sleep instead of spinning (unless the user chose): spinning threads starve the other
        // ranks' threads and OpenBLAS's on a machine with few cores (a step of the tiny Llama went from 3 ms to
        // 0.4-1 s on 2 loaded cores). libgomp reads the variable when it loads, so it is set in the C environment.
        if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null) _ = setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
        var gomp = Open("libgomp.so.1", "libgomp1");
        return new (string, nint)[]
        {
            ("cblas_sgemm", NativeLibrary.GetExport(blas, "cblas_sgemm")),
            ("cblas_dgemm", NativeLibrary.GetExport(blas, "cblas_dgemm")),
            ("GOMP_parallel", NativeLibrary.GetExport(gomp, "GOMP_parallel")),
            ("omp_get_thread_num", NativeLibrary.GetExport(gomp, "omp_get_thread_num")),
            ("omp_get_num_threads", NativeLibrary.GetExport(gomp, "omp_get_num_threads")),
            ("aspir_host", (nint)(delegate* unmanaged<nint, long, byte**, void>)&NativeProgram.Host),
            ("aspir_profile", (nint)(delegate* unmanaged<nint, long, void>)&NativeProgram.Profile),
        };
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);

    private static nint Open(string library, string package) =>
        NativeLibrary.TryLoad(library, out var handle) ? handle
            : throw new InvalidOperationException($"the native backend needs {library}; install the Debian package {package} (bin/setup does)");
}
