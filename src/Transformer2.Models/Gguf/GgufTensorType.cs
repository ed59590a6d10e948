namespace Transformer2.Models.Gguf;

/// <summary>The ggml tensor types an export can store (values are ggml's <c>ggml_type</c> ids).</summary>
public enum GgufTensorType : uint
{
    /// <summary>32-bit float (<c>GGML_TYPE_F32</c>).</summary>
    F32 = 0,

    /// <summary>IEEE half (<c>GGML_TYPE_F16</c>).</summary>
    F16 = 1,

    /// <summary>bfloat16 (<c>GGML_TYPE_BF16</c>).</summary>
    BF16 = 30,
}
