using System.Text.RegularExpressions;

namespace AutoSpIR.Tools;

/// <summary>
/// MLIR's <c>--verify-diagnostics</c>: comments <c>// expected-error {{text}}</c> (also
/// <c>warning</c>, <c>remark</c>, <c>note</c>), optionally <c>@+N</c> / <c>@-N</c> for a line
/// offset, state which diagnostics a file must produce. Every produced diagnostic must
/// be expected and every expectation produced.
/// </summary>
public static partial class ExpectedDiagnostics
{
    private sealed record Expectation(Severity Severity, int Line, string Text, int CommentLine)
    {
        public bool Matched { get; set; }
    }

    /// <summary>Checks <paramref name="produced"/> against the comments in <paramref name="text"/>; returns the mismatches.</summary>
    public static List<string> Check(string text, string fileName, int lineOffset, IEnumerable<Diagnostic> produced)
    {
        var expectations = new List<Expectation>();
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            foreach (Match m in ExpectedRegex().Matches(lines[i]))
            {
                var severity = m.Groups[1].Value switch
                {
                    "error" => Severity.Error,
                    "warning" => Severity.Warning,
                    "remark" => Severity.Remark,
                    _ => Severity.Note,
                };
                int line = i + 1 + lineOffset;
                if (m.Groups[2].Success) line += int.Parse(m.Groups[2].Value);
                expectations.Add(new Expectation(severity, line, m.Groups[3].Value, i + 1 + lineOffset));
            }
        }

        var problems = new List<string>();
        foreach (var d in produced)
        {
            if (d.Severity == Severity.Note) continue;
            var e = expectations.FirstOrDefault(x => !x.Matched && x.Severity == d.Severity && x.Line == d.Location.Line && d.Message.Contains(x.Text, StringComparison.Ordinal));
            if (e is not null) e.Matched = true;
            else problems.Add($"{d.Location}: {Diagnostic.SeverityName(d.Severity)}: unexpected {Diagnostic.SeverityName(d.Severity)}: {d.Message}");
            foreach (var note in d.Notes)
            {
                var n = expectations.FirstOrDefault(x => !x.Matched && x.Severity == Severity.Note && x.Line == note.Location.Line && note.Message.Contains(x.Text, StringComparison.Ordinal));
                if (n is not null) n.Matched = true;
            }
        }
        foreach (var e in expectations.Where(x => !x.Matched))
            problems.Add($"{fileName}:{e.CommentLine}:1: error: expected {Diagnostic.SeverityName(e.Severity)} \"{e.Text}\" was not produced");
        return problems;
    }

    [GeneratedRegex(@"expected-(error|warning|remark|note)\s*(?:@([+-]\d+))?\s*\{\{(.*?)\}\}")]
    private static partial Regex ExpectedRegex();
}
