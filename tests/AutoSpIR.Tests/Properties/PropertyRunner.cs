using System.Diagnostics;
using FsCheck;
using FsCheck.Fluent;
using Microsoft.FSharp.Core;
using Xunit.Abstractions;

namespace AutoSpIR.Tests.Properties;

/// <summary>
/// Runs an FsCheck property from an xunit [Fact] with an explicit, reproducible
/// configuration: a fixed seed per property (override every seed at once with the
/// environment variable ASPIR_PROPERTY_SEED to explore), a fixed number of cases,
/// and an exception on failure that names the seed and the shrunk counterexample.
/// </summary>
public static class PropertyRunner
{
    public const string SeedVariable = "ASPIR_PROPERTY_SEED";

    /// <summary>The seed to use: the environment's when set, else <paramref name="fixedSeed"/>.</summary>
    public static ulong SeedOr(ulong fixedSeed) =>
        ulong.TryParse(Environment.GetEnvironmentVariable(SeedVariable), out var s) ? s : fixedSeed;

    public static Config ConfigFor(int maxTest, ulong seed, string name) =>
        Config.QuickThrowOnFailure
            .WithMaxTest(maxTest)
            .WithMaxRejected(maxTest * 10)
            .WithQuietOnSuccess(true)
            .WithName(name)
            .WithReplay(FSharpOption<Replay>.Some(new Replay(new Rnd(seed), FSharpOption<int>.None)));

    /// <summary>
    /// Checks that <paramref name="property"/> does not throw for <paramref name="maxTest"/> values of
    /// <paramref name="arb"/>. On failure the exception message holds FsCheck's report (the shrunk value
    /// and the replay seed) and the seed to set in <see cref="SeedVariable"/>.
    /// </summary>
    public static void ForAll<T>(ITestOutputHelper output, string name, Arbitrary<T> arb, int maxTest, ulong fixedSeed, Action<T> property)
    {
        ulong seed = SeedOr(fixedSeed);
        var sw = Stopwatch.StartNew();
        int runs = 0;
        try
        {
            Check.One(ConfigFor(maxTest, seed, name), Prop.ForAll(arb, (T value) =>
            {
                runs++;
                property(value);
            }));
        }
        catch (Exception e)
        {
            output.WriteLine($"{name}: FAILED after {sw.Elapsed.TotalSeconds:F1}s (seed {seed}; rerun with {SeedVariable}={seed})");
            throw new PropertyFailedException($"property '{name}' failed with seed {seed} ({SeedVariable}={seed}):\n{e.Message}", e);
        }
        output.WriteLine($"{name}: {runs} cases passed in {sw.Elapsed.TotalSeconds:F1}s (seed {seed})");
    }
}

public sealed class PropertyFailedException(string message, Exception inner) : Exception(message, inner);

/// <summary>Small text helpers for failure messages.</summary>
public static class TextDiff
{
    /// <summary>Where two texts first differ, with a few lines of context from each.</summary>
    public static string FirstDifference(string expected, string actual)
    {
        var a = expected.Split('\n');
        var b = actual.Split('\n');
        int i = 0;
        while (i < a.Length && i < b.Length && a[i] == b[i]) i++;
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"first difference at line {i + 1}:");
        for (int k = Math.Max(0, i - 2); k < Math.Min(a.Length, i + 3); k++) sb.AppendLine($"  expected {k + 1,4}: {a[k]}");
        for (int k = Math.Max(0, i - 2); k < Math.Min(b.Length, i + 3); k++) sb.AppendLine($"  actual   {k + 1,4}: {b[k]}");
        return sb.ToString();
    }

    public static string Clip(string s, int max = 6000) => s.Length <= max ? s : s[..max] + $"\n... ({s.Length - max} more characters)";
}
