using System.Globalization;
using System.Text;
using Antlr4.Runtime;
using AutoSpIR.Grammar.Generated;
using AutoSpIR.IR;
using static AutoSpIR.Grammar.Generated.AspIRParser;
using IrType = AutoSpIR.IR.Type;
using IrAttribute = AutoSpIR.IR.Attribute;

namespace AutoSpIR.Grammar;

/// <summary>Types: tensor, function, scalar and dialect types from the parse tree.</summary>
internal sealed partial class IrBuilder
{
    // ------------------------------------------------------------------ types

    private readonly Dictionary<string, TensorType> _tensorTokens = new();

    private IrType BuildType(TypeContext t) =>
        t.fn is { } ft ? BuildFunctionType(ft) : BuildNonFunctionType(t.plain);

    private IrType BuildNonFunctionType(NonFunctionTypeContext t)
    {
        if (t.tensorToken is { } token) return TensorFromToken(token);
        if (t.tensor is { } tt) return BuildTensorType(tt);
        if (t.scalar is { } id)
            return _ctx.LookupScalar(id.Text) ?? throw Fail(Loc(id), $"unknown type '{id.Text}'");
        var dt = t.dialect;
        var name = dt.Text[1..];
        if (!_ctx.AllowUnregisteredDialects)
            throw Fail(Loc(dt), $"unknown type '!{name}' (dialect types need --allow-unregistered-dialect)");
        return _ctx.Opaque(name, t.body is { } body ? NormalizeBody(body) : "");
    }

    /// <summary>Reads a TENSOR_TYPE token (<c>tensor&lt;4x?xf32&gt;</c>); equal texts share one lookup.</summary>
    private TensorType TensorFromToken(IToken token)
    {
        var text = token.Text;
        if (_tensorTokens.TryGetValue(text, out var cached)) return cached;
        var dims = new List<long>();
        int i = "tensor<".Length;
        while (char.IsAsciiDigit(text[i]) || text[i] == '?')
        {
            int start = i;
            while (text[i] != 'x') i++;
            var part = text.AsSpan(start, i - start);
            if (part is "?") dims.Add(TensorType.Dynamic);
            else if (!long.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var d) || d > (1L << 48))
                throw Fail(Loc(token), $"dimension size '{part}' is too large");
            else dims.Add(d);
            i++;
        }
        var elemName = text[i..^1];
        var element = _ctx.LookupScalar(elemName)
                      ?? throw Fail(new Location(_file, token.Line + _lineOffset, token.Column + 1 + i),
                          $"unknown element type '{elemName}' (expected f64, f32, bf16, f16, i64, i32, i8, i1 or index)");
        var type = _ctx.Tensor(dims.ToArray(), element);
        _tensorTokens[text] = type;
        return type;
    }

    private TensorType BuildTensorType(TensorTypeContext tt)
    {
        var elemTok = tt.elem;
        var element = _ctx.LookupScalar(elemTok.Text)
                      ?? throw Fail(Loc(elemTok), $"unknown element type '{elemTok.Text}' (expected f64, f32, bf16, f16, i64, i32, i8, i1 or index)");
        long[] shape = Array.Empty<long>();
        if (tt.shape is { } sh)
        {
            var text = sh.Text;
            var parts = text[..^1].Split('x');
            shape = new long[parts.Length];
            for (int i = 0; i < parts.Length; i++)
            {
                if (parts[i] == "?") shape[i] = TensorType.Dynamic;
                else if (!long.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out shape[i]) || shape[i] > (1L << 48))
                    throw Fail(Loc(sh), $"dimension size '{parts[i]}' is too large");
            }
        }
        IrAttribute? encoding = tt.encoding is { } enc ? BuildAttribute(enc) : null;
        return _ctx.Tensor(shape, element, encoding);
    }

    private FunctionType BuildFunctionType(FunctionTypeContext ft)
    {
        return _ctx.Function(BuildTypeList(ft.inputs), BuildResultTypes(ft.results));
    }

    private IrType[] BuildResultTypes(ResultTypesContext rt)
    {
        if (rt.single is { } single) return new[] { BuildNonFunctionType(single) };
        return BuildTypeList(rt.list);
    }

    private IrType[] BuildTypeList(TypeListContext? list)
    {
        if (list is null) return Array.Empty<IrType>();
        var items = list._types;
        var types = new IrType[items.Count];
        for (int i = 0; i < items.Count; i++) types[i] = BuildType(items[i]);
        return types;
    }

    private static IrType[] Repeat(IrType t, int n)
    {
        var a = new IrType[n];
        Array.Fill(a, t);
        return a;
    }
}
