namespace AutoSpIR.Tools;

/// <summary>
/// LLVM-style command-line flags for the AutoSpIR tools: <c>-o FILE</c>, <c>--flag</c>,
/// <c>--flag=value</c>, <c>--flag value</c>, <c>--flag=false</c>; the rest are positional.
/// Unknown flags are errors, reported with the tool's name.
/// </summary>
public sealed class CommandLine
{
    private readonly Dictionary<string, Option> _options = new();
    private readonly List<Option> _ordered = new();

    public CommandLine(string tool, string usage)
    {
        Tool = tool;
        Usage = usage;
        Flag("help", "print this help", "h");
    }

    public string Tool { get; }
    public string Usage { get; }
    public List<string> Positional { get; } = new();

    private sealed record Option(string Name, string Help, bool TakesValue, string? Default, string? Short)
    {
        public string? Value { get; set; }
        public bool Seen { get; set; }
    }

    /// <summary>A boolean flag: <c>--name</c>, <c>--name=false</c>.</summary>
    public void Flag(string name, string help, string? shortName = null, bool defaultValue = false) =>
        Add(new Option(name, help, false, defaultValue ? "true" : "false", shortName));

    /// <summary>An option with a value: <c>--name=v</c> or <c>--name v</c>.</summary>
    public void Value(string name, string help, string? shortName = null, string? defaultValue = null) =>
        Add(new Option(name, help, true, defaultValue, shortName));

    private void Add(Option o)
    {
        _options[o.Name] = o;
        if (o.Short is not null) _options[o.Short] = o;
        _ordered.Add(o);
    }

    /// <summary>Parses <paramref name="args"/>; on failure returns false with a message in <paramref name="error"/>.</summary>
    public bool Parse(string[] args, out string? error)
    {
        error = null;
        for (int i = 0; i < args.Length; i++)
        {
            var a = args[i];
            if (a == "-" || !a.StartsWith('-'))
            {
                Positional.Add(a);
                continue;
            }
            if (a == "--")
            {
                Positional.AddRange(args[(i + 1)..]);
                break;
            }
            var body = a.TrimStart('-');
            string? inline = null;
            int eq = body.IndexOf('=');
            if (eq >= 0)
            {
                inline = body[(eq + 1)..];
                body = body[..eq];
            }
            if (!_options.TryGetValue(body, out var opt))
            {
                error = $"{Tool}: unknown option '{a}' (see {Tool} --help)";
                return false;
            }
            opt.Seen = true;
            if (opt.TakesValue)
            {
                if (inline is null)
                {
                    if (i + 1 >= args.Length)
                    {
                        error = $"{Tool}: option '{a}' needs a value";
                        return false;
                    }
                    inline = args[++i];
                }
                opt.Value = inline;
            }
            else
            {
                inline ??= "true";
                if (inline is not ("true" or "false" or "1" or "0"))
                {
                    error = $"{Tool}: option '--{opt.Name}' takes true or false, not '{inline}'";
                    return false;
                }
                opt.Value = inline is "true" or "1" ? "true" : "false";
            }
        }
        return true;
    }

    /// <summary>
    /// Parses <paramref name="args"/> and handles what every tool does the same way: a bad flag
    /// prints its error (exit 1), --help prints the help (exit 0). Returns true when the tool
    /// should go on; otherwise <paramref name="exitCode"/> is what it should return.
    /// </summary>
    public bool ParseOrExit(string[] args, out int exitCode)
    {
        exitCode = 0;
        if (!Parse(args, out var error))
        {
            Console.Error.WriteLine(error);
            exitCode = 1;
            return false;
        }
        if (!GetFlag("help")) return true;
        Console.Write(HelpText());
        return false;
    }

    public bool Has(string name) => _options[name].Seen;
    public bool GetFlag(string name) => (_options[name].Value ?? _options[name].Default) == "true";
    public string? Get(string name) => _options[name].Value ?? _options[name].Default;

    public string HelpText()
    {
        var lines = new List<string> { $"USAGE: {Usage}", "", "OPTIONS:" };
        foreach (var o in _ordered)
        {
            var names = (o.Short is not null ? $"-{o.Short}, " : "    ") + $"--{o.Name}" + (o.TakesValue ? "=<value>" : "");
            var def = o.TakesValue && o.Default is not null ? $" (default: {o.Default})" : !o.TakesValue && o.Default == "true" ? " (default: on)" : "";
            lines.Add($"  {names,-32} {o.Help}{def}");
        }
        return string.Join('\n', lines) + "\n";
    }
}
