using AutoSpIR.Lowering;
using AutoSpIR.Lowering.Llvm;
using AutoSpIR.Tests.AutoSp;
using Xunit;

namespace AutoSpIR.Tests.Lowering;

/// <summary>
/// Whole training steps (a decoder's joint forward+backward, one device and after autosp) translated for GPUs:
/// the PTX for sm_80 and sm_90 assembles with ptxas, the AMDGPU code object links with ld.lld and lists every
/// kernel, and the host launcher is valid LLVM IR that launches each kernel once and calls cuBLAS / hipBLAS.
/// No GPU runs them (there is none); the host runs the same loop program natively (NativeModelTests).
/// </summary>
public class GpuTranslationTests
{
    private static readonly DecoderCase Case =
        new(Hidden: 32, Heads: 4, KvHeads: 2, HeadDim: 8, Intermediate: 48, Layers: 2, Vocab: 64, Seq: 16, Batch: 2,
            Tied: false, QkvBias: true, Sp: 2, Dp: 1, Seed: 1);

    [Theory]
    [InlineData("sm_80", false)]
    [InlineData("sm_90", false)]
    [InlineData("sm_90", true)]
    public void TrainingStepPtxAssemblesWithPtxas(string sm, bool partitioned)
    {
        var (ptx, host, kernels) = Translate(partitioned, "nvptx64-nvidia-cuda", sm, "+ptx78", GpuTarget.Nvptx, emitObject: false);
        Assert.Contains($".target {sm}", ptx);
        foreach (var k in kernels) Assert.Contains($".entry {k}(", ptx);
        Assert.Contains("@cublasSgemm_v2(", host);
        Assert.Equal(kernels.Count, host.Split('\n').Count(l => l.Contains("call void @aspir_gpu_launch(", StringComparison.Ordinal)));
        var dir = Directory.CreateTempSubdirectory("aspir-ptx-").FullName;
        File.WriteAllText(Path.Combine(dir, "step.ptx"), ptx);
        var (code, stdout, stderr) = Repo.Bash($"'{Repo.Ptxas}' -arch={sm} step.ptx -o step.cubin", dir, TimeSpan.FromSeconds(120));
        Assert.True(code == 0, $"ptxas (bin/setup unpacks it into .deps) failed: {stdout}{stderr}");
    }

    [Theory]
    [InlineData("gfx90a", false)]
    [InlineData("gfx940", true)]
    public void TrainingStepCodeObjectLinksAndListsItsKernels(string gfx, bool partitioned)
    {
        var dir = Directory.CreateTempSubdirectory("aspir-hsaco-").FullName;
        var (_, host, kernels) = Translate(partitioned, "amdgcn-amd-amdhsa", gfx, "", GpuTarget.Amdgpu, emitObject: true, Path.Combine(dir, "step.o"));
        Assert.Contains("@hipblasSgemm(", host);
        var (code, stdout, stderr) = Repo.Bash("ld.lld-16 -shared step.o -o step.hsaco && llvm-readobj-16 --symbols step.hsaco", dir, TimeSpan.FromSeconds(120));
        Assert.True(code == 0, $"ld.lld-16 / llvm-readobj-16 (Debian lld-16, llvm-16) failed: {stdout}{stderr}");
        foreach (var k in kernels)
        {
            Assert.Contains($"Name: {k} (", stdout);
            Assert.Contains($"Name: {k}.kd (", stdout);
        }
    }

    private static (string Device, string Host, IReadOnlyList<string> Kernels) Translate(bool partitioned, string triple, string cpu, string features,
        GpuTarget target, bool emitObject, string? objectPath = null)
    {
        var module = partitioned ? AutoSpHarness.Partitioned(Case, "f32") : AutoSpHarness.Joint(Case, "f32");
        var loops = LoweringPipeline.LowerToLoops(AutoSpHarness.Step(module));
        Targets.InitializeAll();
        using var tm = TargetMachine.Create(triple, cpu, features);
        using var ctx = new LlvmContext();
        LlvmDiagnostics.Quiet(ctx);
        using var device = new LlvmModule(ctx, "device");
        using var host = new LlvmModule(ctx, "host");
        var lowered = ConvertToLlvm.TranslateGpu(loops, ctx, device, host, target);
        Assert.True(host.Verify(out var hostError), hostError);
        device.SetTarget(tm);
        Assert.True(device.Verify(out var deviceError), deviceError);
        device.Optimize(tm);
        Assert.NotEmpty(lowered.Kernels);
        if (emitObject) File.WriteAllBytes(objectPath!, tm.EmitObject(device));
        return (emitObject ? "" : tm.EmitAssembly(device), host.Print(), lowered.Kernels);
    }
}
