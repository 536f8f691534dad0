namespace AutoSpIR.Lowering.Llvm;

/// <summary>An error LLVM reported (its message is in <see cref="Exception.Message"/>).</summary>
public sealed class LlvmException : Exception
{
    /// <summary>Creates the exception with LLVM's message.</summary>
    public LlvmException(string message) : base(message) { }

    /// <summary>Throws when <paramref name="err"/> is an error (consuming it); does nothing on success.</summary>
    public static void ThrowIfError(LLVMErrorRef err, string what)
    {
        var msg = LlvmApi.TakeError(err);
        if (msg is not null) throw new LlvmException($"{what}: {msg}");
    }
}
