using System.Globalization;

namespace AutoSpIR.Passes;

/// <summary>What a pass sees besides the IR: the context, where errors go, and where reports are written.</summary>
public sealed class PassContext
{
    public PassContext(Context ctx, DiagnosticEngine diagnostics, TextWriter report)
    {
        Context = ctx;
        Diagnostics = diagnostics;
        Report = report;
    }

    public Context Context { get; }
    public DiagnosticEngine Diagnostics { get; }
    /// <summary>Analysis output (cost-report and friends); standard error in autosp-opt.</summary>
    public TextWriter Report { get; }
}

/// <summary>
/// A transformation or analysis over one op (the module, or each function in a
/// <c>func.func(...)</c> nest). It reports failures to the diagnostics and returns
/// false; it never throws for bad input.
/// </summary>
public abstract class Pass
{
    /// <summary>The name the pipeline uses (<c>canonicalize</c>).</summary>
    public abstract string Name { get; }

    public abstract bool Run(Operation op, PassContext pc);
}

/// <summary>A command-line option of a pass: <c>-p "canonicalize{max-iterations=4}"</c>.</summary>
public sealed record PassOption(string Name, string Kind, string Default, string Doc)
{
    /// <summary>Checks a value against the option's kind; returns an error message or null.</summary>
    public string? Validate(string value) => Kind switch
    {
        "int" => long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _) ? null : "expected an integer",
        "bool" => value is "true" or "false" or "1" or "0" ? null : "expected true or false",
        _ => null,
    };
}

/// <summary>The options a pass was given, with their declared defaults filled in.</summary>
public sealed class PassOptions(IReadOnlyDictionary<string, string> values)
{
    public string Get(string name) => values[name];
    public long GetInt(string name) => long.Parse(values[name], CultureInfo.InvariantCulture);
    public bool GetBool(string name) => values[name] is "true" or "1";
}

/// <summary>A registered pass: its pipeline name, one-line summary, options and factory.</summary>
public sealed record PassInfo(string Name, string Summary, PassOption[] Options, Func<PassOptions, Pass> Create);
