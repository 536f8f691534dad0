namespace AutoSpIR.Tests;

/// <summary>The committed parser (grammar/generated) must be what antlr-ng makes of AspIR.g4 now.</summary>
public class GrammarTests
{
    [Fact]
    public void GeneratedParserIsUpToDate()
    {
        var fresh = Directory.CreateTempSubdirectory("aspir-regen-");
        try
        {
            var (code, stdout, stderr) = Repo.Bash($"grammar/regen.sh '{fresh.FullName}/out'", Repo.Root, TimeSpan.FromMinutes(5));
            Assert.True(code == 0, $"grammar/regen.sh failed (is npm installed? bin/setup installs it):\n{stdout}\n{stderr}");
            var committed = Repo.PathOf("grammar", "generated");
            var expected = Directory.GetFiles(committed).Select(Path.GetFileName).Order().ToArray();
            var actual = Directory.GetFiles(Path.Combine(fresh.FullName, "out")).Select(Path.GetFileName).Order().ToArray();
            Assert.Equal(expected, actual);
            foreach (var name in expected)
                Assert.True(File.ReadAllText(Path.Combine(committed, name!)) == File.ReadAllText(Path.Combine(fresh.FullName, "out", name!)),
                    $"grammar/generated/{name} is stale: run grammar/regen.sh and commit the result");
        }
        finally
        {
            fresh.Delete(recursive: true);
        }
    }
}
