namespace AutoSpIR.IR;

public enum Severity { Error, Warning, Remark, Note }

/// <summary>One compiler message, printed as <c>file:line:col: error: message</c>.</summary>
public sealed record Diagnostic(Severity Severity, Location Location, string Message)
{
    public List<Diagnostic> Notes { get; } = new();

    public Diagnostic AttachNote(Location loc, string message)
    {
        Notes.Add(new Diagnostic(Severity.Note, loc, message.Replace("\n", "\\n")));
        return this;
    }

    public override string ToString()
    {
        var text = $"{Location}: {SeverityName(Severity)}: {Message}";
        foreach (var n in Notes) text += "\n" + n;
        return text;
    }

    public static string SeverityName(Severity s) => s switch
    {
        Severity.Error => "error",
        Severity.Warning => "warning",
        Severity.Remark => "remark",
        _ => "note",
    };
}

/// <summary>
/// Collects diagnostics. Passes, the parser and the verifier report here instead
/// of throwing; a tool prints them and exits 1 when <see cref="HasErrors"/>.
/// </summary>
public sealed class DiagnosticEngine
{
    private readonly List<Diagnostic> _all = new();

    public IReadOnlyList<Diagnostic> All => _all;
    public int ErrorCount { get; private set; }
    public bool HasErrors => ErrorCount > 0;

    public Diagnostic Emit(Severity severity, Location loc, string message)
    {
        var d = new Diagnostic(severity, loc, OneLine(message));
        _all.Add(d);
        if (severity == Severity.Error) ErrorCount++;
        return d;
    }

    /// <summary>A diagnostic is one line: control characters (from escaped names) are shown escaped.</summary>
    private static string OneLine(string message)
    {
        if (!message.Any(char.IsControl)) return message;
        var sb = new System.Text.StringBuilder(message.Length + 8);
        foreach (var c in message)
        {
            if (c == '\n') sb.Append("\\n");
            else if (c == '\t') sb.Append("\\t");
            else if (char.IsControl(c)) sb.Append("\\").Append(((int)c).ToString("X2"));
            else sb.Append(c);
        }
        return sb.ToString();
    }

    public Diagnostic Error(Location loc, string message) => Emit(Severity.Error, loc, message);
    public Diagnostic Warning(Location loc, string message) => Emit(Severity.Warning, loc, message);
    public Diagnostic Remark(Location loc, string message) => Emit(Severity.Remark, loc, message);

    public void Clear()
    {
        _all.Clear();
        ErrorCount = 0;
    }
}

/// <summary>Thrown to abandon work after an error has already been reported to a <see cref="DiagnosticEngine"/>.</summary>
public sealed class ReportedErrorException : Exception
{
    public ReportedErrorException() : base("an error was reported") { }
}
