namespace Transformer2.Core.IO;

/// <summary>Where and how one tensor is stored in a safetensors file.</summary>
/// <param name="Name">The tensor's key.</param>
/// <param name="DType">The safetensors dtype name: <c>F32</c>, <c>F16</c>, <c>BF16</c>, <c>F64</c>, <c>I64</c>, <c>I32</c>, <c>I16</c>, <c>I8</c>, <c>U8</c> or <c>BOOL</c>.</param>
/// <param name="Shape">The tensor's dimensions (empty for a scalar).</param>
/// <param name="Offset">Absolute position of the tensor's first byte in the file.</param>
/// <param name="ByteLength">Number of bytes the tensor occupies.</param>
public sealed record SafetensorInfo(string Name, string DType, long[] Shape, long Offset, long ByteLength)
{
    /// <summary>Number of elements (product of <see cref="Shape"/>; 1 for a scalar).</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}
