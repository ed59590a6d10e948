using System.Text.Json;
using System.Text.Json.Serialization;
using Transformer2.Core.Svf;

namespace Transformer2.Core.Experts;

/// <summary>The JSON form of <see cref="ExpertMetadata"/> embedded in expert files (snake_case, versioned).</summary>
internal static class ExpertMetadataJson
{
    public const string Format = "transformer2.expert/1";

    static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = false,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    };

    public static string Serialize(ExpertMetadata metadata) => JsonSerializer.Serialize(new Dto
    {
        Format = Format,
        Name = metadata.Name,
        BaseModel = metadata.BaseModelIdentity,
        WeightsFingerprint = metadata.WeightsFingerprint,
        Targets = metadata.Targets.ToList(),
        Parameterization = new ParameterizationDto
        {
            Kind = metadata.Parameterization.Kind == SvfMultiplierKind.Raw ? "raw" : "sigmoid",
            MaxMult = metadata.Parameterization.MaxMultiplier,
            InitMean = metadata.Parameterization.InitMean,
            InitStd = metadata.Parameterization.InitStd,
        },
        Provenance = new SortedDictionary<string, string>(metadata.Provenance.ToDictionary(), StringComparer.Ordinal),
        Scores = new SortedDictionary<string, double>(metadata.Scores.ToDictionary(), StringComparer.Ordinal),
    }, Options);

    /// <exception cref="InvalidDataException">The JSON is malformed or lacks a required field; the message names <paramref name="source"/>.</exception>
    public static ExpertMetadata Deserialize(string json, string source)
    {
        Dto? dto;
        try
        {
            dto = JsonSerializer.Deserialize<Dto>(json, Options);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Expert file '{source}': its metadata is not valid JSON: {e.Message}", e);
        }
        if (dto is null) throw new InvalidDataException($"Expert file '{source}': its metadata is JSON null.");
        if (dto.Format != Format)
            throw new InvalidDataException($"Expert file '{source}': metadata format '{dto.Format}' is not '{Format}'.");
        if (string.IsNullOrWhiteSpace(dto.Name)) throw new InvalidDataException($"Expert file '{source}': metadata has no 'name'.");
        if (dto.Targets is null || dto.Targets.Count == 0) throw new InvalidDataException($"Expert file '{source}': metadata has no 'targets'.");
        if (dto.Targets.Any(string.IsNullOrEmpty)) throw new InvalidDataException($"Expert file '{source}': metadata 'targets' contains an empty name.");
        var p = dto.Parameterization ?? new ParameterizationDto();
        var kind = p.Kind switch
        {
            "sigmoid" => SvfMultiplierKind.Sigmoid,
            "raw" => SvfMultiplierKind.Raw,
            _ => throw new InvalidDataException($"Expert file '{source}': unknown parameterization kind '{p.Kind}' (expected 'sigmoid' or 'raw')."),
        };
        var parameterization = new SvfParameterization { Kind = kind, MaxMultiplier = p.MaxMult, InitMean = p.InitMean, InitStd = p.InitStd };
        try
        {
            parameterization.Validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new InvalidDataException($"Expert file '{source}': invalid parameterization: {e.Message}", e);
        }
        return new ExpertMetadata
        {
            Name = dto.Name,
            BaseModelIdentity = dto.BaseModel ?? "",
            WeightsFingerprint = dto.WeightsFingerprint,
            Targets = dto.Targets,
            Parameterization = parameterization,
            Provenance = dto.Provenance is null ? new Dictionary<string, string>() : new Dictionary<string, string>(dto.Provenance),
            Scores = dto.Scores is null ? new Dictionary<string, double>() : new Dictionary<string, double>(dto.Scores),
        };
    }

    sealed class Dto
    {
        [JsonPropertyName("format")] public string? Format { get; set; }
        [JsonPropertyName("name")] public string? Name { get; set; }
        [JsonPropertyName("base_model")] public string? BaseModel { get; set; }
        [JsonPropertyName("weights_fingerprint")] public string? WeightsFingerprint { get; set; }
        [JsonPropertyName("targets")] public List<string>? Targets { get; set; }
        [JsonPropertyName("parameterization")] public ParameterizationDto? Parameterization { get; set; }
        [JsonPropertyName("provenance")] public IDictionary<string, string>? Provenance { get; set; }
        [JsonPropertyName("scores")] public IDictionary<string, double>? Scores { get; set; }
    }

    sealed class ParameterizationDto
    {
        [JsonPropertyName("kind")] public string Kind { get; set; } = "sigmoid";
        [JsonPropertyName("max_mult")] public double MaxMult { get; set; } = 1.0;
        [JsonPropertyName("init_mean")] public double InitMean { get; set; } = 0.1;
        [JsonPropertyName("init_std")] public double InitStd { get; set; } = 0.01;
    }
}
