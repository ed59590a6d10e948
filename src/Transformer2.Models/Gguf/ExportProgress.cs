namespace Transformer2.Models.Gguf;

/// <summary>How far an export has come.</summary>
/// <param name="TensorsWritten">Tensors written so far.</param>
/// <param name="TensorCount">Tensors to write in all.</param>
/// <param name="BytesWritten">Tensor bytes written so far.</param>
/// <param name="TotalBytes">Tensor bytes to write in all.</param>
/// <param name="CurrentName">The tensor just written.</param>
public sealed record ExportProgress(int TensorsWritten, int TensorCount, long BytesWritten, long TotalBytes, string CurrentName);
