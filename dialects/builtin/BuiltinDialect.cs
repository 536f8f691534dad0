using AutoSpIR.IR;

namespace AutoSpIR.Dialects.Builtin;

/// <summary>The <c>builtin</c> dialect: <c>module</c>, the top-level container of symbols.</summary>
public static class BuiltinDialect
{
    /// <summary><c>module @name attributes {..} { ... }</c>: a symbol table with one block and no terminator.</summary>
    public static readonly OpDef Module = new()
    {
        Name = "module",
        Summary = "A top-level container of functions and other symbols.",
        NumResults = 0,
        NumRegions = 1,
        Form = CustomForm.Module,
        Traits = OpTraits.IsolatedFromAbove | OpTraits.SymbolTable | OpTraits.NoTerminator | OpTraits.Symbol,
        Attributes = new[] { new AttrSpec("sym_name", AttrKind.String, Doc: "optional module name") },
    };

    public static readonly Dialect Dialect = new("builtin", "Modules.", new[] { Module });
}
