using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using AutoSpIR.Dialects;
using AutoSpIR.Grammar;
using AutoSpIR.Runtime;
using AutoSpIR.Tests.Runtime;

namespace AutoSpIR.Tests.Zero;

/// <summary>
/// tensor.adamw: its kernel against torch.optim.AdamW's single step in float64 (Debian's
/// python3-torch, /usr/bin/python3; the optimizer state set to the given m, v and step - 1, then
/// one .step()), against the formula in f32, its verifier and its printed form.
/// </summary>
public sealed class AdamWTests
{
    private static string Program(string type, string attrs) => $$"""
        func.func @f(%p: {{type}}, %g: {{type}}, %m: {{type}}, %v: {{type}}) -> ({{type}}, {{type}}, {{type}}) {
          %p2, %m2, %v2 = tensor.adamw %p, %g, %m, %v {{{attrs}}} : {{type}}
          func.return %p2, %m2, %v2 : {{type}}, {{type}}, {{type}}
        }
        """;

    private const string Script = """
        import json, sys, torch
        d = json.load(sys.stdin)
        p = torch.nn.Parameter(torch.tensor(d['p'], dtype=torch.float64))
        opt = torch.optim.AdamW([p], lr=d['lr'], betas=(d['beta1'], d['beta2']), eps=d['eps'], weight_decay=d['wd'], foreach=False)
        p.grad = torch.tensor(d['g'], dtype=torch.float64)
        if d['step'] > 1:
            opt.state[p]['step'] = torch.tensor(float(d['step'] - 1))
            opt.state[p]['exp_avg'] = torch.tensor(d['m'], dtype=torch.float64)
            opt.state[p]['exp_avg_sq'] = torch.tensor(d['v'], dtype=torch.float64)
        opt.step()
        s = opt.state[p]
        json.dump({'p': p.detach().tolist(), 'm': s['exp_avg'].tolist(), 'v': s['exp_avg_sq'].tolist()}, sys.stdout)
        """;

    private static double[] Values(int n, int seed, double lo, double hi)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => lo + (hi - lo) * rng.NextDouble()).ToArray();
    }

    [Theory]
    [InlineData(1, 1e-3, 0.9, 0.999, 1e-8, 0.01)]    // PyTorch's defaults, first step (m = v = 0)
    [InlineData(5, 3e-2, 0.8, 0.95, 1e-6, 0.1)]
    [InlineData(100, 1e-1, 0.0, 0.5, 1e-3, 0.0)]     // no decay, no momentum
    public void MatchesTorchAdamWInF64(int step, double lr, double beta1, double beta2, double eps, double wd)
    {
        const int n = 24;
        var p = Values(n, 1, -1, 1);
        var g = Values(n, 2, -0.5, 0.5);
        var m = step == 1 ? new double[n] : Values(n, 3, -0.2, 0.2);
        var v = step == 1 ? new double[n] : Values(n, 4, 0, 0.1);
        var ci = CultureInfo.InvariantCulture;
        var attrs = string.Create(ci, $"beta1 = {beta1:E17}, beta2 = {beta2:E17}, eps = {eps:E17}, lr = {lr:E17}, step = {step}, weight_decay = {wd:E17}");
        var func = RT.Func(Program("tensor<4x6xf64>", attrs));
        var t = RT.ArgType(func, 0);
        var got = Interpreter.Run(func, new[] { p, g, m, v }.Select(a => HostTensor.FromDoubles(t, a)).ToArray()).Results;

        var request = JsonSerializer.Serialize(new { p, g, m, v, lr, beta1, beta2, eps, wd, step });
        var psi = new ProcessStartInfo("/usr/bin/python3", new[] { "-c", Script })
        { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var proc = Process.Start(psi)!;
        proc.StandardInput.Write(request);
        proc.StandardInput.Close();
        var stdout = proc.StandardOutput.ReadToEnd();
        var stderr = proc.StandardError.ReadToEnd();
        proc.WaitForExit();
        Assert.True(proc.ExitCode == 0, "python3 failed:\n" + stderr);
        using var doc = JsonDocument.Parse(stdout);
        string[] names = { "p", "m", "v" };
        for (int r = 0; r < 3; r++)
        {
            var want = doc.RootElement.GetProperty(names[r]).EnumerateArray().Select(e => e.GetDouble()).ToArray();
            double diff = 0, scale = 0;
            for (int i = 0; i < n; i++)
            {
                diff = Math.Max(diff, Math.Abs(got[r].Get(i) - want[i]));
                scale = Math.Max(scale, Math.Abs(want[i]));
            }
            Assert.True(diff / scale < 1e-13, $"{names[r]}: relative error {diff / scale:E2} against torch.optim.AdamW");
        }
    }

    [Fact]
    public void F32RoundsTheDoubleUpdateOnce()
    {
        var func = RT.Func(Program("tensor<3x5xf32>", "beta1 = 0.9, beta2 = 0.999, eps = 1.0e-08, lr = 1.0e-02, step = 3, weight_decay = 0.01"));
        var t = RT.ArgType(func, 0);
        var p = Values(15, 5, -1, 1).Select(x => (double)(float)x).ToArray();
        var g = Values(15, 6, -1, 1).Select(x => (double)(float)x).ToArray();
        var m = Values(15, 7, -0.1, 0.1).Select(x => (double)(float)x).ToArray();
        var v = Values(15, 8, 0, 0.1).Select(x => (double)(float)x).ToArray();
        var got = Interpreter.Run(func, new[] { p, g, m, v }.Select(a => HostTensor.FromDoubles(t, a)).ToArray()).Results;
        var h = new Dialects.Tensor.AdamW.Hyper(1e-2, 0.9, 0.999, 1e-8, 0.01, 3);
        for (int i = 0; i < 15; i++)
        {
            var (pe, me, ve) = Dialects.Tensor.AdamW.Update(h, p[i], g[i], m[i], v[i]);
            Assert.Equal((double)(float)pe, got[0].Get(i));
            Assert.Equal((double)(float)me, got[1].Get(i));
            Assert.Equal((double)(float)ve, got[2].Get(i));
        }
    }

    [Theory]
    [InlineData("beta1 = 1.0, beta2 = 0.999, eps = 1.0e-08, lr = 1.0e-03, step = 1, weight_decay = 0.0", "'beta1' must be in [0, 1)")]
    [InlineData("beta1 = 0.9, beta2 = 0.999, eps = 1.0e-08, lr = 1.0e-03, step = 0, weight_decay = 0.0", "'step' must be >= 1")]
    [InlineData("beta1 = 0.9, beta2 = 0.999, eps = 1.0e-08, step = 1, weight_decay = 0.0", "requires attribute 'lr'")]
    [InlineData("beta1 = 0.9, beta2 = 0.999, eps = 1.0e-08, lr = -1.0, step = 1, weight_decay = 0.0", "'lr' must be a finite number >= 0")]
    public void VerifierRejects(string attrs, string message)
    {
        var diag = new DiagnosticEngine();
        var module = AspIRParserDriver.ParseAndVerify(Program("tensor<4xf32>", attrs), "t.aspir", AllDialects.NewContext(), diag);
        Assert.Null(module);
        Assert.Contains(diag.All, d => d.ToString().Contains(message));
    }

    [Fact]
    public void MismatchedOperandTypesAreRejected()
    {
        const string text = """
            func.func @f(%p: tensor<4xf32>, %g: tensor<4xf64>) -> tensor<4xf32> {
              %p2, %m2, %v2 = "tensor.adamw"(%p, %g, %p, %p) {beta1 = 0.9, beta2 = 0.999, eps = 1.0e-08, lr = 1.0e-03, step = 1, weight_decay = 0.0} : (tensor<4xf32>, tensor<4xf64>, tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>)
              func.return %p2 : tensor<4xf32>
            }
            """;
        var diag = new DiagnosticEngine();
        Assert.Null(AspIRParserDriver.ParseAndVerify(text, "t.aspir", AllDialects.NewContext(), diag));
        Assert.Contains(diag.All, d => d.ToString().Contains("operand #1 ('grad') has type tensor<4xf64>"));
    }

    [Fact]
    public void PrintsInItsShortFormAndParsesBack()
    {
        var func = RT.Func(Program("tensor<2x3xf32>", "beta1 = 0.9, beta2 = 0.999, eps = 1.0e-08, lr = 1.0e-03, step = 2, weight_decay = 0.01"));
        var text = Printer.Print(func.ParentOp!);
        Assert.Contains("tensor.adamw %", text);
        Assert.Contains(": tensor<2x3xf32>\n", text);
        var again = RT.Func(text);
        Assert.Equal(text, Printer.Print(again.ParentOp!));
    }

    [Fact]
    public void ShardingRuleIsElementwiseAndCostIsFifteenFlopsPerElement()
    {
        var func = RT.Func(Program("tensor<2x3xf32>", "beta1 = 0.9, beta2 = 0.999, eps = 1.0e-08, lr = 1.0e-03, step = 2, weight_decay = 0.01"));
        var op = func.Region(0).EntryBlock!.Ops.First(o => o.Name == "tensor.adamw");
        var state = OpState.Of(op);
        var rule = op.Def!.ShardingRule!(state)!;
        Assert.Equal(2, rule.Factors.Count);
        Assert.All(rule.Factors, f => Assert.Equal(FactorKind.Parallel, f.Kind));
        Assert.Equal(90, op.Def.FlopsOf(state));
        Assert.Null(op.Def.Gradient);
    }
}
