using System.Text;

namespace AutoSpIR.Tools;

/// <summary>Input, output and error handling shared by the AutoSpIR tools.</summary>
public static class ToolIO
{
    /// <summary>Reads a file, or standard input for "-"; null (after printing why) when it cannot.</summary>
    public static string? ReadInput(string tool, string path)
    {
        try
        {
            if (path == "-") return Console.In.ReadToEnd();
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"{tool}: error: cannot read '{path}': {Reason(e)}");
            return null;
        }
    }

    /// <summary>
    /// Writes <paramref name="text"/> to <paramref name="path"/> ("-" is standard output) atomically:
    /// to a temporary file beside it, then renamed over it, so a failed run never leaves a partial file.
    /// </summary>
    public static bool WriteOutput(string tool, string path, string text)
    {
        if (path == "-")
        {
            var stdout = Console.OpenStandardOutput();
            var bytes = new UTF8Encoding(false).GetBytes(text);
            stdout.Write(bytes, 0, bytes.Length);
            stdout.Flush();
            return true;
        }
        string? tmp = null;
        try
        {
            var full = Path.GetFullPath(path);
            if (File.Exists(full) && (File.GetAttributes(full) & FileAttributes.Device) != 0 || full.StartsWith("/dev/", StringComparison.Ordinal))
            {
                // A device or pipe (/dev/null, /dev/stdout): there is nothing to replace atomically.
                using var stream = new FileStream(full, FileMode.Open, FileAccess.Write);
                var bytes = new UTF8Encoding(false).GetBytes(text);
                stream.Write(bytes, 0, bytes.Length);
                return true;
            }
            var dir = Path.GetDirectoryName(full)!;
            tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
            File.WriteAllText(tmp, text, new UTF8Encoding(false));
            File.Move(tmp, full, overwrite: true);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"{tool}: error: cannot write '{path}': {Reason(e)}");
            try { if (tmp is not null && File.Exists(tmp)) File.Delete(tmp); } catch (IOException) { }
            return false;
        }
    }

    private static string Reason(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => "no such file or directory",
        UnauthorizedAccessException => "permission denied",
        _ => e.Message,
    };

    public static void PrintDiagnostics(DiagnosticEngine diag, TextWriter w)
    {
        foreach (var d in diag.All) w.WriteLine(d.ToString());
    }

    /// <summary>
    /// Runs a tool's main body; an unexpected exception (a compiler bug, never bad input)
    /// prints one line instead of a stack trace (set AUTOSPIR_DEBUG=1 for the trace) and exits 1.
    /// </summary>
    public static int Guard(string tool, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (Environment.GetEnvironmentVariable("AUTOSPIR_DEBUG") != "1")
        {
            Console.Error.WriteLine($"{tool}: internal error: {e.GetType().Name}: {e.Message} (this is a bug; rerun with AUTOSPIR_DEBUG=1 for details)");
            return 1;
        }
    }
}
