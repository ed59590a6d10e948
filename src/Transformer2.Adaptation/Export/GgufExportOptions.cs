using Transformer2.Models.Gguf;

namespace Transformer2.Adaptation.Export;

/// <summary>How <see cref="AdaptedModelExporter.ExportGguf"/> writes a merged model as one GGUF file.</summary>
public sealed record GgufExportOptions
{
    /// <summary>Storage type of the 2-D weights (F32, F16 or BF16); 1-D norm gains stay F32, as llama.cpp's converter keeps them.</summary>
    public GgufTensorType Type { get; init; } = GgufTensorType.F32;

    /// <summary>Embed the tokenizer from the model folder's <c>tokenizer.json</c> (byte-level BPE only); false writes <c>no_vocab</c>.</summary>
    public bool IncludeTokenizer { get; init; } = true;

    /// <summary>The <c>general.name</c> value.</summary>
    public string Name { get; init; } = "transformer2";

    /// <summary>Throws naming the first bad setting.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Type)) throw new ArgumentOutOfRangeException(nameof(Type), Type, "Type must be F32, F16 or BF16.");
        if (string.IsNullOrWhiteSpace(Name)) throw new ArgumentException("Name must not be empty.", nameof(Name));
    }
}
