namespace AutoSpIR.Passes;

/// <summary>
/// A parsed pass pipeline in MLIR's textual syntax:
/// <c>canonicalize,cse</c>, <c>canonicalize{max-iterations=3}</c>, options separated by spaces,
/// and nests anchored on an op name: <c>builtin.module(func.func(cse,canonicalize))</c>.
/// </summary>
public abstract record PipelineElement;

/// <summary>One pass with its options.</summary>
public sealed record PassElement(PassInfo Info, PassOptions Options) : PipelineElement
{
    public override string ToString() => Info.Name;
}

/// <summary>A nested pipeline run on every op named <see cref="Anchor"/> (func.func).</summary>
public sealed record NestElement(string Anchor, IReadOnlyList<PipelineElement> Elements) : PipelineElement;

public static class PassPipelineParser
{
    /// <summary>Parses <paramref name="text"/>; on failure returns null and sets <paramref name="error"/>.</summary>
    public static IReadOnlyList<PipelineElement>? Parse(string text, out string? error)
    {
        error = null;
        var p = new Cursor(text);
        try
        {
            var list = ParseList(p, closing: null);
            if (list.Count == 1 && list[0] is NestElement { Anchor: "builtin.module" or "module" } top) return top.Elements;
            return list;
        }
        catch (FormatException e)
        {
            error = e.Message;
            return null;
        }
    }

    private sealed class Cursor(string text)
    {
        public string Text = text;
        public int Pos;
        public bool AtEnd => Pos >= Text.Length;
        public char Peek => Pos < Text.Length ? Text[Pos] : '\0';
        public void SkipSpace() { while (!AtEnd && char.IsWhiteSpace(Text[Pos])) Pos++; }
        public FormatException Error(string message) => new($"invalid pass pipeline '{Text}': {message} at position {Pos + 1}");
    }

    private static List<PipelineElement> ParseList(Cursor c, char? closing)
    {
        var result = new List<PipelineElement>();
        while (true)
        {
            c.SkipSpace();
            if (c.AtEnd || (closing is { } cl && c.Peek == cl))
            {
                if (result.Count == 0 && closing is null && c.Text.Trim().Length == 0) return result;
                if (result.Count == 0) throw c.Error("expected a pass name");
                return result;
            }
            result.Add(ParseElement(c));
            c.SkipSpace();
            if (c.Peek == ',') { c.Pos++; continue; }
            if (c.AtEnd || (closing is { } cl2 && c.Peek == cl2)) return result;
            throw c.Error($"expected ',' between passes, found '{c.Peek}'");
        }
    }

    private static PipelineElement ParseElement(Cursor c)
    {
        int start = c.Pos;
        while (!c.AtEnd && (char.IsLetterOrDigit(c.Peek) || c.Peek is '-' or '_' or '.')) c.Pos++;
        var name = c.Text[start..c.Pos];
        if (name.Length == 0) throw c.Error($"expected a pass name, found '{c.Peek}'");
        c.SkipSpace();
        if (c.Peek == '(')
        {
            c.Pos++;
            if (name is not ("builtin.module" or "module" or "func.func"))
                throw c.Error($"'{name}' cannot anchor a nested pipeline (use builtin.module or func.func)");
            var inner = ParseList(c, ')');
            if (c.Peek != ')') throw c.Error("expected ')'");
            c.Pos++;
            return new NestElement(name, inner);
        }
        var info = PassRegistry.Lookup(name)
                   ?? throw new FormatException($"unknown pass '{name}' (autosp-opt --list-passes shows them all)");
        var values = info.Options.ToDictionary(o => o.Name, o => o.Default);
        if (c.Peek == '{')
        {
            c.Pos++;
            while (true)
            {
                c.SkipSpace();
                if (c.Peek == '}') { c.Pos++; break; }
                if (c.AtEnd) throw c.Error($"unterminated option list of '{name}'");
                int ks = c.Pos;
                while (!c.AtEnd && c.Peek is not ('=' or '}' or ' ' or ',')) c.Pos++;
                var key = c.Text[ks..c.Pos];
                var opt = info.Options.FirstOrDefault(o => o.Name == key)
                          ?? throw new FormatException($"unknown option '{key}' for pass '{name}'" +
                                                       (info.Options.Length == 0 ? " (it takes none)" : $" (it takes {string.Join(", ", info.Options.Select(o => o.Name))})"));
                string value = "true";
                if (c.Peek == '=')
                {
                    c.Pos++;
                    int vs = c.Pos;
                    while (!c.AtEnd && c.Peek is not ('}' or ' ' or ',')) c.Pos++;
                    value = c.Text[vs..c.Pos];
                }
                if (opt.Validate(value) is { } why)
                    throw new FormatException($"invalid value '{value}' for option '{key}' of pass '{name}': {why}");
                values[key] = value;
                c.SkipSpace();
                if (c.Peek == ',') c.Pos++;
            }
        }
        return new PassElement(info, new PassOptions(values));
    }
}
