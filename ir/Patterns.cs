namespace AutoSpIR.IR;

/// <summary>
/// A rewrite rooted at ops named <see cref="RootName"/>. <see cref="MatchAndRewrite"/> either
/// changes the IR through the rewriter and returns true, or leaves it untouched and
/// returns false. Each pattern opens with its law in a comment, e.g.
/// <c>reshape(reshape(x)) -> reshape(x)</c>.
/// </summary>
public abstract class RewritePattern
{
    protected RewritePattern(string rootName) { RootName = rootName; }

    public string RootName { get; }

    public abstract bool MatchAndRewrite(Operation op, Rewriter rewriter);
}

/// <summary>A pattern written as a lambda, for small rewrites declared next to their op.</summary>
public sealed class LambdaPattern(string rootName, Func<Operation, Rewriter, bool> rewrite) : RewritePattern(rootName)
{
    public override bool MatchAndRewrite(Operation op, Rewriter rewriter) => rewrite(op, rewriter);
}
