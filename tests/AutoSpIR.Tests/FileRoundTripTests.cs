using AutoSpIR.Dialects;
using AutoSpIR.Grammar;
using AutoSpIR.Tools;

namespace AutoSpIR.Tests;

/// <summary>
/// Every example and every valid lit input round-trips: print(parse(text)) parses back
/// to a module that prints identically, in the custom and in the generic form, and the
/// generic form read back prints the same custom form.
/// </summary>
public class FileRoundTripTests
{
    public static IEnumerable<object[]> Files() =>
        Directory.EnumerateFiles(Repo.PathOf("examples"), "*.aspir")
            .Concat(Directory.EnumerateFiles(Repo.PathOf("tests", "lit"), "*.aspir", SearchOption.AllDirectories))
            .Select(f => Path.GetRelativePath(Repo.Root, f))
            .OrderBy(f => f, StringComparer.Ordinal)
            .Select(f => new object[] { f });

    [Theory]
    [MemberData(nameof(Files))]
    public void RoundTrips(string relativePath)
    {
        var text = File.ReadAllText(Path.Combine(Repo.Root, relativePath));
        bool unregistered = text.Contains("--allow-unregistered-dialect");
        int chunksChecked = 0;
        foreach (var chunk in SplitInput.Split(text))
        {
            var first = Parse(chunk.Text, unregistered, out var diag);
            if (first is null)
            {
                // Only files that test errors may hold chunks that do not parse or verify.
                Assert.True(text.Contains("expected-error") || relativePath.Contains("invalid"),
                    $"{relativePath}: {string.Join("\n", diag.All)}");
                continue;
            }
            foreach (bool generic in new[] { false, true })
            {
                var printed = Printer.Print(first, generic);
                var second = Parse(printed, unregistered, out var diag2);
                Assert.True(second is not null, $"{relativePath}: printed IR does not parse back:\n{string.Join("\n", diag2.All)}\n{printed}");
                Assert.Equal(printed, Printer.Print(second!, generic));
                Assert.Equal(Printer.Print(first), Printer.Print(second!));
            }
            chunksChecked++;
        }
        bool testsErrors = text.Contains("expected-error") || relativePath.Contains("invalid");
        Assert.True(chunksChecked > 0 || testsErrors, $"{relativePath}: nothing was checked");
    }

    private static Operation? Parse(string text, bool unregistered, out DiagnosticEngine diag)
    {
        var ctx = AllDialects.NewContext();
        ctx.AllowUnregisteredDialects = unregistered;
        diag = new DiagnosticEngine();
        return AspIRParserDriver.ParseAndVerify(text, "roundtrip.aspir", ctx, diag);
    }
}
