using System.Text.Json.Nodes;
using AutoSpIR.Runtime;
using Xunit.Abstractions;

namespace AutoSpIR.Tests.Oracle;

/// <summary>
/// The outside oracle: PyTorch (Debian's python3-torch, run as /usr/bin/python3) builds the
/// same Llama-family model from the same config, draws weights and a batch, and computes the
/// loss and every gradient. AutoSpIR generates the step (autosp-gen), differentiates it
/// (autosp-opt -p autodiff) and runs it (autosp-run); every tensor must match:
/// max |ours - torch| / max |torch| below 1e-6 in f64 and 1e-4 in f32.
/// <para>
/// On ranks: the same step through <c>autodiff,autosp{sp=P,dp=D}</c> and <c>autosp-run --ranks
/// D*P</c> must match PyTorch at the same tolerances, and the one-device run of the joint program
/// at 1e-9 in f64 (1e-5 in f32).
/// </para>
/// </summary>
public class OracleTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Cases() => new[]
    {
        new object[] { "tiny-llama", "f64" },
        new object[] { "tiny-llama", "f32" },
        new object[] { "gqa-8q-2kv", "f64" },
        new object[] { "gqa-8q-2kv", "f32" },
        new object[] { "mha-tied", "f64" },
        new object[] { "qwen2-bias", "f64" },
    };

    /// <summary>tiny-llama.json, or a variant of it with a different head layout or features.</summary>
    private static string Config(string name, string dir)
    {
        var baseConfig = Path.Combine(Repo.Root, "..", "shared", "models", "tiny-llama.json");
        if (name == "tiny-llama") return baseConfig;
        var json = JsonNode.Parse(File.ReadAllText(baseConfig))!.AsObject();
        switch (name)
        {
            case "gqa-8q-2kv":   // 8 query heads of 8 sharing 2 KV heads
                json["num_attention_heads"] = 8;
                json["num_key_value_heads"] = 2;
                json["head_dim"] = 8;
                break;
            case "mha-tied":     // as many KV heads as query heads, lm_head tied to the embedding
                json["num_key_value_heads"] = 4;
                json["tie_word_embeddings"] = true;
                break;
            case "qwen2-bias":   // qwen2: q/k/v projections with bias
                json["model_type"] = "qwen2";
                json["architectures"] = new JsonArray("Qwen2ForCausalLM");
                json.Remove("head_dim");
                break;
        }
        var path = Path.Combine(dir, name + ".json");
        File.WriteAllText(path, json.ToJsonString());
        return path;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LossAndGradientsMatchPyTorch(string model, string dtype) => Check(model, dtype, seq: 16, batch: 2, sp: 1, dp: 1);

    /// <summary>
    /// The same models through <c>autodiff,autosp{sp=P,dp=D}</c> on D*P in-process ranks
    /// (<c>autosp-run --ranks</c>): head layouts that split evenly and that repeat KV heads, a
    /// sequence the ranks do not divide, data parallelism.
    /// </summary>
    public static IEnumerable<object[]> RankCases() => new[]
    {
        new object[] { "tiny-llama", "f64", 16, 2, 4, 1 },   // 4 query heads, 2 KV heads each repeated to 2 copies
        new object[] { "tiny-llama", "f32", 16, 2, 4, 1 },
        new object[] { "gqa-8q-2kv", "f64", 16, 2, 4, 1 },   // 2 KV heads < 4 ranks: KV repeat
        new object[] { "tiny-llama", "f64", 18, 2, 4, 1 },   // 18 tokens on 4 ranks: shards of 5, the last padded by 2
        new object[] { "tiny-llama", "f64", 16, 2, 2, 2 },   // 2 x 2 ranks: one sequence per data-parallel group
        new object[] { "mha-tied", "f64", 16, 2, 4, 1 },
        new object[] { "qwen2-bias", "f64", 16, 2, 4, 1 },
    };

    [Theory]
    [MemberData(nameof(RankCases))]
    public void LossAndGradientsOnRanksMatchPyTorchAndOneDevice(string model, string dtype, int seq, int batch, int sp, int dp) =>
        Check(model, dtype, seq, batch, sp, dp);

    /// <summary>
    /// PyTorch's loss and gradients for <paramref name="model"/>; ours from the one-device joint
    /// program (<c>-p autodiff</c>, autosp-run); and with <paramref name="sp"/> * <paramref name="dp"/> &gt; 1
    /// also from the per-rank program (<c>-p 'autodiff,autosp{sp=P,dp=D}'</c>, autosp-run
    /// --ranks D*P), which must match PyTorch at the same tolerance and the one-device run at
    /// <see cref="RankTolerance"/> (the same arithmetic, summed in another order).
    /// </summary>
    private void Check(string model, string dtype, int seq, int batch, int sp, int dp)
    {
        var dir = Directory.CreateTempSubdirectory("aspir-oracle-").FullName;
        try
        {
            var config = Config(model, dir);
            string shape = $"--seq-len {seq} --batch {batch}";
            Run($"/usr/bin/python3 tests/oracle/llama_oracle.py --hf-config '{config}' {shape} --dtype {dtype} --seed 7 --out-dir '{dir}'");
            Run($"dotnet '{Repo.ToolDll("autosp-gen")}' --hf-config '{config}' {shape} --dtype {dtype} -o '{dir}/step.aspir'");
            Run($"dotnet '{Repo.ToolDll("autosp-opt")}' '{dir}/step.aspir' -p autodiff -o '{dir}/joint.aspir'");
            Run($"dotnet '{Repo.ToolDll("autosp-run")}' '{dir}/joint.aspir' --params '{dir}/params.safetensors' " +
                $"--inputs '{dir}/inputs.safetensors' --out '{dir}/ours.safetensors'");

            var expected = SafetensorsFile.Read(Path.Combine(dir, "expected.safetensors"));
            var ours = SafetensorsFile.Read(Path.Combine(dir, "ours.safetensors"));
            double tolerance = dtype == "f64" ? 1e-6 : 1e-4;
            var what = $"{model} {dtype} seq={seq} batch={batch}";
            Compare(expected, ours, dtype, tolerance, $"{what}, one device, vs PyTorch");
            if (sp * dp == 1) return;

            int ranks = sp * dp;
            var pipeline = dp > 1 ? $"autodiff,autosp{{sp={sp},dp={dp}}}" : $"autodiff,autosp{{sp={sp}}}";
            Run($"dotnet '{Repo.ToolDll("autosp-opt")}' '{dir}/step.aspir' -p '{pipeline}' -o '{dir}/ranks.aspir'");
            var program = File.ReadAllText(Path.Combine(dir, "ranks.aspir"));
            Assert.Contains("dist.all_to_all", program);   // a per-rank program, with the Ulysses exchanges
            Run($"dotnet '{Repo.ToolDll("autosp-run")}' '{dir}/ranks.aspir' --ranks {ranks} --params '{dir}/params.safetensors' " +
                $"--inputs '{dir}/inputs.safetensors' --out '{dir}/ranks.safetensors'");
            var onRanks = SafetensorsFile.Read(Path.Combine(dir, "ranks.safetensors"));
            what += $" sp={sp} dp={dp}";
            Compare(expected, onRanks, dtype, tolerance, $"{what}, {ranks} ranks, vs PyTorch");
            Compare(ours, onRanks, dtype, RankTolerance(dtype), $"{what}, {ranks} ranks, vs one device");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// How far the per-rank run may be from the one-device run: 1e-9 in f64 (the same formulas,
    /// only partial sums added in another order); in f32 that reordering alone moves the last
    /// bits, so 1e-5.
    /// </summary>
    private static double RankTolerance(string dtype) => dtype == "f64" ? 1e-9 : 1e-5;

    /// <summary>
    /// Every tensor of <paramref name="reference"/> against the one of the same name in
    /// <paramref name="ours"/> (the same names, no more): max |ours - ref| / max |ref| below
    /// <paramref name="tolerance"/>. Logs the worst.
    /// </summary>
    private void Compare(SafetensorsFile reference, SafetensorsFile ours, string dtype, double tolerance, string what)
    {
        Assert.Equal(reference.Keys.Order(StringComparer.Ordinal), ours.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("loss", ours.Keys);
        var failures = new List<string>();
        double worst = 0;
        string worstName = "";
        foreach (var name in reference.Keys)
        {
            var e = reference[name];
            var type = TypeOf(e, dtype);
            var want = SafetensorsFile.ToHostTensor(e, type, name, reference.Path).ToDoubles();
            var got = SafetensorsFile.ToHostTensor(ours[name], type, name, ours.Path).ToDoubles();
            double maxDiff = 0, maxRef = 0;
            for (int i = 0; i < want.Length; i++)
            {
                maxDiff = Math.Max(maxDiff, Math.Abs(got[i] - want[i]));
                maxRef = Math.Max(maxRef, Math.Abs(want[i]));
            }
            double rel = maxRef == 0 ? maxDiff : maxDiff / maxRef;
            if (!(rel <= worst)) (worst, worstName) = (rel, name);
            if (!(rel < tolerance)) failures.Add($"{name}: relative error {rel:E2} (max |diff| {maxDiff:E2}, max |reference| {maxRef:E2})");
        }
        output.WriteLine($"{what}: max relative error {worst:E2} ({worstName}) over {reference.Count} tensors, tolerance {tolerance:E0}");
        Assert.True(failures.Count == 0, $"{what}: {failures.Count} of {reference.Count} tensors differ beyond {tolerance:E0}:\n" + string.Join("\n", failures));
        Assert.True(worst < tolerance);
    }

    private static TensorType TypeOf(SafetensorsTensor t, string dtype)
    {
        var ctx = new Context();
        return ctx.Tensor(t.Shape, dtype == "f64" ? ctx.F64 : ctx.F32);
    }

    private static void Run(string command)
    {
        var (code, stdout, stderr) = Repo.Bash(command, Repo.Root, TimeSpan.FromMinutes(5));
        Assert.True(code == 0, $"command failed (exit {code}): {command}\n{stdout}\n{stderr}" +
                               (stderr.Contains("No module named 'torch'") ? "\n(python3-torch is missing: run bin/setup)" : ""));
    }
}
