using Transformer2.Models.Gguf;
using static TorchSharp.torch;

namespace Transformer2.Adaptation.Export;

/// <summary>How <see cref="AdaptedModelExporter.ExportLora"/> turns an expert (or mixture) into a LoRA adapter.</summary>
public sealed record LoraExportOptions
{
    /// <summary>
    /// Rank r: the r singular directions with the largest |change| kept per matrix. Null keeps all of them (the
    /// largest min(out, in) of the targets; smaller matrices are padded with zeros), which reproduces the merged
    /// weights up to float rounding.
    /// </summary>
    public int? Rank { get; init; }

    /// <summary>Storage dtype of A and B in <c>adapter_model.safetensors</c> (Float32, Float16 or BFloat16).</summary>
    public ScalarType DType { get; init; } = ScalarType.Float32;

    /// <summary>Also write a GGUF LoRA (llama.cpp's <c>--lora</c>) at this path; null writes only PEFT's folder.</summary>
    public string? GgufPath { get; init; }

    /// <summary>Storage type of the GGUF LoRA's tensors.</summary>
    public GgufTensorType GgufType { get; init; } = GgufTensorType.F32;

    /// <summary>The base model's id or path written to <c>base_model_name_or_path</c> (what vLLM and PEFT load the adapter onto).</summary>
    public string BaseModelNameOrPath { get; init; } = "";

    /// <summary>Throws naming the first bad setting.</summary>
    public void Validate()
    {
        if (Rank is < 1) throw new ArgumentOutOfRangeException(nameof(Rank), Rank, "Rank must be at least 1.");
        if (DType is not (ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16))
            throw new ArgumentOutOfRangeException(nameof(DType), DType, "DType must be Float32, Float16 or BFloat16.");
        if (!Enum.IsDefined(GgufType)) throw new ArgumentOutOfRangeException(nameof(GgufType), GgufType, "GgufType must be F32, F16 or BF16.");
        if (GgufPath is { Length: 0 }) throw new ArgumentException("GgufPath must be null or a file path.", nameof(GgufPath));
        ArgumentNullException.ThrowIfNull(BaseModelNameOrPath, nameof(BaseModelNameOrPath));
    }
}
