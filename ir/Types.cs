using System.Text;

namespace AutoSpIR.IR;

/// <summary>
/// An IR type. Types are immutable and interned by <see cref="Context"/>, so two
/// types are equal exactly when they are the same object (<c>==</c> is cheap).
/// Create them through the Context, never with <c>new</c> from outside this file.
/// </summary>
public abstract class Type
{
    public abstract void Print(StringBuilder sb);

    public override string ToString()
    {
        var sb = new StringBuilder();
        Print(sb);
        return sb.ToString();
    }
}

public enum ScalarKind { F64, F32, BF16, F16, I64, I32, I8, I1, Index }

/// <summary>A scalar element type: f64 f32 bf16 f16 i64 i32 i8 i1 index.</summary>
public sealed class ScalarType : Type
{
    internal ScalarType(ScalarKind kind, string name, int bits)
    {
        Kind = kind;
        Name = name;
        BitWidth = bits;
    }

    public ScalarKind Kind { get; }
    public string Name { get; }
    public int BitWidth { get; }

    /// <summary>Storage bytes of one element (i1 is stored in a byte).</summary>
    public int ByteWidth => Math.Max(1, BitWidth / 8);
    public bool IsFloat => Kind is ScalarKind.F64 or ScalarKind.F32 or ScalarKind.BF16 or ScalarKind.F16;
    public bool IsInteger => !IsFloat;

    public override void Print(StringBuilder sb) => sb.Append(Name);
}

/// <summary>
/// <c>tensor&lt;1x?x64xbf16&gt;</c>, <c>tensor&lt;f32&gt;</c> (rank 0), with an optional
/// encoding attribute (sharding, in the dist dialect). A dynamic size is <see cref="Dynamic"/>.
/// </summary>
public sealed class TensorType : Type
{
    public const long Dynamic = -1;

    internal TensorType(long[] shape, ScalarType element, Attribute? encoding)
    {
        _shape = shape;
        Element = element;
        Encoding = encoding;
    }

    private readonly long[] _shape;

    public ReadOnlySpan<long> Shape => _shape;
    internal long[] ShapeArray => _shape;
    public int Rank => _shape.Length;
    public ScalarType Element { get; }
    public Attribute? Encoding { get; }

    public long Dim(int i) => _shape[i];
    public bool IsStatic => Array.IndexOf(_shape, Dynamic) < 0;

    /// <summary>Number of elements; -1 when a size is dynamic.</summary>
    public long NumElements
    {
        get
        {
            long n = 1;
            foreach (var d in _shape)
            {
                if (d == Dynamic) return -1;
                n *= d;
            }
            return n;
        }
    }

    /// <summary>Bytes of the whole tensor; -1 when a size is dynamic.</summary>
    public long ByteSize => NumElements < 0 ? -1 : NumElements * Element.ByteWidth;

    public override void Print(StringBuilder sb)
    {
        sb.Append("tensor<");
        foreach (var d in _shape)
        {
            if (d == Dynamic) sb.Append('?'); else sb.Append(d);
            sb.Append('x');
        }
        Element.Print(sb);
        if (Encoding is not null)
        {
            sb.Append(", ");
            Encoding.Print(sb);
        }
        sb.Append('>');
    }

    /// <summary>The shape as text, <c>1x?x64</c>, for diagnostics.</summary>
    public string ShapeString => _shape.Length == 0 ? "scalar" : string.Join("x", _shape.ToArray().Select(d => d == Dynamic ? "?" : d.ToString()));
}

/// <summary><c>(T, T) -> (T)</c>: the type of a function.</summary>
public sealed class FunctionType : Type
{
    internal FunctionType(Type[] inputs, Type[] results)
    {
        Inputs = inputs;
        Results = results;
    }

    public IReadOnlyList<Type> Inputs { get; }
    public IReadOnlyList<Type> Results { get; }

    public override void Print(StringBuilder sb)
    {
        sb.Append('(');
        for (int i = 0; i < Inputs.Count; i++)
        {
            if (i > 0) sb.Append(", ");
            Inputs[i].Print(sb);
        }
        sb.Append(") -> ");
        PrintResults(sb, Results);
    }

    /// <summary>One non-function result prints bare, any other count in parentheses.</summary>
    public static void PrintResults(StringBuilder sb, IReadOnlyList<Type> results)
    {
        if (results.Count == 1 && results[0] is not FunctionType)
        {
            results[0].Print(sb);
            return;
        }
        sb.Append('(');
        for (int i = 0; i < results.Count; i++)
        {
            if (i > 0) sb.Append(", ");
            results[i].Print(sb);
        }
        sb.Append(')');
    }
}

/// <summary><c>!dialect.name&lt;body&gt;</c>: a type of a dialect kept as its text.</summary>
public sealed class OpaqueType : Type
{
    internal OpaqueType(string dialectName, string body)
    {
        Name = dialectName;
        Body = body;
    }

    /// <summary>The name after '!', e.g. <c>dist.token</c>.</summary>
    public string Name { get; }
    /// <summary>The text between the angle brackets including them, or empty.</summary>
    public string Body { get; }

    public override void Print(StringBuilder sb) => sb.Append('!').Append(Name).Append(Body);
}
