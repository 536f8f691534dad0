using Antlr4.Runtime;
using Antlr4.Runtime.Atn;
using Antlr4.Runtime.Misc;
using AutoSpIR.Grammar.Generated;
using AutoSpIR.IR;

namespace AutoSpIR.Grammar;

/// <summary>
/// Parses .aspir text into a module. Parsing runs ANTLR in SLL mode and falls
/// back to full LL only when SLL fails (the standard two-stage strategy); the
/// first syntax error ends the parse with a located diagnostic, so malformed
/// input can neither cascade into noise nor loop.
/// </summary>
public static class AspIRParserDriver
{
    /// <summary>
    /// Parses <paramref name="text"/>. Returns the module (top-level ops are wrapped in one
    /// when the text is not a single module), or null after reporting errors to <paramref name="diag"/>.
    /// <paramref name="lineOffset"/> shifts reported lines (for chunks of a split file).
    /// </summary>
    public static Operation? Parse(string text, string fileName, Context ctx, DiagnosticEngine diag, int lineOffset = 0)
    {
        try
        {
            var tree = ParseTree(text, fileName, diag, lineOffset);
            if (tree is null) return null;
            return new IrBuilder(ctx, diag, fileName, lineOffset).BuildFile(tree);
        }
        catch (ReportedErrorException)
        {
            return null;
        }
    }

    /// <summary>Parses and verifies; null when either step reported an error.</summary>
    public static Operation? ParseAndVerify(string text, string fileName, Context ctx, DiagnosticEngine diag, int lineOffset = 0)
    {
        var module = Parse(text, fileName, ctx, diag, lineOffset);
        if (module is null) return null;
        return Verifier.Verify(module, diag) ? module : null;
    }

    private static AspIRParser.FileContext? ParseTree(string text, string fileName, DiagnosticEngine diag, int lineOffset)
    {
        var lexer = new AspIRLexer(new AntlrInputStream(text));
        lexer.RemoveErrorListeners();
        var tokens = new CommonTokenStream(lexer);
        var parser = new AspIRParser(tokens);
        parser.RemoveErrorListeners();
        parser.Interpreter.PredictionMode = PredictionMode.SLL;
        parser.ErrorHandler = new BailErrorStrategy();
        try
        {
            return parser.file();
        }
        catch (ParseCanceledException)
        {
            // SLL could not decide or the input is wrong: reparse with full LL and report the first error.
        }
        tokens.Seek(0);
        parser.Reset();
        parser.Interpreter.PredictionMode = PredictionMode.LL;
        var reporter = new FirstErrorReporter(fileName, lineOffset, diag, parser.Vocabulary);
        parser.ErrorHandler = new StopAtFirstError(reporter);
        try
        {
            return parser.file();
        }
        catch (ReportedErrorException)
        {
            return null;
        }
    }

    /// <summary>Turns ANTLR's view of a syntax error into an MLIR-style message.</summary>
    private sealed class FirstErrorReporter(string file, int lineOffset, DiagnosticEngine diag, IVocabulary vocab)
    {
        public void Report(Parser parser, IToken offending, IntervalSet? expected)
        {
            var loc = new Location(file, offending.Line + lineOffset, offending.Column + 1);
            string found = offending.Type == TokenConstants.EOF ? "end of input" : $"'{Shorten(offending.Text)}'";
            string message;
            if (offending.Type == AspIRLexer.ERROR_CHAR && offending.Text == "\"")
                message = "unterminated string literal";
            else if (offending.Type == AspIRLexer.ERROR_CHAR)
                message = $"unexpected character {found}";
            else
            {
                message = $"unexpected {found}";
                var names = expected is null ? new List<string>() : expected.ToList().Select(Describe).Distinct().ToList();
                if (names.Count is > 0 and <= 8) message += ", expected " + JoinOr(names);
            }
            var rule = parser.Context is { } rc ? parser.RuleNames[rc.RuleIndex] : null;
            if (rule is not null && RuleDescriptions.TryGetValue(rule, out var what)) message += $" (in {what})";
            diag.Error(loc, message);
        }

        private string Describe(int tokenType) => tokenType switch
        {
            TokenConstants.EOF => "end of input",
            AspIRLexer.VALUE_ID => "an SSA value (%name)",
            AspIRLexer.BLOCK_ID => "a block label (^name)",
            AspIRLexer.SYMBOL_ID => "a symbol (@name)",
            AspIRLexer.HASH_ID => "an attribute (#name)",
            AspIRLexer.DIALECT_TYPE => "a dialect type (!name)",
            AspIRLexer.BARE_ID => "an identifier",
            AspIRLexer.STRING => "a string",
            AspIRLexer.INT => "an integer",
            AspIRLexer.FLOAT => "a number",
            AspIRLexer.SHAPE => "a shape (4x8x)",
            _ => vocab.GetLiteralName(tokenType) ?? vocab.GetDisplayName(tokenType),
        };

        private static string JoinOr(List<string> items) =>
            items.Count == 1 ? items[0] : string.Join(", ", items.Take(items.Count - 1)) + " or " + items[^1];

        private static string Shorten(string text) => text.Length > 40 ? text[..40] + "..." : text;

        private static readonly Dictionary<string, string> RuleDescriptions = new()
        {
            ["genericOperation"] = "a generic operation",
            ["customOperation"] = "an operation",
            ["funcOperation"] = "a func.func",
            ["moduleOperation"] = "a module",
            ["returnOperation"] = "a func.return",
            ["callOperation"] = "a func.call",
            ["tensorType"] = "a tensor type",
            ["functionType"] = "a function type",
            ["attrDict"] = "an attribute dictionary",
            ["attrEntry"] = "an attribute dictionary",
            ["region"] = "a region",
            ["resultList"] = "the results of an operation",
            ["denseLiteral"] = "a dense literal",
        };
    }

    /// <summary>Reports the first syntax error and abandons the parse (no recovery, so no cascade).</summary>
    private sealed class StopAtFirstError(FirstErrorReporter reporter) : DefaultErrorStrategy
    {
        public override void ReportError(Parser recognizer, RecognitionException e)
        {
            reporter.Report(recognizer, e.OffendingToken ?? recognizer.CurrentToken, e.GetExpectedTokens());
            throw new ReportedErrorException();
        }

        public override void Recover(Parser recognizer, RecognitionException e) => throw new ReportedErrorException();

        public override IToken RecoverInline(Parser recognizer)
        {
            reporter.Report(recognizer, recognizer.CurrentToken, recognizer.GetExpectedTokens());
            throw new ReportedErrorException();
        }

        public override void Sync(Parser recognizer) { }
    }
}
