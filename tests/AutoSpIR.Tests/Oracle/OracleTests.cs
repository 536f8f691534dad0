using System.Text.Json.Nodes;
using AutoSpIR.Runtime;

namespace AutoSpIR.Tests.Oracle;

/// <summary>
/// The outside oracle: PyTorch (Debian's python3-torch, run as /usr/bin/python3) builds the
/// same Llama-family model from the same config, draws weights and a batch, and computes the
/// loss and every gradient. AutoSpIR generates the step (autosp-gen), differentiates it
/// (autosp-opt -p autodiff) and runs it (autosp-run); every tensor must match:
/// max |ours - torch| / max |torch| below 1e-6 in f64 and 1e-4 in f32.
/// </summary>
public class OracleTests
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
    public void LossAndGradientsMatchPyTorch(string model, string dtype)
    {
        var dir = Directory.CreateTempSubdirectory("aspir-oracle-").FullName;
        try
        {
            var config = Config(model, dir);
            const string shape = "--seq-len 16 --batch 2";
            Run($"/usr/bin/python3 tests/oracle/llama_oracle.py --hf-config '{config}' {shape} --dtype {dtype} --seed 7 --out-dir '{dir}'");
            Run($"dotnet '{Repo.ToolDll("autosp-gen")}' --hf-config '{config}' {shape} --dtype {dtype} -o '{dir}/step.aspir'");
            Run($"dotnet '{Repo.ToolDll("autosp-opt")}' '{dir}/step.aspir' -p autodiff -o '{dir}/joint.aspir'");
            Run($"dotnet '{Repo.ToolDll("autosp-run")}' '{dir}/joint.aspir' --params '{dir}/params.safetensors' " +
                $"--inputs '{dir}/inputs.safetensors' --out '{dir}/ours.safetensors'");

            var expected = SafetensorsFile.Read(Path.Combine(dir, "expected.safetensors"));
            var ours = SafetensorsFile.Read(Path.Combine(dir, "ours.safetensors"));
            Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), ours.Keys.Order(StringComparer.Ordinal));
            Assert.Contains("loss", ours.Keys);
            double tolerance = dtype == "f64" ? 1e-6 : 1e-4;
            var failures = new List<string>();
            double worst = 0;
            foreach (var name in expected.Keys)
            {
                var e = expected[name];
                var type = TypeOf(e, dtype);
                var want = SafetensorsFile.ToHostTensor(e, type, name, expected.Path).ToDoubles();
                var got = SafetensorsFile.ToHostTensor(ours[name], type, name, ours.Path).ToDoubles();
                double maxDiff = 0, maxRef = 0;
                for (int i = 0; i < want.Length; i++)
                {
                    maxDiff = Math.Max(maxDiff, Math.Abs(got[i] - want[i]));
                    maxRef = Math.Max(maxRef, Math.Abs(want[i]));
                }
                double rel = maxRef == 0 ? maxDiff : maxDiff / maxRef;
                worst = Math.Max(worst, rel);
                if (!(rel < tolerance)) failures.Add($"{name}: relative error {rel:E2} (max |diff| {maxDiff:E2}, max |torch| {maxRef:E2})");
            }
            Assert.True(failures.Count == 0, $"{model} {dtype}: {failures.Count} of {expected.Count} tensors differ from PyTorch beyond {tolerance:E0}:\n" + string.Join("\n", failures));
            Assert.True(worst < tolerance);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
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
