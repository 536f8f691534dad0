using System.Text;
using System.Text.RegularExpressions;

namespace AutoSpIR.Tests;

/// <summary>
/// Runs every tests/lit/**/*.aspir file the way LLVM's lit does: each <c>// RUN:</c>
/// line (a trailing '\' continues it) runs in bash with <c>%s</c> the file, <c>%t</c> a
/// scratch path, and <c>autosp-opt</c>, <c>autosp-gen</c>, <c>autosp-translate</c>, <c>FileCheck</c>, <c>not</c> and
/// <c>ptxas</c> the real tools (LLVM 16's FileCheck and not; ptxas where bin/setup unpacks it). A file passes when every RUN line exits 0.
/// </summary>
public partial class LitTests
{
    public static IEnumerable<object[]> Files() =>
        Directory.EnumerateFiles(Repo.PathOf("tests", "lit"), "*.aspir", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(Repo.PathOf("tests", "lit"), f))
            .OrderBy(f => f, StringComparer.Ordinal)
            .Select(f => new object[] { f });

    [Theory]
    [MemberData(nameof(Files))]
    public void Lit(string relativePath)
    {
        var file = Repo.PathOf("tests", "lit", relativePath);
        var runLines = RunLines(File.ReadAllText(file));
        Assert.True(runLines.Count > 0, $"{relativePath} has no RUN line");
        var scratch = Directory.CreateTempSubdirectory("aspir-lit-");
        try
        {
            foreach (var line in runLines)
            {
                var command = Substitute(line, file, Path.Combine(scratch.FullName, "t"));
                var (code, stdout, stderr) = Repo.Bash(command, scratch.FullName, TimeSpan.FromSeconds(120));
                Assert.True(code == 0,
                    $"RUN line failed (exit {code}) in {relativePath}:\n  {line}\n--- command\n{command}\n--- stdout\n{Tail(stdout)}\n--- stderr\n{Tail(stderr)}");
            }
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    /// <summary>The RUN commands of a file, with '\' continuations joined.</summary>
    public static List<string> RunLines(string text)
    {
        var result = new List<string>();
        var current = new StringBuilder();
        foreach (var raw in text.Split('\n'))
        {
            var m = RunRegex().Match(raw);
            if (!m.Success) continue;
            var body = m.Groups[1].Value.TrimEnd();
            if (body.EndsWith('\\'))
            {
                current.Append(body[..^1]).Append(' ');
                continue;
            }
            current.Append(body);
            result.Add(current.ToString().Trim());
            current.Clear();
        }
        return result;
    }

    private static string Substitute(string line, string file, string scratch)
    {
        line = ToolRegex("autosp-opt").Replace(line, $"dotnet '{Repo.AutospOptDll}'");
        line = ToolRegex("autosp-gen").Replace(line, $"dotnet '{Repo.AutospGenDll}'");
        line = ToolRegex("autosp-translate").Replace(line, $"dotnet '{Repo.ToolDll("autosp-translate")}'");
        line = ToolRegex("ptxas").Replace(line, $"'{Repo.Ptxas}'");
        line = ToolRegex("FileCheck").Replace(line, $"{Repo.LlvmBin}/FileCheck");
        line = ToolRegex("not").Replace(line, $"{Repo.LlvmBin}/not");
        return line.Replace("%models", $"'{Repo.ModelsDir}'").Replace("%s", $"'{file}'").Replace("%t", $"'{scratch}'");
    }

    private static Regex ToolRegex(string name) => new($@"(?<![\w/.%'-]){Regex.Escape(name)}(?![\w/.-])");

    private static string Tail(string s) => s.Length > 4000 ? "..." + s[^4000..] : s;

    [GeneratedRegex(@"//\s*RUN:(.*)$")]
    private static partial Regex RunRegex();
}
