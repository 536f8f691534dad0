using System.Globalization;
using System.Text.Json;

namespace AutoSpIR.Tools.Gen;

/// <summary>A config that cannot be turned into a correct program; the message names the key.</summary>
public sealed class ConfigException(string message) : Exception(message);

/// <summary>
/// The fields of a Hugging Face <c>config.json</c> that define a Llama-family decoder
/// (model_type llama, mistral, qwen2), read with the defaults of the matching
/// <c>transformers</c> config class (<c>LlamaConfig</c>, <c>MistralConfig</c>, <c>Qwen2Config</c>).
/// Features the generator cannot express exactly are rejected here or in
/// <see cref="CheckSupported"/>, naming the key, rather than approximated.
/// </summary>
public sealed class HfConfig
{
    public static readonly string[] SupportedModelTypes = { "llama", "mistral", "qwen2" };

    public required string ModelType { get; init; }
    public required long HiddenSize { get; init; }
    public required long IntermediateSize { get; init; }
    /// <summary>num_hidden_layers, or null when the config does not say (then --layers must).</summary>
    public required long? NumHiddenLayers { get; init; }
    public required long NumAttentionHeads { get; init; }
    public required long NumKeyValueHeads { get; init; }
    /// <summary>head_dim, or hidden_size / num_attention_heads when absent.</summary>
    public required long HeadDim { get; init; }
    public required long VocabSize { get; init; }
    public required double RmsNormEps { get; init; }
    public required double RopeTheta { get; init; }
    public required bool TieWordEmbeddings { get; init; }
    /// <summary>Biases on q_proj, k_proj and v_proj (qwen2).</summary>
    public required bool QkvBias { get; init; }

    /// <summary>The sliding window of each layer index that uses one, as a function (null: no window anywhere).</summary>
    private Func<long, long?> _windowOf = _ => null;
    private string _windowKey = "sliding_window";

    /// <summary>Parses and validates <paramref name="json"/>; throws <see cref="ConfigException"/> naming the offending key.</summary>
    public static HfConfig Parse(string json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new ConfigException($"not valid JSON: {e.Message}");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new ConfigException("expected a JSON object (a Hugging Face config.json)");
            return FromObject(root);
        }
    }

    private static HfConfig FromObject(JsonElement root)
    {
        var r = new Reader(root);
        var modelType = r.String("model_type") ?? throw new ConfigException("missing key 'model_type' (expected one of: llama, mistral, qwen2)");
        if (Array.IndexOf(SupportedModelTypes, modelType) < 0)
            throw new ConfigException($"unsupported model_type '{modelType}' (supported: {string.Join(", ", SupportedModelTypes)})");

        long hidden = r.RequiredPositive("hidden_size");
        long intermediate = r.RequiredPositive("intermediate_size");
        long heads = r.RequiredPositive("num_attention_heads");
        long vocab = r.RequiredPositive("vocab_size");
        long? layers = r.Int("num_hidden_layers");
        if (layers is < 0) throw new ConfigException($"'num_hidden_layers' must be >= 0, but is {layers}");
        long kvHeads = r.Int("num_key_value_heads") ?? heads;
        if (kvHeads <= 0) throw new ConfigException($"'num_key_value_heads' must be a positive integer, but is {kvHeads}");
        if (heads % kvHeads != 0)
            throw new ConfigException($"'num_attention_heads' ({heads}) must be a multiple of 'num_key_value_heads' ({kvHeads}) for grouped-query attention");

        long headDim;
        if (r.Int("head_dim") is { } hd)
        {
            if (hd <= 0) throw new ConfigException($"'head_dim' must be a positive integer, but is {hd}");
            headDim = hd;
        }
        else
        {
            if (hidden % heads != 0)
                throw new ConfigException($"'hidden_size' ({hidden}) is not a multiple of 'num_attention_heads' ({heads}) and there is no 'head_dim'");
            headDim = hidden / heads;
        }
        if (headDim % 2 != 0) throw new ConfigException($"the head dimension ('head_dim' or hidden_size / num_attention_heads) is {headDim}: rotary embeddings need an even size");

        // Defaults as in transformers' LlamaConfig / MistralConfig / Qwen2Config.
        double eps = r.Float("rms_norm_eps") ?? 1e-6;
        if (!(eps >= 0) || double.IsInfinity(eps)) throw new ConfigException($"'rms_norm_eps' must be a finite number >= 0, but is {Fmt(eps)}");

        string act = r.String("hidden_act") ?? "silu";
        if (act != "silu")
            throw new ConfigException($"'hidden_act' is \"{act}\": only \"silu\" is supported (the SwiGLU MLP down(silu(gate(x)) * up(x)))");

        double theta = ReadRope(r);

        if (r.Float("attention_dropout") is { } drop && drop != 0)
            throw new ConfigException($"'attention_dropout' is {Fmt(drop)}: attention dropout in training is not supported (it must be 0)");

        bool qkvBias = false;
        if (modelType == "llama")
        {
            if (r.Bool("attention_bias") == true)
                throw new ConfigException("'attention_bias' is true: biases on the llama attention projections are not supported");
            if (r.Bool("mlp_bias") == true)
                throw new ConfigException("'mlp_bias' is true: biases on the llama MLP projections are not supported");
        }
        else if (modelType == "qwen2") qkvBias = true;   // Qwen2Attention: q/k/v with bias, o_proj without

        var config = new HfConfig
        {
            ModelType = modelType,
            HiddenSize = hidden,
            IntermediateSize = intermediate,
            NumHiddenLayers = layers,
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            HeadDim = headDim,
            VocabSize = vocab,
            RmsNormEps = eps,
            RopeTheta = theta,
            TieWordEmbeddings = r.Bool("tie_word_embeddings") ?? false,
            QkvBias = qkvBias,
        };
        config.ReadSlidingWindow(r);
        return config;
    }

    /// <summary>rope_theta (default 10000), or rope_parameters.rope_theta; any RoPE scaling is rejected.</summary>
    private static double ReadRope(Reader r)
    {
        double theta = r.Float("rope_theta") ?? 10000.0;
        if (r.Has("rope_scaling", out var scaling) && scaling.ValueKind != JsonValueKind.Null)
        {
            // {"rope_type": "default"} is plain RoPE; any other scaling changes the frequencies.
            if (!IsDefaultRope(scaling, out var text))
                throw new ConfigException($"'rope_scaling' is {text}: RoPE scaling is not supported (it must be null)");
        }
        if (r.Has("rope_parameters", out var parameters) && parameters.ValueKind != JsonValueKind.Null)
        {
            if (!IsDefaultRope(parameters, out var text))
                throw new ConfigException($"'rope_parameters' is {text}: only rope_type \"default\" (plain RoPE) is supported");
            if (parameters.TryGetProperty("rope_theta", out var t))
            {
                if (t.ValueKind != JsonValueKind.Number) throw new ConfigException($"'rope_parameters.rope_theta' must be a number, but is {t.GetRawText()}");
                theta = t.GetDouble();
            }
        }
        if (!(theta > 0) || double.IsInfinity(theta)) throw new ConfigException($"'rope_theta' must be a finite number > 0, but is {Fmt(theta)}");
        return theta;
    }

    private static bool IsDefaultRope(JsonElement e, out string text)
    {
        text = e.GetRawText();
        if (e.ValueKind != JsonValueKind.Object) return false;
        foreach (var p in e.EnumerateObject())
        {
            switch (p.Name)
            {
                case "rope_type" or "type":
                    if (p.Value.ValueKind != JsonValueKind.String || p.Value.GetString() != "default") return false;
                    break;
                case "rope_theta":
                    break;
                default:
                    return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Mistral: <c>sliding_window</c> (MistralConfig default 4096; null means none) on every layer.
    /// Qwen2: only with <c>use_sliding_window</c>, on the layers <c>layer_types</c> marks
    /// "sliding_attention" or, without it, the layers from <c>max_window_layers</c> (default 28) on.
    /// Llama has no sliding window.
    /// </summary>
    private void ReadSlidingWindow(Reader r)
    {
        if (ModelType == "mistral")
        {
            long? window = r.Has("sliding_window", out _) ? r.Int("sliding_window") : 4096;
            _windowOf = _ => window;
            _windowKey = "sliding_window";
        }
        else if (ModelType == "qwen2" && r.Bool("use_sliding_window") == true)
        {
            long? window = r.Has("sliding_window", out _) ? r.Int("sliding_window") : 4096;
            if (window is null) return;
            long maxWindowLayers = r.Int("max_window_layers") ?? 28;
            string[]? layerTypes = null;
            if (r.Has("layer_types", out var lt) && lt.ValueKind == JsonValueKind.Array)
                layerTypes = lt.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString()! : e.GetRawText()).ToArray();
            _windowOf = i => (layerTypes is not null ? i < layerTypes.Length && layerTypes[i] == "sliding_attention" : i >= maxWindowLayers) ? window : null;
            _windowKey = "use_sliding_window";
        }
    }

    /// <summary>Rejects what depends on the program's shape: a sliding window that would mask keys at this length.</summary>
    public void CheckSupported(long seqLen, long layers)
    {
        for (long i = 0; i < layers; i++)
        {
            // Query i sees keys j with i - j < window: no key is cut off while window >= seqLen.
            if (_windowOf(i) is { } window && window < seqLen)
            {
                var what = _windowKey == "sliding_window"
                    ? $"'sliding_window' is {window}, smaller than --seq-len {seqLen}"
                    : $"'use_sliding_window' is true with 'sliding_window' {window}, smaller than --seq-len {seqLen}, on layer {i}";
                throw new ConfigException($"{what}: sliding-window attention is not supported (use a sequence of at most {window} tokens)");
            }
        }
    }

    private static string Fmt(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Typed access to the config's keys; a present key of the wrong type is an error naming it.</summary>
    private readonly struct Reader(JsonElement root)
    {
        public bool Has(string key, out JsonElement value)
        {
            if (root.TryGetProperty(key, out value)) return true;
            value = default;
            return false;
        }

        private JsonElement? Present(string key) =>
            root.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

        public string? String(string key)
        {
            if (Present(key) is not { } v) return null;
            if (v.ValueKind != JsonValueKind.String) throw new ConfigException($"'{key}' must be a string, but is {v.GetRawText()}");
            return v.GetString();
        }

        public long? Int(string key)
        {
            if (Present(key) is not { } v) return null;
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out var n))
                throw new ConfigException($"'{key}' must be an integer, but is {v.GetRawText()}");
            return n;
        }

        public long RequiredPositive(string key)
        {
            var n = Int(key) ?? throw new ConfigException($"missing key '{key}'");
            if (n <= 0) throw new ConfigException($"'{key}' must be a positive integer, but is {n}");
            return n;
        }

        public double? Float(string key)
        {
            if (Present(key) is not { } v) return null;
            if (v.ValueKind != JsonValueKind.Number) throw new ConfigException($"'{key}' must be a number, but is {v.GetRawText()}");
            return v.GetDouble();
        }

        public bool? Bool(string key)
        {
            if (Present(key) is not { } v) return null;
            return v.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw new ConfigException($"'{key}' must be true or false, but is {v.GetRawText()}"),
            };
        }
    }
}
