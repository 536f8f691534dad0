using AutoSpIR.Runtime.Comm;

namespace AutoSpIR.Runtime;

/// <summary>
/// Executes one op on host tensors: the inputs are the op's operands (in order), the
/// result tensors must have exactly the op's result types.
/// </summary>
public delegate HostTensor[] Kernel(KernelContext k);

/// <summary>
/// What a kernel sees: the op (for attributes and result types) and its input values; under
/// <see cref="Interpreter.RunSpmd"/> also the rank's communicator and the meshes of the program.
/// </summary>
public sealed class KernelContext(Operation op, HostTensor[] inputs, ICommunicator? communicator = null, Func<Operation, Mesh>? meshLookup = null)
{
    public Operation Op { get; } = op;
    public HostTensor[] Inputs { get; } = inputs;
    public HostTensor Input(int i) => Inputs[i];
    public TensorType ResultType(int i) => (TensorType)Op.Result(i).Type;

    /// <summary>A fresh zero tensor of result #i's type.</summary>
    public HostTensor NewResult(int i = 0) => new(ResultType(i));

    /// <summary>An error in the data (an id out of range): <c>'tensor.embedding' op ...</c> at the op's location.</summary>
    public RuntimeErrorException Error(string message) => new(Op.Location, $"'{Op.Name}' op {message}");

    /// <summary>This rank's communicator when the program runs on several ranks (<see cref="Interpreter.RunSpmd"/>), else null.</summary>
    public ICommunicator? Communicator { get; } = communicator;

    /// <summary>The communicator, or an error at the op when the program runs on a single rank.</summary>
    public ICommunicator Comm => Communicator
        ?? throw Error("communicates between ranks; run the program with Interpreter.RunSpmd, not the single-rank interpreter");

    /// <summary>Finds the mesh an op names (RunSpmd's checked cache), or null to look it up in the IR.</summary>
    public Func<Operation, Mesh>? MeshLookup { get; } = meshLookup;

    /// <summary>The <c>dist.mesh</c> the op's <c>mesh</c> attribute names (a RuntimeErrorException at the op when there is none).</summary>
    public Mesh Mesh() => MeshLookup is { } lookup ? lookup(Op) : AutoSpIR.Runtime.Comm.Mesh.Resolve(Op);
}
