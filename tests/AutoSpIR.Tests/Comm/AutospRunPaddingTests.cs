using AutoSpIR.Runtime;

namespace AutoSpIR.Tests.Comm;

/// <summary>
/// autosp-run --ranks on a sequence whose length the ranks do not divide
/// (examples/spmd/padded-labels.aspir: 10 tokens on 4 ranks, shards of 3): arguments padded
/// with their aspir.pad_value, sharded results assembled without the padding in the shape
/// aspir.global_shape gives; the numbers against loops over the global tensors, and the errors.
/// </summary>
public class AutospRunPaddingTests
{
    private static readonly string Example = Repo.PathOf("examples", "spmd", "padded-labels.aspir");

    /// <summary>Writes the inputs and parameters, runs autosp-run on <paramref name="program"/> (text), returns exit code, output and the results.</summary>
    private static (int Code, string Output, SafetensorsFile? Results) Run(string program, long[] ids, long[] labels, double[] embed,
        string extra = "--ranks 4", long[]? shape = null)
    {
        var dir = Directory.CreateTempSubdirectory("aspir-padded-");
        try
        {
            var ctx = new Context();
            shape ??= new long[] { 1, ids.Length };
            SafetensorsFile.Write(Path.Combine(dir.FullName, "x.safetensors"), new[]
            {
                ("input_ids", new HostTensor(ctx.Tensor(shape, ctx.I64), ints: ids)),
                ("labels", new HostTensor(ctx.Tensor(shape, ctx.I64), ints: labels)),
            });
            SafetensorsFile.Write(Path.Combine(dir.FullName, "p.safetensors"), new[] { ("embed", new HostTensor(ctx.Tensor(new long[] { 8, 2 }, ctx.F64), f64: embed)) });
            File.WriteAllText(Path.Combine(dir.FullName, "step.aspir"), program);
            var (code, stdout, stderr) = Repo.Bash(
                $"dotnet '{Repo.ToolDll("autosp-run")}' step.aspir {extra} --params p.safetensors --inputs x.safetensors --out out.safetensors",
                dir.FullName, TimeSpan.FromSeconds(120));
            var outPath = Path.Combine(dir.FullName, "out.safetensors");
            return (code, stdout + stderr, code == 0 ? SafetensorsFile.Read(outPath) : null);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static double[] Get(SafetensorsFile file, string name, params long[] shape)
    {
        var ctx = new Context();
        return SafetensorsFile.ToHostTensor(file[name], ctx.Tensor(shape, ctx.F64), name, file.Path).ToDoubles();
    }

    private static (long[] Ids, long[] Labels, double[] Embed) Data(int seed)
    {
        var rng = new Random(seed);
        var ids = Enumerable.Range(0, 10).Select(_ => (long)rng.Next(0, 8)).ToArray();
        var labels = Enumerable.Range(0, 10).Select(_ => rng.Next(4) == 0 ? -100L : rng.Next(0, 32)).ToArray();
        labels[9] = 17;   // the last real token, on rank 3 next to the two pads
        var embed = Enumerable.Range(0, 16).Select(_ => Math.Round(rng.NextDouble() * 8 - 4, 3)).ToArray();
        return (ids, labels, embed);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void PaddedShardsGiveTheNumbersOfTheWholeSequence(int seed)
    {
        var (ids, labels, embed) = Data(seed);
        var (code, output, results) = Run(File.ReadAllText(Example), ids, labels, embed);
        Assert.True(code == 0, output);

        // Independently, over the 10 global tokens: the labels that are not -100, their sum, the embedding rows.
        var counted = labels.Where(l => l != -100).ToArray();
        Assert.Equal(new double[] { counted.Length }, Get(results!, "count"));
        Assert.Equal(new double[] { counted.Sum() }, Get(results!, "label_sum"));
        Assert.Equal(new long[] { 1, 10, 2 }, results!["hidden"].Shape);
        Assert.Equal(ids.SelectMany(i => new[] { embed[2 * i], embed[2 * i + 1] }).ToArray(), Get(results, "hidden", 1, 10, 2));
    }

    [Fact]
    public void ThePadValueIsWhatThePaddingHolds()
    {
        // Padded with the default 0 instead of -100, the two pads on rank 3 are labels 0 that count.
        var (ids, labels, embed) = Data(4);
        var program = File.ReadAllText(Example).Replace("aspir.pad_value = -100, ", "");
        var (code, output, results) = Run(program, ids, labels, embed);
        Assert.True(code == 0, output);
        Assert.Equal(new double[] { labels.Count(l => l != -100) + 2 }, Get(results!, "count"));
        Assert.Equal(new double[] { labels.Where(l => l != -100).Sum() }, Get(results!, "label_sum"));

        // A pad value of 7: two more counted labels of 7 each.
        program = File.ReadAllText(Example).Replace("aspir.pad_value = -100", "aspir.pad_value = 7");
        (code, output, results) = Run(program, ids, labels, embed);
        Assert.True(code == 0, output);
        Assert.Equal(new double[] { labels.Where(l => l != -100).Sum() + 14 }, Get(results!, "label_sum"));
    }

    [Fact]
    public void WithoutAGlobalShapeTheLocalShapeTimesTheShardCountsIsExpected()
    {
        // 12 tokens on 4 ranks: no padding, and no aspir.global_shape needed (the old behaviour).
        var program = File.ReadAllText(Example)
            .Replace("aspir.global_shape = [1, 10], ", "").Replace(", aspir.global_shape = [1, 10, 2]", "");
        var rng = new Random(5);
        var ids = Enumerable.Range(0, 12).Select(_ => (long)rng.Next(0, 8)).ToArray();
        var labels = Enumerable.Range(0, 12).Select(i => i % 3 == 0 ? -100L : i).ToArray();
        var embed = Enumerable.Range(0, 16).Select(i => (double)i).ToArray();
        var (code, output, results) = Run(program, ids, labels, embed);
        Assert.True(code == 0, output);
        Assert.Equal(new double[] { 8 }, Get(results!, "count"));
        Assert.Equal(new long[] { 1, 12, 2 }, results!["hidden"].Shape);

        // 10 tokens without aspir.global_shape: the expected 1x12 does not match, and the message says what to add.
        var (ids10, labels10, embed10) = Data(6);
        (code, output, _) = Run(program, ids10, labels10, embed10);
        Assert.Equal(1, code);
        Assert.Contains("autosp-run: error: argument #0 ('input_ids'): --inputs x.safetensors holds 'input_ids' of shape 1x10, but its global shape is 1x12 " +
                        "(its local shape times the shard counts; give aspir.global_shape = [...] when a size does not divide)", output);
    }

    [Theory]
    // The input is not the global shape aspir.global_shape gives.
    [InlineData("", new long[] { 1, 12 },
        "argument #0 ('input_ids'): --inputs x.safetensors holds 'input_ids' of shape 1x12, but its global shape is 1x10 (its aspir.global_shape)")]
    // aspir.global_shape that does not shard into the local type, or is no shape.
    [InlineData("aspir.global_shape = [1, 10], aspir.pad_value = -100|aspir.global_shape = [1, 13], aspir.pad_value = -100", null,
        "argument #1 ('labels'): aspir.global_shape [1, 13] sharded as #dist.sharding<@mesh, [{}, {\"sp\"}]> gives shards of 1x4, but its type is tensor<1x3xi64>")]
    [InlineData("aspir.global_shape = [1, 10], aspir.pad_value = -100|aspir.global_shape = [10], aspir.pad_value = -100", null,
        "argument #1 ('labels'): aspir.global_shape must be an array of 2 sizes (the global shape of tensor<1x3xi64>), but is [10]")]
    [InlineData("aspir.global_shape = [1, 10], aspir.pad_value = -100|aspir.global_shape = [1, 0], aspir.pad_value = -100", null,
        "argument #1 ('labels'): aspir.global_shape [1, 0] does not shard as #dist.sharding<@mesh, [{}, {\"sp\"}]>: dimension 1 has size 0, but a dimension split into the 4 shards of {\"sp\"} needs at least 1 element")]
    [InlineData("{aspir.param = \"embed\"}|{aspir.param = \"embed\", aspir.global_shape = [8, 3]}", null,
        "argument #2 ('embed'): aspir.global_shape [8, 3] differs from its type tensor<8x2xf64>, and without dist.sharding every rank holds the whole tensor")]
    // Pad values that an i64 tensor cannot hold, or that are no number.
    [InlineData("aspir.pad_value = -100|aspir.pad_value = 0.5", null,
        "argument #1 ('labels'): aspir.pad_value = 0.5 is not an integer of its element type i64 (from -9223372036854775808 to 9223372036854775807)")]
    [InlineData("aspir.pad_value = -100|aspir.pad_value = \"ignore\"", null,
        "argument #1 ('labels'): aspir.pad_value must be an integer or float attribute, but is \"ignore\"")]
    // A result's aspir.global_shape is checked like an argument's.
    [InlineData("aspir.global_shape = [1, 10, 2]|aspir.global_shape = [1, 10, 3]", null,
        "result #2: aspir.global_shape [1, 10, 3] sharded as #dist.sharding<@mesh, [{}, {\"sp\"}, {}]> gives shards of 1x3x3, but its type is tensor<1x3x2xf64>")]
    public void BadShapesAndPadValuesAreClearErrors(string edit, long[]? shape, string message)
    {
        var program = File.ReadAllText(Example);
        if (edit.Length > 0)
        {
            var parts = edit.Split('|');
            Assert.Contains(parts[0], program);
            program = program.Replace(parts[0], parts[1]);
        }
        var (ids, labels, embed) = Data(7);
        if (shape is not null)
        {
            ids = ids.Concat(new long[] { 0, 0 }).ToArray();
            labels = labels.Concat(new long[] { 0, 0 }).ToArray();
        }
        var (code, output, _) = Run(program, ids, labels, embed, shape: shape);
        Assert.Equal(1, code);
        Assert.Contains($"autosp-run: error: {message}", output);
    }

    [Fact]
    public void HelpNamesThePaddingAttributes()
    {
        var (code, stdout, stderr) = Repo.Bash($"dotnet '{Repo.ToolDll("autosp-run")}' --help", Repo.Root, TimeSpan.FromSeconds(60));
        Assert.True(code == 0, stderr);
        Assert.Contains("aspir.pad_value", stdout);
        Assert.Contains("aspir.global_shape", stdout);
        Assert.Contains("ceil(n/K)", stdout);
    }
}
