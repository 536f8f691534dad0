using AutoSpIR.Lowering.Loops.Tensor;

namespace AutoSpIR.Lowering.Loops;

/// <summary>The one table from tensor op names to their loop lowerings: one file per op family in <c>Tensor/</c>.</summary>
public static class TensorLowerings
{
    private static readonly Dictionary<string, OpLowering> s_table = Build();

    public static OpLowering? Find(string opName) => s_table.GetValueOrDefault(opName);

    /// <summary>Every tensor op that has a loop lowering.</summary>
    public static IEnumerable<string> Ops => s_table.Keys.Order(StringComparer.Ordinal);

    private static Dictionary<string, OpLowering> Build()
    {
        var table = new Dictionary<string, OpLowering>(StringComparer.Ordinal);
        foreach (var family in new[] { ElementwiseLowering.Rules, MatmulLowering.Rules, ShapeLowering.Rules, ReduceLowering.Rules,
                     NormLowering.Rules, AttentionLowering.Rules, EmbeddingLowering.Rules })
            foreach (var (name, lower) in family)
                if (!table.TryAdd(name, lower)) throw new InvalidOperationException($"two loop lowerings for '{name}'");
        return table;
    }
}
