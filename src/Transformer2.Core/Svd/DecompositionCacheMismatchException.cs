namespace Transformer2.Core.Svd;

/// <summary>A decomposition cache belongs to another model, other weights or other targets than expected.</summary>
/// <param name="message">What differs, naming the cache file and both values.</param>
public sealed class DecompositionCacheMismatchException(string message) : Exception(message);
