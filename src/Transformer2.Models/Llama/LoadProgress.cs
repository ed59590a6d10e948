namespace Transformer2.Models.Llama;

/// <summary>How far a checkpoint load has come.</summary>
/// <param name="TensorsLoaded">Tensors copied into the model so far.</param>
/// <param name="TensorCount">Tensors to copy in all.</param>
/// <param name="BytesLoaded">Bytes read from disk so far.</param>
/// <param name="TotalBytes">Bytes to read in all.</param>
/// <param name="CurrentKey">The checkpoint key just loaded.</param>
public sealed record LoadProgress(int TensorsLoaded, int TensorCount, long BytesLoaded, long TotalBytes, string CurrentKey);
