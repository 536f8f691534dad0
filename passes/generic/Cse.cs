namespace AutoSpIR.Passes.Generic;

/// <summary>
/// <c>cse</c>: a pure op equal to an earlier one that dominates it (same name,
/// operands, attributes and result types; no regions) is replaced by it. Scopes follow
/// regions: an op in a nested region sees the ops of enclosing blocks unless its
/// parent is isolated from above; each block starts from its region's scope.
/// </summary>
public sealed class Cse : Pass
{
    public override string Name => "cse";

    public override bool Run(Operation op, PassContext pc)
    {
        var rewriter = new Rewriter(pc.Context);
        foreach (var region in op.Regions) CseRegion(region, new Dictionary<OpKey, Operation>(), rewriter);
        return true;
    }

    private static void CseRegion(Region region, Dictionary<OpKey, Operation> outer, Rewriter rewriter)
    {
        foreach (var block in region.Blocks)
        {
            var known = new Dictionary<OpKey, Operation>(outer);
            foreach (var op in block.Ops)
            {
                if (op.NumRegions > 0)
                {
                    var inherited = op.HasTrait(OpTraits.IsolatedFromAbove) ? new Dictionary<OpKey, Operation>() : known;
                    foreach (var r in op.Regions) CseRegion(r, inherited, rewriter);
                    continue;
                }
                if (!op.HasTrait(OpTraits.Pure) || op.NumResults == 0) continue;
                var key = new OpKey(op);
                if (known.TryGetValue(key, out var existing)) rewriter.ReplaceOp(op, existing.Results.ToArray());
                else known[key] = op;
            }
        }
    }

    /// <summary>Identity of a pure op for CSE; attributes and types are interned, so reference equality is exact.</summary>
    private readonly struct OpKey : IEquatable<OpKey>
    {
        private readonly Operation _op;
        private readonly int _hash;

        public OpKey(Operation op)
        {
            _op = op;
            var h = new HashCode();
            h.Add(op.Name);
            h.Add(op.Attributes);
            foreach (var v in op.Operands) h.Add(v);
            foreach (var t in op.ResultTypes) h.Add(t);
            _hash = h.ToHashCode();
        }

        public bool Equals(OpKey other)
        {
            var a = _op;
            var b = other._op;
            if (a.Name != b.Name || !ReferenceEquals(a.Attributes, b.Attributes)
                || a.NumOperands != b.NumOperands || a.NumResults != b.NumResults) return false;
            for (int i = 0; i < a.NumOperands; i++)
                if (!ReferenceEquals(a.Operand(i), b.Operand(i))) return false;
            for (int i = 0; i < a.NumResults; i++)
                if (!ReferenceEquals(a.Result(i).Type, b.Result(i).Type)) return false;
            return true;
        }

        public override bool Equals(object? obj) => obj is OpKey k && Equals(k);
        public override int GetHashCode() => _hash;
    }
}
