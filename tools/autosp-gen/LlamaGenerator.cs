using AutoSpIR.Dialects;
using AutoSpIR.Dialects.Builtin;
using AutoSpIR.Dialects.Func;
using AutoSpIR.Dialects.Tensor;

namespace AutoSpIR.Tools.Gen;

/// <summary>What to generate besides the model: the batch shape, the depth and the element type.</summary>
/// <param name="SeqLen">tokens per sequence (S), at least 2 (the loss predicts token s + 1 from s)</param>
/// <param name="Batch">sequences per step (B), at least 1</param>
/// <param name="Layers">decoder layers; null takes num_hidden_layers from the config</param>
/// <param name="Dtype">element type of the parameters and activations: f32, f64 or bf16</param>
/// <param name="ModuleName">the module's symbol name</param>
public sealed record GenOptions(long SeqLen, long Batch, long? Layers, string Dtype, string ModuleName);

/// <summary>One parameter of the generated function: its Hugging Face name and shape.</summary>
public sealed record ParamInfo(string HfName, long[] Shape);

/// <summary>
/// Builds the forward training step of a Llama-family decoder as the tensor dialect,
/// following Hugging Face's <c>LlamaForCausalLM</c> (and Mistral/Qwen2, which differ only in
/// the config): embedding; per layer <c>x + o_proj(attention(rope(q), rope(k), v, causal))</c>
/// on <c>input_layernorm(x)</c>, then <c>x + down(silu(gate(h)) * up(h))</c> on
/// <c>post_attention_layernorm(x)</c>; the final norm; lm_head (or the embedding when tied);
/// and the causal-LM loss.
/// <para>
/// The function is <c>@train_step(%input_ids, %labels, params...) -&gt; tensor&lt;T&gt;</c>: the two
/// [B, S] i64 inputs carry <c>aspir.name</c> and <c>aspir.seq_dim = 1</c>, every parameter
/// carries <c>aspir.param</c> = its Hugging Face name, in the order of <see cref="Params"/>:
/// embed_tokens; per layer input_layernorm, q/k/v/o_proj (with q/k/v biases for qwen2),
/// post_attention_layernorm, gate/up/down_proj; the final norm; lm_head unless tied.
/// Weights use the Hugging Face [out, in] layout.
/// </para>
/// <para>
/// For bf16 the loss is computed as Hugging Face computes it: the logits are cast to f32 first
/// (<c>ForCausalLMLoss</c> upcasts), so the function returns <c>tensor&lt;f32&gt;</c>; for f32 and
/// f64 it returns <c>tensor&lt;T&gt;</c>.
/// </para>
/// </summary>
public sealed class LlamaGenerator
{
    private readonly HfConfig _cfg;
    private readonly GenOptions _opt;
    private readonly Context _ctx;
    private readonly ScalarType _dt;
    private readonly long _layers;
    private Builder _b = null!;

    private LlamaGenerator(HfConfig cfg, GenOptions opt, Context ctx)
    {
        _cfg = cfg;
        _opt = opt;
        _ctx = ctx;
        _dt = ElementType(ctx, opt.Dtype);
        _layers = opt.Layers ?? cfg.NumHiddenLayers
            ?? throw new ConfigException("missing key 'num_hidden_layers' (or give --layers)");
    }

    /// <summary>The element type named by --dtype, or a <see cref="ConfigException"/>.</summary>
    public static ScalarType ElementType(Context ctx, string dtype) => dtype switch
    {
        "f32" => ctx.F32,
        "f64" => ctx.F64,
        "bf16" => ctx.BF16,
        _ => throw new ConfigException($"--dtype must be f32, f64 or bf16, not '{dtype}'"),
    };

    /// <summary>
    /// The module for <paramref name="cfg"/> and <paramref name="opt"/>, in a new context with every
    /// dialect registered. Throws <see cref="ConfigException"/> for what it cannot express.
    /// The module is not verified here (the tool and the tests do that).
    /// </summary>
    public static Operation Generate(HfConfig cfg, GenOptions opt, Context? ctx = null)
    {
        ctx ??= AllDialects.NewContext();
        var g = new LlamaGenerator(cfg, opt, ctx);
        g.CheckSizes();
        cfg.CheckSupported(opt.SeqLen, g._layers);
        return g.Build();
    }

    /// <summary>The parameters, in argument order (after input_ids and labels), with their shapes.</summary>
    public static List<ParamInfo> Params(HfConfig cfg, long layers)
    {
        long h = cfg.HiddenSize, qDim = cfg.NumAttentionHeads * cfg.HeadDim, kvDim = cfg.NumKeyValueHeads * cfg.HeadDim;
        long inter = cfg.IntermediateSize;
        var ps = new List<ParamInfo> { new("model.embed_tokens.weight", new[] { cfg.VocabSize, h }) };
        for (long i = 0; i < layers; i++)
        {
            var p = $"model.layers.{i}.";
            ps.Add(new(p + "input_layernorm.weight", new[] { h }));
            ps.Add(new(p + "self_attn.q_proj.weight", new[] { qDim, h }));
            if (cfg.QkvBias) ps.Add(new(p + "self_attn.q_proj.bias", new[] { qDim }));
            ps.Add(new(p + "self_attn.k_proj.weight", new[] { kvDim, h }));
            if (cfg.QkvBias) ps.Add(new(p + "self_attn.k_proj.bias", new[] { kvDim }));
            ps.Add(new(p + "self_attn.v_proj.weight", new[] { kvDim, h }));
            if (cfg.QkvBias) ps.Add(new(p + "self_attn.v_proj.bias", new[] { kvDim }));
            ps.Add(new(p + "self_attn.o_proj.weight", new[] { h, qDim }));
            ps.Add(new(p + "post_attention_layernorm.weight", new[] { h }));
            ps.Add(new(p + "mlp.gate_proj.weight", new[] { inter, h }));
            ps.Add(new(p + "mlp.up_proj.weight", new[] { inter, h }));
            ps.Add(new(p + "mlp.down_proj.weight", new[] { h, inter }));
        }
        ps.Add(new("model.norm.weight", new[] { h }));
        if (!cfg.TieWordEmbeddings) ps.Add(new("lm_head.weight", new[] { cfg.VocabSize, h }));
        return ps;
    }

    /// <summary>The short SSA name of a parameter argument: %embed_tokens, %attn_norm0, %wq0, %bq0, ..., %final_norm, %lm_head.</summary>
    public static string ArgName(string hfName)
    {
        if (hfName == "model.embed_tokens.weight") return "embed_tokens";
        if (hfName == "model.norm.weight") return "final_norm";
        if (hfName == "lm_head.weight") return "lm_head";
        // model.layers.{i}.{module path}.{weight|bias}
        var parts = hfName.Split('.');
        var layer = parts[2];
        var module = string.Join('.', parts[3..^1]);
        var kind = parts[^1] == "bias" ? "b" : "w";
        return module switch
        {
            "input_layernorm" => "attn_norm" + layer,
            "post_attention_layernorm" => "mlp_norm" + layer,
            "self_attn.q_proj" => kind + "q" + layer,
            "self_attn.k_proj" => kind + "k" + layer,
            "self_attn.v_proj" => kind + "v" + layer,
            "self_attn.o_proj" => kind + "o" + layer,
            "mlp.gate_proj" => kind + "gate" + layer,
            "mlp.up_proj" => kind + "up" + layer,
            "mlp.down_proj" => kind + "down" + layer,
            _ => throw new InvalidOperationException($"no argument name for parameter '{hfName}'"),
        };
    }

    /// <summary>Every tensor's element count must fit in 64 bits (a 405B model at 131072 tokens does, easily).</summary>
    private void CheckSizes()
    {
        long s = _opt.SeqLen, b = _opt.Batch;
        try
        {
            long tokens = checked(b * s);
            long widest = new[]
            {
                _cfg.VocabSize, _cfg.IntermediateSize, _cfg.HiddenSize,
                checked(_cfg.NumAttentionHeads * _cfg.HeadDim),
            }.Max();
            _ = checked(tokens * widest);
            _ = checked(_cfg.VocabSize * _cfg.HiddenSize);
            _ = checked(_cfg.IntermediateSize * _cfg.HiddenSize);
            _ = checked(_cfg.NumAttentionHeads * _cfg.HeadDim * _cfg.HiddenSize);
            // Byte sizes (the cost model multiplies by the element width) must fit too.
            _ = checked(tokens * widest * 8);
        }
        catch (OverflowException)
        {
            throw new ConfigException($"tensor sizes overflow 64 bits (--batch {b} x --seq-len {s} with hidden_size {_cfg.HiddenSize}, intermediate_size {_cfg.IntermediateSize}, vocab_size {_cfg.VocabSize})");
        }
    }

    // ------------------------------------------------------------------ building

    private TensorType T(params long[] shape) => _ctx.Tensor(shape, _dt);

    private Value Op(string name, OpDef def, params Value[] operands) => Op(name, def, null, operands);

    private Value Op(string name, OpDef def, DictionaryAttr? attrs, params Value[] operands)
    {
        var r = _b.Create(def, operands, attrs).Result(0);
        r.NameHint = name;
        return r;
    }

    /// <summary>An op without a shape rule (reshape, cast): the result type is given.</summary>
    private Value Typed(string name, OpDef def, Value operand, Type resultType)
    {
        var r = _b.Create(def.Name, new[] { operand }, new[] { resultType }).Result(0);
        r.NameHint = name;
        return r;
    }

    private Operation Build()
    {
        long bsz = _opt.Batch, s = _opt.SeqLen;
        long h = _cfg.HiddenSize, hq = _cfg.NumAttentionHeads, hkv = _cfg.NumKeyValueHeads, d = _cfg.HeadDim;
        var idsType = _ctx.Tensor(new[] { bsz, s }, _ctx.I64);

        // Signature: input_ids, labels, then the parameters.
        var ps = Params(_cfg, _layers);
        var argTypes = new List<Type> { idsType, idsType };
        var argNames = new List<string> { "input_ids", "labels" };
        var argAttrs = new List<Attribute>
        {
            Dict(("aspir.name", _ctx.String("input_ids")), ("aspir.seq_dim", _ctx.Integer(1))),
            Dict(("aspir.name", _ctx.String("labels")), ("aspir.seq_dim", _ctx.Integer(1))),
        };
        foreach (var p in ps)
        {
            argTypes.Add(T(p.Shape));
            argNames.Add(ArgName(p.HfName));
            argAttrs.Add(Dict(("aspir.param", _ctx.String(p.HfName))));
        }
        var lossType = _ctx.Tensor(ReadOnlySpan<long>.Empty, _dt.Kind == ScalarKind.BF16 ? _ctx.F32 : _dt);

        var module = Operation.Create(_ctx, BuiltinDialect.Module.Name, Array.Empty<Value>(), Array.Empty<Type>(),
            Dict(("sym_name", _ctx.String(_opt.ModuleName))), numRegions: 1, def: BuiltinDialect.Module);
        var moduleBody = module.Region(0).AddBlock();
        var func = Operation.Create(_ctx, FuncDialect.FuncOp.Name, Array.Empty<Value>(), Array.Empty<Type>(),
            Dict(("sym_name", _ctx.String("train_step")),
                 ("function_type", _ctx.TypeAttr(_ctx.Function(argTypes, new Type[] { lossType }))),
                 ("arg_attrs", _ctx.Array(argAttrs.ToArray()))),
            numRegions: 1, def: FuncDialect.FuncOp);
        moduleBody.Append(func);
        var entry = func.Region(0).AddBlock();
        var args = new Dictionary<string, Value>();
        for (int i = 0; i < argTypes.Count; i++)
        {
            var a = entry.AddArgument(argTypes[i]);
            a.NameHint = argNames[i];
            args[i < 2 ? argNames[i] : ps[i - 2].HfName] = a;
        }
        _b = new Builder(_ctx);
        _b.SetInsertionPointToEnd(entry);

        var eps = Dict(("eps", _ctx.Float(_cfg.RmsNormEps)));
        var rope = Dict(("theta", _ctx.Float(_cfg.RopeTheta)));
        var causal = Dict(("causal", _ctx.Unit));

        var x = Op("x0", Embedding.Def, args["model.embed_tokens.weight"], args["input_ids"]);
        for (long i = 0; i < _layers; i++)
        {
            var p = $"model.layers.{i}.";
            Value W(string name) => args[p + name];
            Value[] Proj(Value input, string module) =>
                _cfg.QkvBias && module is "q_proj" or "k_proj" or "v_proj"
                    ? new[] { input, W($"self_attn.{module}.weight"), W($"self_attn.{module}.bias") }
                    : new[] { input, W($"self_attn.{module}.weight") };

            // Attention block: pre-norm, q/k/v, RoPE on q and k, causal GQA attention, o_proj, residual.
            var hn = Op($"h{i}", RmsNorm.Def, eps, x, W("input_layernorm.weight"));
            var q = Op($"q{i}", Linear.Def, Proj(hn, "q_proj"));
            var k = Op($"k{i}", Linear.Def, Proj(hn, "k_proj"));
            var v = Op($"v{i}", Linear.Def, Proj(hn, "v_proj"));
            var q4 = Typed($"q{i}_heads", Reshape.Def, q, T(bsz, s, hq, d));
            var k4 = Typed($"k{i}_heads", Reshape.Def, k, T(bsz, s, hkv, d));
            var v4 = Typed($"v{i}_heads", Reshape.Def, v, T(bsz, s, hkv, d));
            var qr = Op($"q{i}_rope", Rope.Def, rope, q4);
            var kr = Op($"k{i}_rope", Rope.Def, rope, k4);
            var o4 = Op($"attn{i}_heads", Attention.Def, causal, qr, kr, v4);
            var o = Typed($"attn{i}", Reshape.Def, o4, T(bsz, s, hq * d));
            var oProj = Op($"attn{i}_out", Linear.Def, o, W("self_attn.o_proj.weight"));
            var xa = Op($"x{i}_attn", Elementwise.Add, x, oProj);

            // MLP block: pre-norm, SwiGLU, residual.
            var hm = Op($"h{i}_mlp", RmsNorm.Def, eps, xa, W("post_attention_layernorm.weight"));
            var gate = Op($"gate{i}", Linear.Def, hm, W("mlp.gate_proj.weight"));
            var up = Op($"up{i}", Linear.Def, hm, W("mlp.up_proj.weight"));
            var act = Op($"act{i}", Elementwise.Silu, gate);
            var prod = Op($"swiglu{i}", Elementwise.Mul, act, up);
            var down = Op($"mlp{i}_out", Linear.Def, prod, W("mlp.down_proj.weight"));
            x = Op($"x{i + 1}", Elementwise.Add, xa, down);
        }

        // Head and the Hugging Face causal-LM loss (labels unshifted; shift 1; -100 ignored).
        var hf = Op("h_final", RmsNorm.Def, eps, x, args["model.norm.weight"]);
        var head = _cfg.TieWordEmbeddings ? args["model.embed_tokens.weight"] : args["lm_head.weight"];
        var logits = Op("logits", Linear.Def, hf, head);
        if (_dt.Kind == ScalarKind.BF16)
            logits = Typed("logits_f32", Cast.Def, logits, _ctx.Tensor(new[] { bsz, s, _cfg.VocabSize }, _ctx.F32));
        var loss = Op("loss", CrossEntropy.Def,
            Dict(("ignore_index", _ctx.Integer(-100)), ("shift", _ctx.Integer(1))), logits, args["labels"]);
        _b.Create(FuncDialect.Return.Name, new[] { loss }, Array.Empty<Type>());
        return module;
    }

    private DictionaryAttr Dict(params (string Name, Attribute Value)[] entries) =>
        _ctx.Dictionary(entries.Select(e => new KeyValuePair<string, Attribute>(e.Name, e.Value)));
}
