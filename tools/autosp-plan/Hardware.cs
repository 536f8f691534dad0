using System.Globalization;

namespace AutoSpIR.Tools.Plan;

/// <summary>
/// A GPU the planner sizes for: its memory, dense bf16 rate, HBM and link bandwidth (the
/// reference table of ../shared/ARCHITECTURE.md; MI250X per GCD).
/// </summary>
public sealed record Gpu(string Name, long MemoryBytes, double Bf16TeraFlops, double HbmTeraBytes, double LinkGigaBytes)
{
    private const long GB = 1_000_000_000;

    public static readonly Gpu[] Known =
    {
        new("a100-80gb", 80 * GB, 312, 2.0, 600),
        new("h100", 80 * GB, 989, 3.35, 900),
        new("h200", 141 * GB, 989, 4.8, 900),
        new("mi250x", 64 * GB, 191, 1.6, 100),
    };

    public static Gpu? Lookup(string name) => Known.FirstOrDefault(g => g.Name == name);

    /// <summary>
    /// Parses a byte count: a number with an optional unit B, KB, MB, GB, TB (powers of 1000) or
    /// KiB, MiB, GiB, TiB (powers of 1024): <c>80GiB</c>, <c>512MiB</c>, <c>0</c>.
    /// </summary>
    public static bool TryParseBytes(string text, out long bytes)
    {
        bytes = 0;
        var t = text.Trim();
        int i = 0;
        while (i < t.Length && (char.IsAsciiDigit(t[i]) || t[i] == '.')) i++;
        if (i == 0 || !double.TryParse(t[..i], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var v)) return false;
        double scale = t[i..].Trim() switch
        {
            "" or "B" => 1,
            "KB" => 1e3, "MB" => 1e6, "GB" => 1e9, "TB" => 1e12,
            "KiB" => 1L << 10, "MiB" => 1L << 20, "GiB" => 1L << 30, "TiB" => 1L << 40,
            _ => -1,
        };
        if (scale < 0 || v * scale > long.MaxValue) return false;
        bytes = (long)Math.Round(v * scale);
        return true;
    }

    /// <summary>Bytes in GiB with two decimals: <c>61.25 GiB</c>.</summary>
    public static string GiB(long bytes) => (bytes / (double)(1L << 30)).ToString("0.00", CultureInfo.InvariantCulture) + " GiB";
}
