using System.Diagnostics;

namespace AutoSpIR.Tests;

/// <summary>Paths of the repository and of the tools the tests drive.</summary>
public static class Repo
{
    public static readonly string Root = FindRoot();

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "AutoSpIR.sln"))) return d.FullName;
        throw new InvalidOperationException("cannot find AutoSpIR.sln above " + AppContext.BaseDirectory);
    }

    public static string PathOf(params string[] parts) => Path.Combine(new[] { Root }.Concat(parts).ToArray());

    /// <summary>The autosp-opt built next to the tests (the test project references it).</summary>
    public static string AutospOptDll => ToolDll("autosp-opt");

    /// <summary>A tool built next to the tests (the test project references each tool's project).</summary>
    public static string ToolDll(string tool) => Path.Combine(AppContext.BaseDirectory, tool + ".dll");

    /// <summary>The autosp-gen built next to the tests (the test project references it).</summary>
    public static string AutospGenDll => Path.Combine(AppContext.BaseDirectory, "autosp-gen.dll");

    /// <summary>NVIDIA's PTX assembler, unpacked by bin/setup from Debian's non-free nvidia-cuda-toolkit.</summary>
    public static string Ptxas => Path.Combine(Root, ".deps", "nvidia-cuda-toolkit", "usr", "bin", "ptxas");

    /// <summary>The Hugging Face configs shared beside the repository (../shared/models).</summary>
    public static string ModelsDir => Path.GetFullPath(Path.Combine(Root, "..", "shared", "models"));

    public const string LlvmBin = "/usr/lib/llvm-16/bin";

    /// <summary>Runs a command line with bash (pipefail), returning exit code and output; kills it after <paramref name="timeout"/>.</summary>
    public static (int Code, string Stdout, string Stderr) Bash(string command, string workDir, TimeSpan timeout, string? stdin = null)
    {
        var psi = new ProcessStartInfo("bash", new[] { "-o", "pipefail", "-c", command })
        {
            WorkingDirectory = workDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        using var p = Process.Start(psi)!;
        var outTask = p.StandardOutput.ReadToEndAsync();
        var errTask = p.StandardError.ReadToEndAsync();
        if (stdin is not null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            return (-1, outTask.Result, errTask.Result + $"\n[timed out after {timeout.TotalSeconds}s]");
        }
        p.WaitForExit();
        return (p.ExitCode, outTask.Result, errTask.Result);
    }

    /// <summary>Runs autosp-opt with arguments (each quoted for bash).</summary>
    public static (int Code, string Stdout, string Stderr) Opt(string args, string? stdin = null, string? workDir = null) =>
        Bash($"dotnet '{AutospOptDll}' {args}", workDir ?? Root, TimeSpan.FromSeconds(120), stdin);
}
