namespace Transformer2.Core.IO;

/// <summary>Name, safetensors dtype and shape of a tensor to be written.</summary>
internal sealed record TensorLayout(string Name, string DType, long[] Shape)
{
    /// <summary>Bytes the tensor occupies (throws on overflow or an unknown dtype).</summary>
    public long ByteLength
    {
        get
        {
            if (!SafetensorsDType.TryParse(DType, out _, out int elementSize))
                throw new ArgumentException($"Tensor '{Name}': unknown safetensors dtype '{DType}'.");
            return checked(Shape.Aggregate(1L, (a, b) => checked(a * b)) * elementSize);
        }
    }
}
