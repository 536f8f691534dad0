using System.Diagnostics;
using AutoSpIR.Runtime;

namespace AutoSpIR.Tests.Runtime;

/// <summary>
/// The kernels against PyTorch in float64 (Debian's python3-torch, run with /usr/bin/python3):
/// fixed inputs go to a safetensors file through our writer, a small script reads them with its
/// own parser, computes the ops the Hugging Face way and writes a safetensors file with its own
/// writer, which our reader loads. Relative error below 1e-12.
/// </summary>
public sealed class TorchOracleTests : IDisposable
{
    private const string Python = "/usr/bin/python3";
    private readonly string _dir = Directory.CreateTempSubdirectory("autospir-torch-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string Program = """
        func.func @oracle(%x: tensor<2x5x16xf64>, %w: tensor<16xf64>, %r: tensor<2x5x4x16xf64>,
                          %q: tensor<2x5x4x8xf64>, %k: tensor<2x7x2x8xf64>, %v: tensor<2x7x2x6xf64>,
                          %q2: tensor<1x6x6x8xf64>, %k2: tensor<1x6x3x8xf64>, %v2: tensor<1x6x3x8xf64>,
                          %logits: tensor<2x6x11xf64>, %labels: tensor<2x6xi64>, %labels2: tensor<2x6xi64>, %s: tensor<3x4x5xf64>)
            -> (tensor<2x5x16xf64>, tensor<2x5x4x16xf64>, tensor<2x5x4x6xf64>, tensor<2x5x4x6xf64>, tensor<1x6x6x8xf64>,
                tensor<f64>, tensor<f64>, tensor<f64>, tensor<3x4x5xf64>, tensor<3x4x5xf64>, tensor<3x4x5xf64>) {
          %rms = tensor.rms_norm %x, %w {eps = 1.0e-06} : (tensor<2x5x16xf64>, tensor<16xf64>) -> tensor<2x5x16xf64>
          %rope = tensor.rope %r {offset = 3, theta = 10000.0} : tensor<2x5x4x16xf64> -> tensor<2x5x4x16xf64>
          %att_causal = tensor.attention %q, %k, %v {causal} : (tensor<2x5x4x8xf64>, tensor<2x7x2x8xf64>, tensor<2x7x2x6xf64>) -> tensor<2x5x4x6xf64>
          %att_full = tensor.attention %q, %k, %v {scale = 0.2} : (tensor<2x5x4x8xf64>, tensor<2x7x2x8xf64>, tensor<2x7x2x6xf64>) -> tensor<2x5x4x6xf64>
          %att_square = tensor.attention %q2, %k2, %v2 {causal} : (tensor<1x6x6x8xf64>, tensor<1x6x3x8xf64>, tensor<1x6x3x8xf64>) -> tensor<1x6x6x8xf64>
          %ce = tensor.cross_entropy %logits, %labels : (tensor<2x6x11xf64>, tensor<2x6xi64>) -> tensor<f64>
          %ce2 = tensor.cross_entropy %logits, %labels2 {ignore_index = 3, shift = 2} : (tensor<2x6x11xf64>, tensor<2x6xi64>) -> tensor<f64>
          %ce_sum = tensor.cross_entropy %logits, %labels {reduction = "sum"} : (tensor<2x6x11xf64>, tensor<2x6xi64>) -> tensor<f64>
          %silu = tensor.silu %s : tensor<3x4x5xf64>
          %gelu = tensor.gelu %s : tensor<3x4x5xf64>
          %softmax = tensor.softmax %s {dim = 1} : tensor<3x4x5xf64> -> tensor<3x4x5xf64>
          func.return %rms, %rope, %att_causal, %att_full, %att_square, %ce, %ce2, %ce_sum, %silu, %gelu, %softmax
            : tensor<2x5x16xf64>, tensor<2x5x4x16xf64>, tensor<2x5x4x6xf64>, tensor<2x5x4x6xf64>, tensor<1x6x6x8xf64>,
              tensor<f64>, tensor<f64>, tensor<f64>, tensor<3x4x5xf64>, tensor<3x4x5xf64>, tensor<3x4x5xf64>
        }
        """;

    private static readonly string[] ArgNames = { "x", "w", "r", "q", "k", "v", "q2", "k2", "v2", "logits", "labels", "labels2", "s" };
    private static readonly string[] ResultNames = { "rms", "rope", "att_causal", "att_full", "att_square", "ce", "ce2", "ce_sum", "silu", "gelu", "softmax" };

    private const string Script = """
        import json, struct, sys
        import torch
        import torch.nn.functional as F

        def read(path):
            b = open(path, 'rb').read()
            n = struct.unpack('<Q', b[:8])[0]
            header = json.loads(b[8:8 + n].decode('utf-8'))
            out = {}
            for name, e in header.items():
                if name == '__metadata__':
                    continue
                begin, end = e['data_offsets']
                raw = b[8 + n + begin:8 + n + end]
                fmt, dt = {'F64': ('d', torch.float64), 'I64': ('q', torch.int64)}[e['dtype']]
                vals = struct.unpack('<%d%s' % (len(raw) // 8, fmt), raw)
                out[name] = torch.tensor(vals, dtype=dt).reshape(e['shape'])
            return out

        def write(path, tensors):
            header, data = {}, b''
            for name in sorted(tensors):
                t = tensors[name].detach().to(torch.float64).contiguous()
                raw = struct.pack('<%dd' % t.numel(), *t.reshape(-1).tolist())
                header[name] = {'dtype': 'F64', 'shape': list(t.shape), 'data_offsets': [len(data), len(data) + len(raw)]}
                data += raw
            h = json.dumps(header).encode('utf-8')
            h += b' ' * ((8 - len(h) % 8) % 8)
            open(path, 'wb').write(struct.pack('<Q', len(h)) + h + data)

        def rotate_half(x):
            half = x.shape[-1] // 2
            return torch.cat((-x[..., half:], x[..., :half]), dim=-1)

        def rope(x, theta, offset):  # x [B, S, N, D], Hugging Face Llama
            b, s, n, d = x.shape
            inv_freq = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
            pos = torch.arange(offset, offset + s, dtype=torch.float64)
            freqs = torch.outer(pos, inv_freq)
            emb = torch.cat((freqs, freqs), dim=-1)
            cos, sin = emb.cos()[None, :, None, :], emb.sin()[None, :, None, :]
            return x * cos + rotate_half(x) * sin

        def attention(q, k, v, causal, scale=None):  # [B, S, H, D], grouped-query heads
            s, t = q.shape[1], k.shape[1]
            group = q.shape[2] // k.shape[2]
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
            scale = 1.0 / q.shape[-1] ** 0.5 if scale is None else scale
            scores = (q @ k.transpose(-1, -2)) * scale
            if causal:
                mask = torch.ones(s, t, dtype=torch.bool).tril(diagonal=t - s)
                scores = scores.masked_fill(~mask, float('-inf'))
            return (torch.softmax(scores, dim=-1) @ v).transpose(1, 2)

        def causal_lm_loss(logits, labels, shift, ignore_index, reduction='mean'):
            v = logits.shape[-1]
            return F.cross_entropy(logits[:, :logits.shape[1] - shift].reshape(-1, v),
                                   labels[:, shift:].reshape(-1), ignore_index=ignore_index, reduction=reduction)

        a = read(sys.argv[1])
        x, w = a['x'], a['w']
        out = {
            'rms': x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w,
            'rope': rope(a['r'], 10000.0, 3),
            'att_causal': attention(a['q'], a['k'], a['v'], True),
            'att_full': attention(a['q'], a['k'], a['v'], False, 0.2),
            'att_square': attention(a['q2'], a['k2'], a['v2'], True),
            'ce': causal_lm_loss(a['logits'], a['labels'], 1, -100),
            'ce2': causal_lm_loss(a['logits'], a['labels2'], 2, 3),
            'ce_sum': causal_lm_loss(a['logits'], a['labels'], 1, -100, 'sum'),
            'silu': F.silu(a['s']),
            'gelu': F.gelu(a['s']),
            'softmax': torch.softmax(a['s'], dim=1),
        }
        write(sys.argv[2], out)
        print('torch', torch.__version__)
        """;

    private static (int Code, string Out, string Err) RunPython(params string[] args)
    {
        if (!File.Exists(Python)) return (-1, "", $"{Python} does not exist");
        var psi = new ProcessStartInfo(Python, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            p.Kill(entireProcessTree: true);
            return (-1, o.Result, e.Result + "\n[timed out]");
        }
        p.WaitForExit();
        return (p.ExitCode, o.Result, e.Result);
    }

    [Fact]
    public void KernelsMatchTorchInFloat64()
    {
        var func = RT.Func(Program);
        var args = new HostTensor[ArgNames.Length];
        for (int i = 0; i < args.Length; i++)
        {
            var t = RT.ArgType(func, i);
            var spec = string.Join("x", t.Shape.ToArray()) + "x" + t.Element.Name;
            args[i] = ArgNames[i] switch
            {
                "w" => RT.Random(spec, 200 + i, 0.5, 1.5),
                // labels: some ignored (-100) for the default loss; targets with ignore_index 3 for the second.
                "labels" => RT.Of(spec, 4, 10, -100, 0, 7, -100, 2, 2, 9, -100, 5, 1),
                "labels2" => RT.Of(spec, 3, 3, 3, 6, 10, 0, 8, 1, 3, 3, 2, 7),
                "s" => RT.Random(spec, 200 + i, -5, 5),
                _ => RT.Random(spec, 200 + i, -2, 2),
            };
        }
        string input = Path.Combine(_dir, "inputs.safetensors"), output = Path.Combine(_dir, "torch.safetensors"), script = Path.Combine(_dir, "oracle.py");
        SafetensorsFile.Write(input, ArgNames.Select((n, i) => (n, args[i])));
        File.WriteAllText(script, Script);
        // One Python start (importing torch takes seconds): a missing torch shows in the script's error.
        var run = RunPython(script, input, output);
        bool noTorch = run.Code != 0 && (!File.Exists(Python) || run.Err.Contains("No module named 'torch'") || run.Err.Contains("No module named torch"));
        Assert.False(noTorch,
            $"{Python} cannot import torch, which this test compares the kernels with: run bin/setup (it installs Debian's python3-torch). "
            + $"Note that python3 on PATH may be another Python: the test uses {Python}.\n{run.Err}");
        Assert.True(run.Code == 0, $"the torch script failed:\n{run.Err}");

        var ours = Interpreter.Run(func, args).Results;
        var theirs = SafetensorsFile.Read(output);
        for (int r = 0; r < ResultNames.Length; r++)
        {
            var expected = theirs.Load(ResultNames[r], ours[r].Type);
            var got = ours[r].F64!;
            for (int i = 0; i < got.Length; i++)
            {
                double e = expected.F64![i];
                double err = Math.Abs(got[i] - e);
                Assert.True(err <= 1e-12 * Math.Abs(e) + 1e-15, $"{ResultNames[r]}[{i}]: ours {got[i]:R}, torch {e:R} (relative error {err / Math.Abs(e):E2})");
            }
        }
    }
}
