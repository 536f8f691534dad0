namespace AutoSpIR.Runtime;

/// <summary>
/// Executes one op on host tensors: the inputs are the op's operands (in order), the
/// result tensors must have exactly the op's result types.
/// </summary>
public delegate HostTensor[] Kernel(KernelContext k);

/// <summary>What a kernel sees: the op (for attributes and result types) and its input values.</summary>
public sealed class KernelContext(Operation op, HostTensor[] inputs)
{
    public Operation Op { get; } = op;
    public HostTensor[] Inputs { get; } = inputs;
    public HostTensor Input(int i) => Inputs[i];
    public TensorType ResultType(int i) => (TensorType)Op.Result(i).Type;

    /// <summary>A fresh zero tensor of result #i's type.</summary>
    public HostTensor NewResult(int i = 0) => new(ResultType(i));

    /// <summary>An error in the data (an id out of range): <c>'tensor.embedding' op ...</c> at the op's location.</summary>
    public RuntimeErrorException Error(string message) => new(Op.Location, $"'{Op.Name}' op {message}");
}
