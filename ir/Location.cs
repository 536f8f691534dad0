namespace AutoSpIR.IR;

/// <summary>A position in a source file; 1-based line and column. <see cref="Unknown"/> for built IR.</summary>
public readonly record struct Location(string File, int Line, int Column)
{
    public static readonly Location Unknown = new("<unknown>", 0, 0);

    public bool IsKnown => Line > 0;

    public override string ToString() => IsKnown ? $"{File}:{Line}:{Column}" : File;
}
