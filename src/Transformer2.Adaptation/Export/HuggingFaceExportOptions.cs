using static TorchSharp.torch;

namespace Transformer2.Adaptation.Export;

/// <summary>How <see cref="AdaptedModelExporter.ExportHuggingFace"/> writes a merged model folder.</summary>
public sealed record HuggingFaceExportOptions
{
    /// <summary>Storage dtype of the weights (Float32, Float16 or BFloat16); null keeps the model's.</summary>
    public ScalarType? DType { get; init; }

    /// <summary>Largest shard in bytes; past it the weights are split into <c>model-0000i-of-0000n.safetensors</c> with <c>model.safetensors.index.json</c>. Null: one file.</summary>
    public long? MaxShardBytes { get; init; }

    /// <summary>Copy the tokenizer files (<see cref="AdaptedModelExporter.TokenizerFiles"/>) from the model folder.</summary>
    public bool CopyTokenizer { get; init; } = true;

    /// <summary>Throws naming the first bad setting.</summary>
    public void Validate()
    {
        if (DType is { } d && d is not (ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16))
            throw new ArgumentOutOfRangeException(nameof(DType), d, "DType must be Float32, Float16 or BFloat16.");
        if (MaxShardBytes is <= 0) throw new ArgumentOutOfRangeException(nameof(MaxShardBytes), MaxShardBytes, "MaxShardBytes must be positive.");
    }
}
