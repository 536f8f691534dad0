using System.Reflection;

namespace AutoSpIR.Runtime;

/// <summary>A set of kernels, one file per op family under runtime/kernels/; found by reflection.</summary>
public interface IKernelSet
{
    void Register(KernelTable table);
}

/// <summary>Op name to kernel. <see cref="Default"/> holds every <see cref="IKernelSet"/> in this assembly.</summary>
public sealed class KernelTable
{
    private readonly Dictionary<string, Kernel> _kernels = new();

    public void Add(string opName, Kernel kernel)
    {
        if (!_kernels.TryAdd(opName, kernel)) throw new InvalidOperationException($"two kernels for '{opName}'");
    }

    public Kernel? Lookup(string opName) => _kernels.GetValueOrDefault(opName);
    public IReadOnlyCollection<string> OpNames => _kernels.Keys;

    public static KernelTable Default { get; } = Discover();

    private static KernelTable Discover()
    {
        var table = new KernelTable();
        foreach (var t in typeof(KernelTable).Assembly.GetTypes())
            if (typeof(IKernelSet).IsAssignableFrom(t) && t is { IsClass: true, IsAbstract: false })
                ((IKernelSet)Activator.CreateInstance(t)!).Register(table);
        return table;
    }
}
