using System.Security.Cryptography;
using System.Text;
using TorchSharp;

namespace Transformer2.Core.Svd;

/// <summary>
/// A cheap, deterministic fingerprint of a model's target weights: SHA-256 over each target's name, dtype, shape
/// and a strided sample of about <see cref="SampleSize"/> of its values (as fp32).
/// </summary>
/// <remarks>
/// It tells apart different checkpoints of the same architecture (any retraining changes sampled values) at the
/// cost of reading each target once, not of hashing every byte.
/// </remarks>
public static class WeightsFingerprint
{
    /// <summary>Approximate number of values sampled per matrix.</summary>
    public const int SampleSize = 4096;

    /// <summary>The fingerprint of the targets of <paramref name="weights"/> chosen by <paramref name="targets"/>.</summary>
    /// <param name="weights">The model's weights.</param>
    /// <param name="targets">Which weights count.</param>
    /// <returns><c>sha256:</c> followed by 64 hex digits.</returns>
    public static string Compute(IWeightSource weights, TargetSelector targets)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(targets);
        var digests = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string name in weights.Names.Where(targets.IsTarget))
        {
            using var weight = weights.Load(name);
            digests[name] = MatrixDigest(name, weight);
        }
        return Combine(digests);
    }

    /// <summary>The fingerprint of tensors already in memory, keyed by name: the same digest <see cref="Compute"/> gives for them.</summary>
    /// <param name="weights">Named weights (any device; the sampled values are read on the CPU).</param>
    /// <returns><c>sha256:</c> followed by 64 hex digits.</returns>
    public static string Of(IReadOnlyDictionary<string, torch.Tensor> weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        return Combine(weights.ToDictionary(w => w.Key, w => MatrixDigest(w.Key, w.Value), StringComparer.Ordinal));
    }

    /// <summary>The digest of one weight: name, dtype, shape and a strided value sample.</summary>
    internal static string MatrixDigest(string name, torch.Tensor weight)
    {
        using var scope = torch.NewDisposeScope();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(name));
        hash.AppendData([0]);
        hash.AppendData(Encoding.UTF8.GetBytes(weight.dtype.ToString()));
        foreach (long dim in weight.shape) hash.AppendData(BitConverter.GetBytes(dim));
        long count = weight.numel();
        if (count > 0)
        {
            long step = Math.Max(1, count / SampleSize);
            var sample = weight.detach().reshape(-1).slice(0, 0, count, step).to_type(torch.ScalarType.Float32).cpu().contiguous();
            hash.AppendData(sample.bytes);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Combines per-matrix digests, in ordinal name order, into the model fingerprint.</summary>
    internal static string Combine(IReadOnlyDictionary<string, string> digests)
    {
        var text = new StringBuilder();
        foreach (var (name, digest) in digests.OrderBy(d => d.Key, StringComparer.Ordinal))
            text.Append(name).Append('\0').Append(digest).Append('\n');
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }
}
