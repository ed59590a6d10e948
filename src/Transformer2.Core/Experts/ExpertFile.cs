using TorchSharp;
using Transformer2.Core.IO;

namespace Transformer2.Core.Experts;

/// <summary>
/// Reads and writes expert files: one safetensors file holding the vectors, with the metadata as JSON under the
/// <c>__metadata__</c> key <see cref="MetadataKey"/>.
/// </summary>
public static class ExpertFile
{
    /// <summary>The <c>__metadata__</c> key that holds the expert's JSON metadata.</summary>
    public const string MetadataKey = "transformer2.expert";

    /// <summary>Writes <paramref name="expert"/> to <paramref name="path"/> atomically.</summary>
    /// <param name="expert">The expert to save; its vectors keep their dtype.</param>
    /// <param name="path">Target file (conventionally <c>*.safetensors</c>).</param>
    public static void Save(Expert expert, string path)
    {
        ArgumentNullException.ThrowIfNull(expert);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt", // lets Python's safetensors.torch load the vectors too
            [MetadataKey] = ExpertMetadataJson.Serialize(expert.Metadata),
        };
        SafetensorsWriter.Write(path, expert.Vectors, metadata);
    }

    /// <summary>Loads and validates an expert file.</summary>
    /// <param name="path">The expert file.</param>
    /// <param name="dtype">Convert the vectors to this dtype; <c>null</c> keeps the stored dtype.</param>
    /// <returns>The expert; the caller owns (and disposes) it.</returns>
    /// <exception cref="InvalidDataException">
    /// The file is not a valid safetensors file, lacks or has malformed metadata, or a vector is missing, extra,
    /// not 1-D, not floating point, or holds NaN/Inf. The message names the file and key.
    /// </exception>
    public static Expert Load(string path, torch.ScalarType? dtype = null)
    {
        using var file = SafetensorsFile.Open(path);
        if (!file.Metadata.TryGetValue(MetadataKey, out string? json))
            throw new InvalidDataException($"Expert file '{file.Path}' has no '{MetadataKey}' metadata: it is not an expert file written by this library.");
        var metadata = ExpertMetadataJson.Deserialize(json, file.Path);

        foreach (string name in file.Names)
            if (!metadata.Targets.Contains(name, StringComparer.Ordinal))
                throw new InvalidDataException($"Expert file '{file.Path}': tensor '{name}' is not listed in the metadata's targets.");

        var vectors = new List<KeyValuePair<string, torch.Tensor>>();
        try
        {
            foreach (string name in metadata.Targets)
            {
                if (!file.Contains(name))
                    throw new InvalidDataException($"Expert file '{file.Path}': target '{name}' has no vector.");
                var info = file.GetInfo(name);
                if (info.Shape.Length != 1)
                    throw new InvalidDataException($"Expert file '{file.Path}': vector '{name}' has shape [{string.Join(", ", info.Shape)}]; it must be 1-D.");
                if (info.DType is not ("F32" or "F16" or "BF16" or "F64"))
                    throw new InvalidDataException($"Expert file '{file.Path}': vector '{name}' has dtype {info.DType}; it must be floating point.");
                var vector = file.Read(name, dtype);
                vectors.Add(new(name, vector));
                if (!TensorChecks.AllFinite(vector))
                    throw new InvalidDataException($"Expert file '{file.Path}': vector '{name}' contains NaN or infinite values.");
            }
            return new Expert(metadata, vectors);
        }
        catch
        {
            foreach (var (_, vector) in vectors) vector.Dispose();
            throw;
        }
    }
}
