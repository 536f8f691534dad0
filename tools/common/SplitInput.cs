using System.Text.RegularExpressions;

namespace AutoSpIR.Tools;

/// <summary>Splits a file at lines <c>// -----</c> into chunks that remember their first line.</summary>
public static partial class SplitInput
{
    public readonly record struct Chunk(string Text, int LineOffset);

    public const string Separator = "// -----";

    public static List<Chunk> Split(string text)
    {
        var chunks = new List<Chunk>();
        var lines = text.Split('\n');
        var current = new List<string>();
        int start = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            if (SeparatorLine().IsMatch(lines[i]))
            {
                chunks.Add(new Chunk(string.Join('\n', current), start));
                current.Clear();
                start = i + 1;
                continue;
            }
            current.Add(lines[i]);
        }
        chunks.Add(new Chunk(string.Join('\n', current), start));
        return chunks;
    }

    [GeneratedRegex(@"^\s*//\s*-----\s*$")]
    private static partial Regex SeparatorLine();
}
