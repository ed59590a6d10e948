using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Transformer2.Models.Llama;

/// <summary>
/// The architecture of a LLaMA-family decoder (LLaMA 2/3, Mistral), as Hugging Face's <c>config.json</c> describes it.
/// </summary>
/// <remarks>Mistral is LLaMA plus an optional sliding attention window; <see cref="ModelType"/> tells them apart.</remarks>
public sealed record LlamaConfig
{
    /// <summary>The <c>model_type</c> of LLaMA checkpoints.</summary>
    public const string LlamaModelType = "llama";

    /// <summary>The <c>model_type</c> of Mistral checkpoints.</summary>
    public const string MistralModelType = "mistral";

    /// <summary><c>model_type</c>: <c>llama</c> or <c>mistral</c>.</summary>
    public string ModelType { get; init; } = LlamaModelType;

    /// <summary><c>hidden_size</c>: width of the residual stream.</summary>
    public int HiddenSize { get; init; }

    /// <summary><c>intermediate_size</c>: width of the SwiGLU MLP.</summary>
    public int IntermediateSize { get; init; }

    /// <summary><c>num_hidden_layers</c>.</summary>
    public int NumHiddenLayers { get; init; }

    /// <summary><c>num_attention_heads</c>: query heads.</summary>
    public int NumAttentionHeads { get; init; }

    /// <summary><c>num_key_value_heads</c>: key/value heads (grouped-query attention when fewer than query heads).</summary>
    public int NumKeyValueHeads { get; init; }

    /// <summary><c>head_dim</c>; <c>hidden_size / num_attention_heads</c> when the file leaves it out.</summary>
    public int HeadDim { get; init; }

    /// <summary><c>rms_norm_eps</c>.</summary>
    public double RmsNormEps { get; init; } = 1e-6;

    /// <summary><c>rope_theta</c>: the rotary base.</summary>
    public double RopeTheta { get; init; } = 10000;

    /// <summary><c>rope_scaling</c>, or <see langword="null"/> for plain rotary embeddings.</summary>
    public RopeScaling? RopeScaling { get; init; }

    /// <summary><c>max_position_embeddings</c>: the longest context the model supports.</summary>
    public int MaxPositionEmbeddings { get; init; } = 2048;

    /// <summary><c>vocab_size</c>.</summary>
    public int VocabSize { get; init; }

    /// <summary><c>tie_word_embeddings</c>: the LM head reuses the input embedding matrix.</summary>
    public bool TieWordEmbeddings { get; init; }

    /// <summary><c>sliding_window</c> (Mistral): each token sees at most this many tokens, itself included; <see langword="null"/> for full attention.</summary>
    public int? SlidingWindow { get; init; }

    /// <summary><c>bos_token_id</c>, if any.</summary>
    public int? BosTokenId { get; init; }

    /// <summary><c>eos_token_id</c>: one id or a list of ids that end a turn.</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];

    /// <summary><c>torch_dtype</c> as written (for example <c>bfloat16</c>), or <see langword="null"/>.</summary>
    public string? TorchDtype { get; init; }

    /// <summary>Query heads per key/value head.</summary>
    public int KeyValueGroups => NumAttentionHeads / NumKeyValueHeads;

    /// <summary>Reads and validates <paramref name="path"/> (a <c>config.json</c> file).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not valid JSON or a key is missing or out of range; the message names the file and the key.</exception>
    public static LlamaConfig Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Model config '{path}' does not exist.", path);
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses and validates the text of a <c>config.json</c>; <paramref name="source"/> names it in error messages.</summary>
    /// <exception cref="InvalidDataException">The text is not valid JSON or a key is missing or out of range.</exception>
    public static LlamaConfig Parse(string json, string source = "config.json")
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Model config '{source}' is not valid JSON: {e.Message}", e);
        }
        using (document)
        {
            var reader = new ConfigReader(document.RootElement, source);
            string modelType = reader.String("model_type") ?? LlamaModelType;
            int hidden = reader.RequiredInt("hidden_size");
            int heads = reader.RequiredInt("num_attention_heads");
            var config = new LlamaConfig
            {
                ModelType = modelType,
                HiddenSize = hidden,
                IntermediateSize = reader.RequiredInt("intermediate_size"),
                NumHiddenLayers = reader.RequiredInt("num_hidden_layers"),
                NumAttentionHeads = heads,
                NumKeyValueHeads = reader.Int("num_key_value_heads") ?? heads,
                HeadDim = reader.Int("head_dim") ?? (heads > 0 ? hidden / heads : 0),
                RmsNormEps = reader.Double("rms_norm_eps") ?? 1e-6,
                RopeTheta = reader.Double("rope_theta") ?? 10000,
                RopeScaling = reader.RopeScaling("rope_scaling"),
                MaxPositionEmbeddings = reader.Int("max_position_embeddings") ?? 2048,
                VocabSize = reader.RequiredInt("vocab_size"),
                TieWordEmbeddings = reader.Bool("tie_word_embeddings") ?? false,
                SlidingWindow = reader.Int("sliding_window"),
                BosTokenId = reader.Int("bos_token_id"),
                EosTokenIds = reader.IntOrIntList("eos_token_id"),
                TorchDtype = reader.String("torch_dtype"),
            };
            config.Validate(source);
            return config;
        }
    }

    /// <summary>Checks that every value is in range and consistent with the others.</summary>
    /// <param name="source">Names the config in error messages.</param>
    /// <exception cref="InvalidDataException">A value is out of range; the message names the key.</exception>
    public void Validate(string source = "config.json")
    {
        void Fail(string key, object? value, string rule) =>
            throw new InvalidDataException($"Model config '{source}': '{key}' {rule} (got {Convert.ToString(value, CultureInfo.InvariantCulture) ?? "null"}).");

        if (ModelType is not (LlamaModelType or MistralModelType)) Fail("model_type", ModelType, "must be 'llama' or 'mistral'");
        if (HiddenSize <= 0) Fail("hidden_size", HiddenSize, "must be positive");
        if (IntermediateSize <= 0) Fail("intermediate_size", IntermediateSize, "must be positive");
        if (NumHiddenLayers <= 0) Fail("num_hidden_layers", NumHiddenLayers, "must be positive");
        if (NumAttentionHeads <= 0) Fail("num_attention_heads", NumAttentionHeads, "must be positive");
        if (NumKeyValueHeads <= 0 || NumAttentionHeads % NumKeyValueHeads != 0)
            Fail("num_key_value_heads", NumKeyValueHeads, $"must be positive and divide num_attention_heads = {NumAttentionHeads}");
        if (HeadDim <= 0 || HeadDim % 2 != 0) Fail("head_dim", HeadDim, "must be positive and even (rotary embeddings rotate pairs)");
        if (!(RmsNormEps > 0) || double.IsInfinity(RmsNormEps)) Fail("rms_norm_eps", RmsNormEps, "must be a positive number");
        if (!(RopeTheta > 0) || double.IsInfinity(RopeTheta)) Fail("rope_theta", RopeTheta, "must be a positive number");
        if (MaxPositionEmbeddings <= 0) Fail("max_position_embeddings", MaxPositionEmbeddings, "must be positive");
        if (VocabSize <= 0) Fail("vocab_size", VocabSize, "must be positive");
        if (SlidingWindow is <= 0) Fail("sliding_window", SlidingWindow, "must be positive or null");
        if (BosTokenId is { } bos && (bos < 0 || bos >= VocabSize)) Fail("bos_token_id", bos, $"must be in [0, vocab_size = {VocabSize})");
        foreach (int eos in EosTokenIds)
            if (eos < 0 || eos >= VocabSize) Fail("eos_token_id", eos, $"must be in [0, vocab_size = {VocabSize})");
        if (RopeScaling is { } scaling)
        {
            if (scaling.Type is not (RopeScaling.Llama3Type or RopeScaling.LinearType))
                Fail("rope_scaling.rope_type", scaling.Type, "must be 'llama3' or 'linear' (other kinds are not supported)");
            if (!(scaling.Factor > 0) || double.IsInfinity(scaling.Factor)) Fail("rope_scaling.factor", scaling.Factor, "must be a positive number");
            if (scaling.Type == RopeScaling.Llama3Type)
            {
                if (!(scaling.LowFreqFactor > 0)) Fail("rope_scaling.low_freq_factor", scaling.LowFreqFactor, "must be positive");
                if (!(scaling.HighFreqFactor > scaling.LowFreqFactor))
                    Fail("rope_scaling.high_freq_factor", scaling.HighFreqFactor, $"must be greater than low_freq_factor = {scaling.LowFreqFactor}");
                if (scaling.OriginalMaxPositionEmbeddings <= 0)
                    Fail("rope_scaling.original_max_position_embeddings", scaling.OriginalMaxPositionEmbeddings, "must be positive");
            }
        }
    }

    /// <summary>Writes this config in Hugging Face's <c>config.json</c> form.</summary>
    public string ToJson()
    {
        bool mistral = ModelType == MistralModelType;
        var root = new JsonObject
        {
            ["architectures"] = new JsonArray(mistral ? "MistralForCausalLM" : "LlamaForCausalLM"),
            ["model_type"] = ModelType,
            ["hidden_size"] = HiddenSize,
            ["intermediate_size"] = IntermediateSize,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["num_attention_heads"] = NumAttentionHeads,
            ["num_key_value_heads"] = NumKeyValueHeads,
            ["head_dim"] = HeadDim,
            ["hidden_act"] = "silu",
            ["rms_norm_eps"] = RmsNormEps,
            ["rope_theta"] = RopeTheta,
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            ["vocab_size"] = VocabSize,
            ["tie_word_embeddings"] = TieWordEmbeddings,
        };
        if (RopeScaling is { } s)
        {
            var scaling = new JsonObject { ["rope_type"] = s.Type, ["factor"] = s.Factor };
            if (s.Type == RopeScaling.Llama3Type)
            {
                scaling["low_freq_factor"] = s.LowFreqFactor;
                scaling["high_freq_factor"] = s.HighFreqFactor;
                scaling["original_max_position_embeddings"] = s.OriginalMaxPositionEmbeddings;
            }
            root["rope_scaling"] = scaling;
        }
        if (mistral) root["sliding_window"] = SlidingWindow;
        if (BosTokenId is { } bos) root["bos_token_id"] = bos;
        if (EosTokenIds.Count == 1) root["eos_token_id"] = EosTokenIds[0];
        else if (EosTokenIds.Count > 1) root["eos_token_id"] = new JsonArray(EosTokenIds.Select(id => (JsonNode)id).ToArray());
        if (TorchDtype is not null) root["torch_dtype"] = TorchDtype;
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Reads typed values from a config object; every failure names the source and the key.</summary>
    readonly struct ConfigReader(JsonElement root, string source, string prefix = "")
    {
        InvalidDataException Wrong(string key, JsonElement value, string expected) =>
            new($"Model config '{source}': '{prefix}{key}' must be {expected} (got {value.GetRawText()}).");

        bool TryGet(JsonElement obj, string key, out JsonElement value)
        {
            if (obj.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"Model config '{source}' must be a JSON object (got {obj.ValueKind}).");
            return obj.TryGetProperty(key, out value) && value.ValueKind != JsonValueKind.Null;
        }

        public int RequiredInt(string key) =>
            Int(key) ?? throw new InvalidDataException($"Model config '{source}' is missing the required key '{prefix}{key}'.");

        public int? Int(string key) => TryGet(root, key, out var v) ? AsInt(key, v) : null;

        int AsInt(string key, JsonElement v) =>
            v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i : throw Wrong(key, v, "an integer");

        public double? Double(string key) => TryGet(root, key, out var v) ? AsDouble(key, v) : null;

        double AsDouble(string key, JsonElement v) =>
            v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && double.IsFinite(d) ? d : throw Wrong(key, v, "a number");

        public bool? Bool(string key) =>
            !TryGet(root, key, out var v) ? null
            : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : throw Wrong(key, v, "true or false");

        public string? String(string key) =>
            !TryGet(root, key, out var v) ? null
            : v.ValueKind == JsonValueKind.String ? v.GetString() : throw Wrong(key, v, "a string");

        public IReadOnlyList<int> IntOrIntList(string key)
        {
            if (!TryGet(root, key, out var v)) return [];
            if (v.ValueKind != JsonValueKind.Array) return [AsInt(key, v)];
            var ids = new List<int>();
            foreach (var item in v.EnumerateArray()) ids.Add(AsInt(key, item));
            return ids;
        }

        public RopeScaling? RopeScaling(string key)
        {
            if (!TryGet(root, key, out var v)) return null;
            if (v.ValueKind != JsonValueKind.Object) throw Wrong(key, v, "an object or null");
            var inner = new ConfigReader(v, source, key + ".");
            // Older configs say "type", newer ones "rope_type".
            string type = inner.String("rope_type") ?? inner.String("type")
                ?? throw new InvalidDataException($"Model config '{source}': '{key}' has no 'rope_type'.");
            if (type == "default") return null;
            double factor = inner.Double("factor") ?? throw new InvalidDataException($"Model config '{source}': '{key}.factor' is missing.");
            if (type != Llama.RopeScaling.Llama3Type) return new RopeScaling(type, factor);
            return Llama.RopeScaling.Llama3(
                factor,
                inner.Double("low_freq_factor") ?? throw new InvalidDataException($"Model config '{source}': '{key}.low_freq_factor' is missing."),
                inner.Double("high_freq_factor") ?? throw new InvalidDataException($"Model config '{source}': '{key}.high_freq_factor' is missing."),
                inner.Int("original_max_position_embeddings")
                    ?? throw new InvalidDataException($"Model config '{source}': '{key}.original_max_position_embeddings' is missing."));
        }
    }
}
