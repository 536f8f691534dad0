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
        var (tokens, chunks) = Open(text, fileName, diag, lineOffset);
        var builder = new IrBuilder(ctx, diag, fileName, lineOffset);
        try
        {
            ParseItems(tokens, chunks, builder, topLevel: true);
            return builder.Finish();
        }
        catch (ReportedErrorException)
        {
            return null;
        }
    }

    private static (ReleasingTokenStream, ChunkParser) Open(string text, string fileName, DiagnosticEngine diag, int lineOffset)
    {
        var lexer = new AspIRLexer(new AntlrInputStream(text));
        lexer.RemoveErrorListeners();
        var tokens = new ReleasingTokenStream(lexer);
        return (tokens, new ChunkParser(tokens, fileName, diag, lineOffset));
    }

    /// <summary>
    /// Parses the ops of a region body (or of the file) one at a time and builds each
    /// as soon as it is parsed. Modules and functions are opened and filled piecewise,
    /// so a function of a million ops never has more than one op's parse tree alive.
    /// (Building on a second thread was tried: contention made it slower on 2 cores.)
    /// </summary>
    private static void ParseItems(ReleasingTokenStream tokens, ChunkParser chunks, IrBuilder b, bool topLevel)
    {
        while (true)
        {
            int next = tokens.LA(1);
            if (next == TokenConstants.EOF) break;
            if (next == CloseBraceToken && !topLevel) break;
            if (next == AspIRLexer.KW_MODULE)
            {
                b.BeginModule(chunks.Parse(p => p.moduleHeader()));
                ParseBody(tokens, chunks, b);
                b.EndModule();
            }
            else if (next == AspIRLexer.KW_FUNC)
            {
                var header = chunks.Parse(p => p.funcHeader());
                bool hasBody = tokens.LA(1) == OpenBraceToken;
                b.BeginFunc(header, hasBody);
                if (hasBody)
                {
                    ParseBody(tokens, chunks, b);
                    b.EndFunc();
                }
            }
            else if (next == AspIRLexer.BLOCK_ID && !topLevel)
                b.StartBlock(chunks.Parse(p => p.blockLabel()));
            else
            {
                var op = chunks.Parse(p => p.operation());
                // An op ends where the next item starts; anything else is a syntax error
                // here, before the op is built (it may have stopped early at the bad token).
                if (!CanStartItem(tokens.LA(1))) chunks.ReportUnexpected(tokens.LT(1));
                b.AddOp(op);
            }
            tokens.ReleaseBefore(tokens.Index - 1);
        }
    }

    private static void ParseBody(ReleasingTokenStream tokens, ChunkParser chunks, IrBuilder b)
    {
        chunks.Parse(p => p.openBrace());
        ParseItems(tokens, chunks, b, topLevel: false);
        chunks.Parse(p => p.closeBrace());
    }

    /// <summary>Parses and verifies; null when either step reported an error.</summary>
    public static Operation? ParseAndVerify(string text, string fileName, Context ctx, DiagnosticEngine diag, int lineOffset = 0)
    {
        var module = Parse(text, fileName, ctx, diag, lineOffset);
        if (module is null) return null;
        return Verifier.Verify(module, diag) ? module : null;
    }

    private static bool CanStartItem(int token) =>
        token is TokenConstants.EOF or AspIRLexer.VALUE_ID or AspIRLexer.STRING or AspIRLexer.BARE_ID or AspIRLexer.KW_MODULE
            or AspIRLexer.KW_FUNC or AspIRLexer.KW_RETURN or AspIRLexer.KW_CALL or AspIRLexer.BLOCK_ID
        || token == CloseBraceToken || token == OpenBraceToken;

    private static readonly int OpenBraceToken = FindLiteral("'{'");
    private static readonly int CloseBraceToken = FindLiteral("'}'");

    private static int FindLiteral(string literal)
    {
        var vocab = AspIRLexer.DefaultVocabulary;
        for (int t = 1; t <= AspIRLexer.ERROR_CHAR; t++)
            if (vocab.GetLiteralName(t) == literal) return t;
        throw new InvalidOperationException($"the grammar has no token {literal}");
    }

    /// <summary>
    /// Runs one grammar rule at the stream's position: SLL with bail-out first, and on
    /// failure a fresh LL parser from the same position that reports the first error.
    /// </summary>
    private sealed class ChunkParser(ReleasingTokenStream tokens, string fileName, DiagnosticEngine diag, int lineOffset)
    {
        private AspIRParser? _sll;

        public T Parse<T>(Func<AspIRParser, T> rule)
        {
            int start = tokens.Index;
            _sll ??= NewParser(PredictionMode.SLL, new BailErrorStrategy());
            try
            {
                return rule(_sll);
            }
            catch (ParseCanceledException)
            {
                _sll = null;   // its state is undefined after a bail-out
            }
            tokens.Seek(start);
            var ll = NewParser(PredictionMode.LL, null);
            ll.ErrorHandler = new StopAtFirstError(new FirstErrorReporter(fileName, lineOffset, diag, ll.Vocabulary));
            return rule(ll);
        }

        /// <summary>Reports <paramref name="token"/> as unexpected where an operation should start.</summary>
        public void ReportUnexpected(IToken token)
        {
            var p = NewParser(PredictionMode.LL, null);
            new FirstErrorReporter(fileName, lineOffset, diag, p.Vocabulary).Report(p, token, null, "an operation");
            throw new ReportedErrorException();
        }

        private AspIRParser NewParser(PredictionMode mode, IAntlrErrorStrategy? strategy)
        {
            // No parse tree: the builder reads the labeled fields of each rule context.
            var p = new AspIRParser(tokens) { BuildParseTree = false };
            p.RemoveErrorListeners();
            p.Interpreter.PredictionMode = mode;
            if (strategy is not null) p.ErrorHandler = strategy;
            return p;
        }
    }

    /// <summary>A token stream that can forget tokens the parser will not look at again.</summary>
    private sealed class ReleasingTokenStream(ITokenSource source) : CommonTokenStream(source)
    {
        private int _released;

        public void ReleaseBefore(int index)
        {
            for (int i = _released; i < index; i++) tokens[i] = null!;
            _released = Math.Max(_released, index);
        }
    }

    /// <summary>Turns ANTLR's view of a syntax error into an MLIR-style message.</summary>
    private sealed class FirstErrorReporter(string file, int lineOffset, DiagnosticEngine diag, IVocabulary vocab)
    {
        public void Report(Parser parser, IToken offending, IntervalSet? expected, string? expectedText = null)
        {
            var loc = new Location(file, offending.Line + lineOffset, offending.Column + 1);
            if (offending.Type == TokenConstants.EOF && ((ITokenStream)parser.InputStream).LT(-1) is { } last && last.Type != TokenConstants.EOF)
            {
                // Point just past the last token: that is where something is missing.
                var text = last.Text ?? "";
                loc = text.Contains('\n') ? new Location(file, last.Line + lineOffset, last.Column + 1)
                                          : new Location(file, last.Line + lineOffset, last.Column + 1 + text.Length);
            }
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
                if (expectedText is not null) message += ", expected " + expectedText;
                else if (names.Count is > 0 and <= 8) message += ", expected " + JoinOr(names);
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
            AspIRLexer.TENSOR_TYPE => "a tensor type",
            AspIRLexer.ARROW => "'->'",
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
