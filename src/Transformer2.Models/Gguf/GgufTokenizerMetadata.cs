using System.Text.Json;
using Transformer2.Models.Llama;
using Transformer2.Models.Tokenization;

namespace Transformer2.Models.Gguf;

/// <summary>
/// The <c>tokenizer.ggml.*</c> keys llama.cpp needs to tokenize by itself, read from a Hugging Face byte-level BPE
/// <c>tokenizer.json</c> (Llama-3's kind) the way llama.cpp's <c>convert_hf_to_gguf.py</c> writes them: model
/// <c>gpt2</c>, pre-tokenizer <c>llama-bpe</c>, every token by id, token types (1 normal, 3 control, 4 user-defined,
/// 5 unused padding up to the model's vocabulary), merges as "left right" strings, and the BOS/EOS ids.
/// </summary>
internal static class GgufTokenizerMetadata
{
    const int Normal = 1, Control = 3, UserDefined = 4, Unused = 5;

    /// <summary>Adds the tokenizer of <paramref name="tokenizerJsonPath"/> to <paramref name="gguf"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not a byte-level BPE tokenizer with the Llama-3 split, or its ids do not fit the model; the message names file and key.</exception>
    public static void Add(GgufWriter gguf, string tokenizerJsonPath, LlamaConfig config)
    {
        using var document = HuggingFaceTokenizerConfig.ParseJson(tokenizerJsonPath);
        var root = document.RootElement;
        string Where(string key) => $"{tokenizerJsonPath}: '{key}'";
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{Where("model")} is missing.");
        if (!model.TryGetProperty("type", out var type) || type.GetString() != "BPE")
            throw new InvalidDataException($"{Where("model.type")} must be \"BPE\": only byte-level BPE (Llama-3) tokenizers are exported to GGUF; export without the tokenizer otherwise.");
        string? split = SplitPattern(root);
        if (split != Llama3Tokenizer.PreTokenizerPattern)
            throw new InvalidDataException($"{Where("pre_tokenizer")} is not the Llama-3 split, the only pre-tokenizer this exporter names for llama.cpp ('llama-bpe').");
        if (!model.TryGetProperty("vocab", out var vocab) || vocab.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{Where("model.vocab")} must be an object.");

        var tokens = new string?[config.VocabSize];
        var types = new int[config.VocabSize];
        void Put(int id, string content, int tokenType, string key)
        {
            if (id < 0 || id >= tokens.Length)
                throw new InvalidDataException($"{Where(key)}: token '{content}' has id {id}, outside the model's vocabulary of {tokens.Length}.");
            tokens[id] = content;
            types[id] = tokenType;
        }
        foreach (var entry in vocab.EnumerateObject())
        {
            if (!entry.Value.TryGetInt32(out int id)) throw new InvalidDataException($"{Where("model.vocab")} entry '{entry.Name}' has no integer id.");
            Put(id, entry.Name, Normal, "model.vocab");
        }
        foreach (var (id, content, special) in TokenizerJsonAddedTokens.Read(root, Where("added_tokens")))
            Put(id, content, special ? Control : UserDefined, "added_tokens");
        for (int id = 0; id < tokens.Length; id++)
        {
            if (tokens[id] is not null) continue;
            tokens[id] = $"[PAD{id}]";   // convert_hf_to_gguf's filler for ids the tokenizer does not use
            types[id] = Unused;
        }

        var merges = new List<string>();
        if (model.TryGetProperty("merges", out var mergeList) && mergeList.ValueKind == JsonValueKind.Array)
        {
            foreach (var merge in mergeList.EnumerateArray())
            {
                merges.Add(merge.ValueKind switch
                {
                    JsonValueKind.String => merge.GetString()!,
                    JsonValueKind.Array when merge.GetArrayLength() == 2 => $"{merge[0].GetString()} {merge[1].GetString()}",
                    _ => throw new InvalidDataException($"{Where("model.merges")} has an entry that is neither \"a b\" nor [\"a\", \"b\"]: {merge.GetRawText()}."),
                });
            }
        }

        gguf.AddString("tokenizer.ggml.model", "gpt2");
        gguf.AddString("tokenizer.ggml.pre", "llama-bpe");
        gguf.AddStringArray("tokenizer.ggml.tokens", tokens!);
        gguf.AddInt32Array("tokenizer.ggml.token_type", types);
        gguf.AddStringArray("tokenizer.ggml.merges", merges);
        if (config.BosTokenId is { } bos) gguf.AddUInt32("tokenizer.ggml.bos_token_id", (uint)bos);
        if (config.EosTokenIds.Count > 0) gguf.AddUInt32("tokenizer.ggml.eos_token_id", (uint)config.EosTokenIds[0]);
    }

    static string? SplitPattern(JsonElement root)
    {
        if (!root.TryGetProperty("pre_tokenizer", out var pre) || pre.ValueKind != JsonValueKind.Object) return null;
        var candidates = pre.TryGetProperty("pretokenizers", out var list) && list.ValueKind == JsonValueKind.Array ? list.EnumerateArray().ToArray() : [pre];
        foreach (var candidate in candidates)
        {
            if (candidate.TryGetProperty("type", out var t) && t.GetString() == "Split" &&
                candidate.TryGetProperty("pattern", out var p) && p.TryGetProperty("Regex", out var regex) && regex.ValueKind == JsonValueKind.String)
                return regex.GetString();
        }
        return null;
    }
}
