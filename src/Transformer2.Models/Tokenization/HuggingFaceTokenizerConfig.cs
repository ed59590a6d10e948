using System.Text.Json;

namespace Transformer2.Models.Tokenization;

/// <summary>
/// The parts of a checkpoint's <c>tokenizer_config.json</c> and <c>generation_config.json</c> that tokenizers need:
/// the names of the BOS/EOS/PAD tokens, the added (special) tokens and the generation stop ids.
/// </summary>
internal sealed class HuggingFaceTokenizerConfig
{
    public string? BosToken { get; private init; }
    public string? EosToken { get; private init; }
    public string? PadToken { get; private init; }

    /// <summary>Added tokens by id (<c>added_tokens_decoder</c>), with whether each is special.</summary>
    public IReadOnlyDictionary<int, (string Content, bool Special)> AddedTokens { get; private init; } =
        new Dictionary<int, (string, bool)>();

    /// <summary>Stop ids from <c>generation_config.json</c> (<c>eos_token_id</c>, a number or a list).</summary>
    public IReadOnlyList<int> GenerationEosIds { get; private init; } = [];

    public static readonly HuggingFaceTokenizerConfig Empty = new();

    /// <summary>Reads <c>tokenizer_config.json</c> and <c>generation_config.json</c> from <paramref name="folder"/> when present.</summary>
    public static HuggingFaceTokenizerConfig LoadFromFolder(string folder)
    {
        var configPath = Path.Combine(folder, "tokenizer_config.json");
        var generationPath = Path.Combine(folder, "generation_config.json");
        var config = File.Exists(configPath) ? Load(configPath) : Empty;
        if (!File.Exists(generationPath)) return config;
        return new HuggingFaceTokenizerConfig
        {
            BosToken = config.BosToken,
            EosToken = config.EosToken,
            PadToken = config.PadToken,
            AddedTokens = config.AddedTokens,
            GenerationEosIds = ReadGenerationEosIds(generationPath),
        };
    }

    /// <summary>Reads one <c>tokenizer_config.json</c>.</summary>
    /// <exception cref="InvalidDataException">The file is not valid JSON or a key has the wrong type; the message names file and key.</exception>
    public static HuggingFaceTokenizerConfig Load(string path)
    {
        using var document = ParseJson(path);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{path}: the top level must be a JSON object.");

        var added = new Dictionary<int, (string, bool)>();
        if (root.TryGetProperty("added_tokens_decoder", out var decoder))
        {
            if (decoder.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path}: 'added_tokens_decoder' must be an object.");
            foreach (var entry in decoder.EnumerateObject())
            {
                if (!int.TryParse(entry.Name, out var id) || id < 0)
                    throw new InvalidDataException($"{path}: 'added_tokens_decoder' key '{entry.Name}' is not a token id.");
                if (entry.Value.ValueKind != JsonValueKind.Object ||
                    !entry.Value.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
                    throw new InvalidDataException($"{path}: 'added_tokens_decoder.{entry.Name}.content' must be a string.");
                var special = entry.Value.TryGetProperty("special", out var s) && s.ValueKind == JsonValueKind.True;
                added[id] = (content.GetString()!, special);
            }
        }

        return new HuggingFaceTokenizerConfig
        {
            BosToken = ReadTokenName(root, "bos_token", path),
            EosToken = ReadTokenName(root, "eos_token", path),
            PadToken = ReadTokenName(root, "pad_token", path),
            AddedTokens = added,
        };
    }

    internal static JsonDocument ParseJson(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            return JsonDocument.Parse(stream, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({e.Message}).", e);
        }
    }

    // A token name is either a plain string or an AddedToken object {"content": ...}; null means "none".
    private static string? ReadTokenName(JsonElement root, string key, string path)
    {
        if (!root.TryGetProperty(key, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind == JsonValueKind.String) return value.GetString();
        if (value.ValueKind == JsonValueKind.Object && value.TryGetProperty("content", out var content) &&
            content.ValueKind == JsonValueKind.String)
            return content.GetString();
        throw new InvalidDataException($"{path}: '{key}' must be a string or an object with a 'content' string.");
    }

    private static IReadOnlyList<int> ReadGenerationEosIds(string path)
    {
        using var document = ParseJson(path);
        if (document.RootElement.ValueKind != JsonValueKind.Object ||
            !document.RootElement.TryGetProperty("eos_token_id", out var eos) || eos.ValueKind == JsonValueKind.Null)
            return [];
        if (eos.ValueKind == JsonValueKind.Number && eos.TryGetInt32(out var single)) return [single];
        if (eos.ValueKind == JsonValueKind.Array)
        {
            var ids = new List<int>();
            foreach (var item in eos.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out var id))
                    throw new InvalidDataException($"{path}: 'eos_token_id' entries must be integers.");
                ids.Add(id);
            }
            return ids;
        }
        throw new InvalidDataException($"{path}: 'eos_token_id' must be an integer or a list of integers.");
    }
}
