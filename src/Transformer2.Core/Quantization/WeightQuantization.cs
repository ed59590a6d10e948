namespace Transformer2.Core.Quantization;

/// <summary>How a model's frozen projection weights are stored after loading.</summary>
public enum WeightQuantization
{
    /// <summary>In the load dtype (F32, F16 or BF16), as in the checkpoint.</summary>
    None,

    /// <summary>
    /// int8 in blocks of 32 with an F16-representable scale per block (llama.cpp's Q8_0): 1.125 bytes per weight, read
    /// directly by batch-1 decoding. See <see cref="Q8Linear"/>.
    /// </summary>
    Int8,
}
