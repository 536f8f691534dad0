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
    /// Streams output made by <paramref name="write"/> to <paramref name="path"/> ("-" is standard output)
    /// atomically: into a temporary file beside it, renamed over it only when <paramref name="write"/>
    /// returns true, so a failed run never leaves a partial file.
    /// </summary>
    public static bool WriteOutput(string tool, string path, Func<TextWriter, bool> write)
    {
        var utf8 = new UTF8Encoding(false);
        if (path == "-")
        {
            using var stdout = new StreamWriter(Console.OpenStandardOutput(), utf8, 1 << 16);
            return write(stdout);
        }
        string? tmp = null;
        try
        {
            var full = Path.GetFullPath(path);
            if (File.Exists(full) && (File.GetAttributes(full) & FileAttributes.Device) != 0 || full.StartsWith("/dev/", StringComparison.Ordinal))
            {
                // A device or pipe (/dev/null, /dev/stdout): there is nothing to replace atomically.
                using var device = new StreamWriter(new FileStream(full, FileMode.Open, FileAccess.Write), utf8, 1 << 16);
                return write(device);
            }
            tmp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
            bool ok;
            using (var file = new StreamWriter(tmp, false, utf8, 1 << 16)) ok = write(file);
            if (!ok)
            {
                File.Delete(tmp);
                return false;
            }
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

    /// <summary>
    /// Reads, parses and verifies the program at <paramref name="path"/> ('-' for standard input) with every dialect
    /// registered; prints the diagnostics and returns null when it cannot be read or has errors.
    /// </summary>
    public static Operation? ReadProgram(string tool, string path)
    {
        var text = ReadInput(tool, path);
        if (text is null) return null;
        var diag = new DiagnosticEngine();
        var module = AutoSpIR.Grammar.AspIRParserDriver.ParseAndVerify(text, path == "-" ? "<stdin>" : path, AutoSpIR.Dialects.AllDialects.NewContext(), diag);
        PrintDiagnostics(diag, Console.Error);
        return module;
    }

    /// <summary>
    /// The function a tool runs: <paramref name="requested"/> (with or without '@') when given, else the module's
    /// only function with a body, else <c>@train_step</c>; null with the reason in <paramref name="error"/>.
    /// </summary>
    public static Operation? FindEntry(Operation module, string? requested, out string error)
    {
        var funcs = module.Region(0).Ops.Where(o => o.Name == "func.func" && !o.Region(0).IsEmpty).ToList();
        string Name(Operation f) => f.GetString("sym_name") ?? "";
        error = "";
        if (requested is not null)
        {
            var name = requested.TrimStart('@');
            var f = funcs.FirstOrDefault(o => Name(o) == name);
            if (f is null) error = $"no function '@{name}' in the program (it has {string.Join(", ", funcs.Select(o => "@" + Name(o)))})";
            return f;
        }
        if (funcs.Count == 1) return funcs[0];
        var train = funcs.FirstOrDefault(o => Name(o) == "train_step");
        if (train is null) error = $"the program has {funcs.Count} functions; choose one with --entry";
        return train;
    }

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
