using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Transformer2.Core.Svd;

/// <summary>The JSON stored under <c>__metadata__["transformer2.decomposition"]</c> of a cache file.</summary>
internal sealed class DecompositionCacheMetadata
{
    public const string Key = "transformer2.decomposition";
    public const string CurrentFormat = "transformer2.decomposition/2";

    /// <summary>Format 1: every factor fp32, no <c>factor_dtypes</c>. Still read.</summary>
    public const string Format1 = "transformer2.decomposition/1";

    [JsonPropertyName("format")] public string Format { get; set; } = CurrentFormat;
    [JsonPropertyName("model_identity")] public string ModelIdentity { get; set; } = "";
    [JsonPropertyName("weights_fingerprint")] public string WeightsFingerprint { get; set; } = "";
    [JsonPropertyName("target_patterns")] public List<string> TargetPatterns { get; set; } = [];
    [JsonPropertyName("targets")] public List<string> Targets { get; set; } = [];
    [JsonPropertyName("shapes")] public Dictionary<string, long[]> Shapes { get; set; } = [];
    [JsonPropertyName("source_dtypes")] public Dictionary<string, string> SourceDTypes { get; set; } = [];
    [JsonPropertyName("source_dtype")] public string SourceDType { get; set; } = "";
    [JsonPropertyName("factor_dtype")] public string FactorDType { get; set; } = "F32";
    /// <summary>Target → safetensors dtype of its U and V (format 2; format 1 files are all F32).</summary>
    [JsonPropertyName("factor_dtypes")] public Dictionary<string, string>? FactorDTypes { get; set; }
    [JsonPropertyName("library_version")] public string LibraryVersion { get; set; } = "";

    public static string LibraryVersionString =>
        typeof(DecompositionCacheMetadata).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    public string ToJson() => JsonSerializer.Serialize(this);

    public static DecompositionCacheMetadata Parse(string json, string path)
    {
        DecompositionCacheMetadata? metadata;
        try
        {
            metadata = JsonSerializer.Deserialize<DecompositionCacheMetadata>(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Decomposition cache '{path}': its metadata is not valid JSON: {e.Message}", e);
        }
        if (metadata is null) throw new InvalidDataException($"Decomposition cache '{path}': its metadata is JSON null.");
        if (metadata.Format != CurrentFormat && metadata.Format != Format1)
            throw new InvalidDataException($"Decomposition cache '{path}': format '{metadata.Format}' is neither '{CurrentFormat}' nor '{Format1}'.");
        if (metadata.Targets is null || metadata.Targets.Count == 0)
            throw new InvalidDataException($"Decomposition cache '{path}': metadata lists no targets.");
        metadata.Shapes ??= [];
        metadata.SourceDTypes ??= [];
        metadata.TargetPatterns ??= [];
        if (metadata.Format == Format1) metadata.FactorDTypes = null;
        else if (metadata.FactorDTypes is null)
            throw new InvalidDataException($"Decomposition cache '{path}': format '{metadata.Format}' needs 'factor_dtypes'.");
        return metadata;
    }

    /// <summary>The safetensors dtype of <paramref name="target"/>'s U and V.</summary>
    public string FactorDTypeOf(string target) => FactorDTypes is null ? "F32" : FactorDTypes.GetValueOrDefault(target, "");
}

/// <summary>What an interrupted build was building; a partial folder is reused only for the same manifest.</summary>
internal sealed record PartialManifest(
    [property: JsonPropertyName("format")] string Format,
    [property: JsonPropertyName("model_identity")] string ModelIdentity,
    [property: JsonPropertyName("target_patterns")] IReadOnlyList<string> TargetPatterns,
    [property: JsonPropertyName("targets")] IReadOnlyList<string> Targets,
    [property: JsonPropertyName("shapes")] IReadOnlyList<long[]> Shapes,
    [property: JsonPropertyName("factor_storage")] string FactorStorage)
{
    public const string FileName = "manifest.json";

    public bool SameAs(PartialManifest? other) =>
        other is not null && Format == other.Format && ModelIdentity == other.ModelIdentity && FactorStorage == other.FactorStorage
        && TargetPatterns.SequenceEqual(other.TargetPatterns) && Targets.SequenceEqual(other.Targets)
        && Shapes.Count == other.Shapes.Count && Shapes.Zip(other.Shapes).All(p => p.First.SequenceEqual(p.Second));
}
