using System.Diagnostics;
using System.Globalization;

namespace AutoSpIR.Runtime.Native;

/// <summary>
/// Where a profiled native program spends its time: the seconds between consecutive profile points, charged to the
/// source op (location) whose loops start at the first of them, summed over runs (and ranks). Thread-safe.
/// </summary>
public sealed class NativeProfile
{
    private readonly Dictionary<(Location At, string Op), double> _seconds = new();
    private int _runs;

    public void Add(IReadOnlyList<Location> points, IReadOnlyDictionary<Location, string> opNames, IReadOnlyList<(long Point, long Ticks)> stamps)
    {
        lock (_seconds)
        {
            _runs++;
            for (int i = 0; i + 1 < stamps.Count; i++)
            {
                var at = points[(int)stamps[i].Point];
                var key = (at, opNames.TryGetValue(at, out var n) ? n : "?");
                _seconds[key] = _seconds.GetValueOrDefault(key) + (stamps[i + 1].Ticks - stamps[i].Ticks) / (double)Stopwatch.Frequency;
            }
        }
    }

    /// <summary>Seconds per op name, largest first.</summary>
    public IReadOnlyList<(string Op, double Seconds, int Count)> ByOp()
    {
        lock (_seconds)
            return _seconds.GroupBy(e => e.Key.Op).Select(g => (g.Key, g.Sum(e => e.Value), g.Count()))
                .OrderByDescending(e => e.Item2).ToList();
    }

    /// <summary>Prints the time per op name and the <paramref name="top"/> costliest op instances, averaged per run.</summary>
    public void Report(TextWriter w, int top = 10)
    {
        List<KeyValuePair<(Location At, string Op), double>> entries;
        int runs;
        lock (_seconds) (entries, runs) = (_seconds.ToList(), Math.Max(1, _runs));
        double total = entries.Sum(e => e.Value);
        w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"native profile: {total / runs * 1e3:F1} ms per run ({runs} run{(runs == 1 ? "" : "s")})"));
        foreach (var (op, seconds, count) in ByOp())
            w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {op,-28} {seconds / runs * 1e3,10:F1} ms {100 * seconds / Math.Max(total, 1e-300),6:F1}%  ({count} op{(count == 1 ? "" : "s")})"));
        w.WriteLine("  costliest ops:");
        foreach (var e in entries.OrderByDescending(e => e.Value).Take(top))
            w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {e.Key.At}: {e.Key.Op} {e.Value / runs * 1e3:F1} ms"));
    }
}
