using System.Globalization;
using System.Text;
using Antlr4.Runtime;
using AutoSpIR.Grammar.Generated;
using AutoSpIR.IR;
using static AutoSpIR.Grammar.Generated.AspIRParser;
using IrType = AutoSpIR.IR.Type;
using IrAttribute = AutoSpIR.IR.Attribute;

namespace AutoSpIR.Grammar;

/// <summary>Attributes and literals: dictionaries, dense elements, dialect attributes, numbers and strings.</summary>
internal sealed partial class IrBuilder
{
    // ------------------------------------------------------------------ attributes

    private readonly Dictionary<string, DictionaryAttr> _dictTexts = new();

    private DictionaryAttr BuildAttrDict(AttrDictContext d)
    {
        // Equal texts give equal dictionaries (types and names resolve the same way in one file).
        var text = d.Start.InputStream.GetText(new Antlr4.Runtime.Misc.Interval(d.Start.StartIndex, d.Stop.StopIndex));
        if (_dictTexts.TryGetValue(text, out var known)) return known;
        var built = BuildAttrDictUncached(d);
        if (text.Length < 256) _dictTexts[text] = built;
        return built;
    }

    private DictionaryAttr BuildAttrDictUncached(AttrDictContext d)
    {
        var entries = d._entries;
        if (entries.Count == 0) return _ctx.EmptyDictionary;
        var list = new List<KeyValuePair<string, IrAttribute>>(entries.Count);
        var seen = new HashSet<string>();
        foreach (var e in entries)
        {
            var keyTok = e.key.tok;
            var key = keyTok.Type == AspIRLexer.STRING ? UnquoteString(keyTok) : keyTok.Text;
            if (!seen.Add(key)) throw Fail(Loc(keyTok), $"duplicate key '{key}' in dictionary attribute");
            list.Add(new(key, e.value is { } a ? BuildAttribute(a) : _ctx.Unit));
        }
        return _ctx.Dictionary(list);
    }

    private IrAttribute BuildAttribute(AttributeContext a)
    {
        switch (a)
        {
            case IntAttrContext i:
            {
                var type = i.ty is { } t ? BuildType(t) : null;
                if (type is ScalarType { IsFloat: true } ft) return _ctx.Float(ParseDouble(i.value), ft);
                if (type is not null and not ScalarType { IsInteger: true })
                    throw Fail(Loc(i.ty!), $"integer literal not valid for type {type}");
                var value = ParseLong(i.value);
                var st = (ScalarType?)type ?? _ctx.I64;
                if (st.Kind == ScalarKind.I1 && value is not (0 or 1) || st.BitWidth < 64 && st.Kind != ScalarKind.Index && (value >= 1L << st.BitWidth || value < -(1L << (st.BitWidth - 1))))
                    throw Fail(Loc(i), $"integer constant {value} is out of range for {st}");
                return _ctx.Integer(value, st);
            }
            case FloatAttrContext f:
            {
                var type = f.ty is { } t ? BuildType(t) : null;
                if (type is not null and not ScalarType { IsFloat: true })
                    throw Fail(Loc(f.ty!), $"floating point literal not valid for type {type}");
                return _ctx.Float(ParseDouble(f.value), (ScalarType?)type);
            }
            case StringAttrContext s: return _ctx.String(UnquoteString(s.value));
            case TrueAttrContext: return _ctx.True;
            case FalseAttrContext: return _ctx.False;
            case UnitAttrContext: return _ctx.Unit;
            case ArrayAttrContext arr: return _ctx.Array(arr._items.Select(BuildAttribute).ToArray());
            case DictAttrContext dict: return BuildAttrDict(dict.dict);
            case SymbolAttrContext sym: return _ctx.Symbol(SymbolName(sym.sym));
            case DenseAttrContext dense:
            {
                var type = BuildType(dense.ty);
                if (type is not TensorType tt)
                    throw Fail(Loc(dense.ty), $"dense elements need a tensor type, found {type}");
                return BuildDense(dense.literal, tt, Loc(dense));
            }
            case DialectAttrContext da:
            {
                var name = da.name.Text[1..];
                var dialect = _ctx.LookupDialect(name.Split('.')[0]);
                if (!_ctx.AllowUnregisteredDialects && dialect is null)
                    throw Fail(Loc(da), $"unknown attribute '#{name}' (dialect attributes need --allow-unregistered-dialect)");
                var bodyText = da.body is { } body ? NormalizeBody(body) : "";
                if (dialect?.AttributeParser is { } parse)
                {
                    var (typed, error) = parse(_ctx, name, bodyText);
                    if (typed is null) throw Fail(Loc(da), error ?? $"invalid attribute '#{name}'");
                    return typed;
                }
                return _ctx.OpaqueAttr(name, bodyText);
            }
            case TypeAttrContext ta: return _ctx.TypeAttr(BuildType(ta.ty));
            default: throw Fail(Loc(a), "unexpected attribute");
        }
    }

    private DenseElementsAttr BuildDense(DenseLiteralContext? lit, TensorType type, Location loc)
    {
        if (!type.IsStatic) throw Fail(loc, $"dense elements need a static shape, found {type}");
        if (lit is null) throw Fail(loc, "dense literal is empty");
        var scalars = new List<DenseScalarContext>();
        if (lit.scalar is { } splat) scalars.Add(splat);
        else CollectDense(lit, 0, type, scalars);
        long n = type.NumElements;
        if (scalars.Count != 1 && scalars.Count != n)
            throw Fail(loc, $"dense literal has {scalars.Count} elements, but {type} holds {n}");
        if (type.Element.IsFloat)
        {
            var vals = new double[scalars.Count];
            for (int i = 0; i < vals.Length; i++)
            {
                var s = scalars[i].tok;
                if (s.Type is AspIRLexer.KW_TRUE or AspIRLexer.KW_FALSE)
                    throw Fail(Loc(s), $"boolean literal in a dense tensor of {type.Element}");
                vals[i] = ParseDouble(s);
            }
            return _ctx.DenseFloats(type, vals);
        }
        var ints = new long[scalars.Count];
        for (int i = 0; i < ints.Length; i++)
        {
            var s = scalars[i].tok;
            if (s.Type == AspIRLexer.FLOAT) throw Fail(Loc(s), $"floating point literal in a dense tensor of {type.Element}");
            ints[i] = s.Type == AspIRLexer.KW_TRUE ? 1 : s.Type == AspIRLexer.KW_FALSE ? 0 : ParseLong(s);
            if (type.Element.Kind == ScalarKind.I1 && ints[i] is not (0 or 1))
                throw Fail(Loc(s), $"i1 element must be true, false, 0 or 1, found {ints[i]}");
        }
        return _ctx.DenseInts(type, ints);
    }

    private void CollectDense(DenseLiteralContext lit, int dim, TensorType type, List<DenseScalarContext> output)
    {
        if (lit.scalar is { } s)
        {
            if (dim != type.Rank) throw Fail(Loc(lit), $"dense literal nests {dim} levels deep here, but {type} has rank {type.Rank}");
            output.Add(s);
            return;
        }
        if (dim >= type.Rank) throw Fail(Loc(lit), $"dense literal nests deeper than the rank {type.Rank} of {type}");
        var items = lit._items;
        if (items.Count != type.Dim(dim))
            throw Fail(Loc(lit), $"dense literal has {items.Count} elements in dimension {dim}, but {type} has {type.Dim(dim)}");
        foreach (var item in items) CollectDense(item, dim + 1, type, output);
    }

    /// <summary>
    /// Rebuilds the text of a dialect body with normalized spacing. The parser keeps no
    /// tree, so the body's source text is lexed again (it is short).
    /// </summary>
    private static string NormalizeBody(DialectBodyContext body)
    {
        var source = body.Start.InputStream.GetText(new Antlr4.Runtime.Misc.Interval(body.Start.StartIndex, body.Stop.StopIndex));
        var lexer = new AspIRLexer(new AntlrInputStream(source));
        lexer.RemoveErrorListeners();
        var sb = new StringBuilder();
        for (var t = lexer.NextToken(); t.Type != TokenConstants.EOF; t = lexer.NextToken())
        {
            var text = t.Text;
            switch (text)
            {
                case ",": sb.Append(", "); break;
                case ":": sb.Append(": "); break;
                case "=": sb.Append(" = "); break;
                case "->": sb.Append(" -> "); break;
                default:
                    if (sb.Length > 0 && NeedsSpace(sb[^1], text[0])) sb.Append(' ');
                    sb.Append(text);
                    break;
            }
        }
        return sb.ToString();
    }

    private static bool NeedsSpace(char prev, char next) =>
        (char.IsLetterOrDigit(prev) || prev is '"' or '_' or '?') && (char.IsLetterOrDigit(next) || next is '"' or '_' or '%' or '@' or '#' or '!' or '-' or '?');

    // ------------------------------------------------------------------ literals

    private long ParseLong(IToken t)
    {
        if (!long.TryParse(t.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v))
            throw Fail(Loc(t), $"integer constant '{t.Text}' is out of range");
        return v;
    }

    private static double ParseDouble(IToken t) => t.Text switch
    {
        "inf" => double.PositiveInfinity,
        "-inf" => double.NegativeInfinity,
        "nan" => double.NaN,
        _ => double.Parse(t.Text, NumberStyles.Float, CultureInfo.InvariantCulture),
    };

    private string SymbolName(IToken t) => t.Text[1] == '"' ? Unquote(t.Text[1..], t) : t.Text[1..];

    private string UnquoteString(IToken t) => Unquote(t.Text, t);

    private string Unquote(string quoted, IToken t) =>
        StringAttr.Unescape(quoted.AsSpan(1, quoted.Length - 2), out var error) ?? throw Fail(Loc(t), $"{error} in string literal");
}
