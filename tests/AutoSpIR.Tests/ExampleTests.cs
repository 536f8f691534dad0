namespace AutoSpIR.Tests;

/// <summary>The examples a newcomer runs first do run, and their checks pass.</summary>
public class ExampleTests
{
    [Theory]
    [InlineData("examples/tiny-llama/run.sh")]   // one device, against PyTorch
    [InlineData("examples/spmd/run.sh")]         // hand-written Ulysses attention on 4 ranks, against one device
    [InlineData("examples/autosp/run.sh")]       // autosp{sp=4} of the tiny Llama on 4 ranks, against one device and PyTorch
    [InlineData("examples/memory/run.sh")]       // memory-plan of the tiny Llama, run planned on 1 and 4 ranks, against PyTorch
    [InlineData("examples/native/run.sh")]       // the tiny Llama native on 1 and 4 ranks against PyTorch; PTX through ptxas, an AMDGPU code object through ld.lld
    [InlineData("examples/mpi/run.sh")]          // autosp{sp=4} on 4 MPI processes: interpreter bit-identical to threads, native within 1e-10
    [InlineData("examples/zero/run.sh")]         // one AdamW step, zero{stage=1|3} after autosp{sp=2,dp=2} on 4 ranks, against one device and torch.optim.AdamW
    public void ExampleScriptSucceeds(string script)
    {
        var dir = Directory.CreateTempSubdirectory("aspir-example-");
        try
        {
            var (code, stdout, stderr) = Repo.Bash($"'{script}' '{dir.FullName}'", Repo.Root, TimeSpan.FromMinutes(5));
            Assert.True(code == 0, $"{script} failed (exit {code}):\n{stdout}\n{stderr}");
            Assert.Contains("within --rtol", stdout);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
