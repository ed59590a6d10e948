using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using TorchSharp;
using Transformer2.Core.IO;

namespace Transformer2.Core.Svd;

/// <summary>
/// The SVD factors of a model's target weights in one safetensors file (keys <c>{param}.U</c>, <c>{param}.S</c>,
/// <c>{param}.V</c>; S fp32, U and V fp32 or the weight's dtype, see <see cref="FactorStorage"/>) with JSON metadata:
/// base model identity, weights fingerprint, target patterns and names, shapes, source and factor dtypes and library
/// version. Factors are read lazily, one tensor at a time, straight from the file's byte range: opening a cache reads
/// only its header, and injecting layers from it holds one matrix's factors at a time besides the model.
/// </summary>
/// <remarks>
/// <see cref="Build"/> streams matrix by matrix and is resumable: each finished matrix is saved (atomically) in a
/// <c>{path}.partial</c> folder, the final file is assembled from those when all are done, and a run that was
/// cancelled or crashed picks up where it stopped. Decomposing is slow on CPUs (≈ 1 min for a 4096×14336 matrix on
/// two cores), so a full 8B model takes hours.
/// </remarks>
public sealed class DecompositionCache : IDisposable
{
    const string PartialSuffix = ".partial";
    static readonly string[] Factors = ["U", "S", "V"];

    readonly SafetensorsFile _file;
    readonly DecompositionCacheMetadata _metadata;
    readonly HashSet<string> _targets;

    DecompositionCache(SafetensorsFile file, DecompositionCacheMetadata metadata)
    {
        _file = file;
        _metadata = metadata;
        _targets = new HashSet<string>(metadata.Targets, StringComparer.Ordinal);
        VectorLengths = metadata.Targets.ToDictionary(t => t, t => Math.Min(metadata.Shapes[t][0], metadata.Shapes[t][1]), StringComparer.Ordinal);
    }

    /// <summary>The cache file.</summary>
    public string Path => _file.Path;

    /// <summary>Identity of the model the cache was built from.</summary>
    public string ModelIdentity => _metadata.ModelIdentity;

    /// <summary>The <see cref="WeightsFingerprint"/> of the model's targets when the cache was built.</summary>
    public string WeightsFingerprint => _metadata.WeightsFingerprint;

    /// <summary>The patterns of the <see cref="TargetSelector"/> the cache was built with.</summary>
    public IReadOnlyList<string> TargetPatterns => _metadata.TargetPatterns;

    /// <summary>The decomposed parameter names, in model order.</summary>
    public IReadOnlyList<string> Targets => _metadata.Targets;

    /// <summary>The dtype each weight had in the model (a TorchSharp <c>ScalarType</c> name).</summary>
    public IReadOnlyDictionary<string, string> SourceDTypes => _metadata.SourceDTypes;

    /// <summary>Target → the safetensors dtype its U and V are stored in (<c>F32</c>, <c>BF16</c> or <c>F16</c>).</summary>
    public IReadOnlyDictionary<string, string> FactorDTypes => _metadata.Targets.ToDictionary(t => t, _metadata.FactorDTypeOf, StringComparer.Ordinal);

    /// <summary>The library version that built the cache.</summary>
    public string LibraryVersion => _metadata.LibraryVersion;

    /// <summary>Target name → k = min(m, n), the length of its SVF vector (fits <c>Expert.ValidateAgainst</c>).</summary>
    public IReadOnlyDictionary<string, long> VectorLengths { get; }

    /// <summary>Whether <paramref name="name"/> is a decomposed target.</summary>
    /// <param name="name">Parameter name.</param>
    public bool Contains(string name) => _targets.Contains(name);

    /// <summary>The shape [m, n] of the weight <paramref name="name"/>.</summary>
    /// <param name="name">Target name.</param>
    /// <exception cref="KeyNotFoundException">Not a target of this cache.</exception>
    public long[] Shape(string name) => Contains(name)
        ? _metadata.Shapes[name].ToArray()
        : throw new KeyNotFoundException($"Decomposition cache '{Path}' has no target '{name}'.");

    /// <summary>Reads the factors of <paramref name="name"/> from disk.</summary>
    /// <param name="name">Target name.</param>
    /// <param name="dtype">Convert the factors to this dtype; <c>null</c> keeps the stored ones (S fp32; U and V as <see cref="FactorDTypes"/>).</param>
    /// <param name="device">Move them to this device; <c>null</c> keeps the CPU.</param>
    /// <returns>New factors the caller owns.</returns>
    /// <exception cref="KeyNotFoundException">Not a target of this cache.</exception>
    public SvdFactors GetFactors(string name, torch.ScalarType? dtype = null, torch.Device? device = null)
    {
        if (!Contains(name)) throw new KeyNotFoundException($"Decomposition cache '{Path}' has no target '{name}'.");
        var read = new List<torch.Tensor>(3);
        try
        {
            foreach (string factor in Factors) read.Add(_file.Read($"{name}.{factor}", dtype, device));
            return new SvdFactors(read[0], read[1], read[2]);
        }
        catch
        {
            foreach (var tensor in read) tensor.Dispose();
            throw;
        }
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => _file.Dispose();

    /// <summary>
    /// Opens a cache and checks it against what the caller expects; factors are not read until
    /// <see cref="GetFactors"/>.
    /// </summary>
    /// <param name="path">The cache file.</param>
    /// <param name="expectedIdentity">The model identity it must have been built from; <c>null</c> skips the check.</param>
    /// <param name="expectedFingerprint">The model's <see cref="Svd.WeightsFingerprint"/>; <c>null</c> skips the check.</param>
    /// <param name="expectedTargets">The selector it must have been built with; <c>null</c> skips the check.</param>
    /// <exception cref="InvalidDataException">The file is not a valid decomposition cache (the message names the key).</exception>
    /// <exception cref="DecompositionCacheMismatchException">The cache is for another model, other weights or other targets.</exception>
    public static DecompositionCache Open(string path, string? expectedIdentity = null, string? expectedFingerprint = null, TargetSelector? expectedTargets = null)
    {
        var file = SafetensorsFile.Open(path);
        try
        {
            if (!file.Metadata.TryGetValue(DecompositionCacheMetadata.Key, out string? json))
                throw new InvalidDataException($"'{file.Path}' is not a decomposition cache: it has no '{DecompositionCacheMetadata.Key}' metadata.");
            var metadata = DecompositionCacheMetadata.Parse(json, file.Path);

            if (expectedIdentity is not null && metadata.ModelIdentity != expectedIdentity)
                throw new DecompositionCacheMismatchException(
                    $"Decomposition cache '{file.Path}' was built from model '{metadata.ModelIdentity}', not '{expectedIdentity}'. Delete it or build a cache for this model.");
            if (expectedFingerprint is not null && metadata.WeightsFingerprint != expectedFingerprint)
                throw new DecompositionCacheMismatchException(
                    $"Decomposition cache '{file.Path}' was built from weights with fingerprint {metadata.WeightsFingerprint}, but this model's weights have {expectedFingerprint}: the checkpoint changed. Rebuild the cache.");
            if (expectedTargets is not null && !expectedTargets.Patterns.SequenceEqual(metadata.TargetPatterns, StringComparer.Ordinal))
                throw new DecompositionCacheMismatchException(
                    $"Decomposition cache '{file.Path}' holds targets [{string.Join(" | ", metadata.TargetPatterns)}], not the requested [{expectedTargets}].");

            CheckStructure(file, metadata);
            return new DecompositionCache(file, metadata);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    static readonly string[] AllowedFactorTypes = ["F32", "BF16", "F16"];

    /// <summary>The three tensors of a target [m, n]: name, shape and safetensors dtype (S is always F32).</summary>
    static (string Factor, long[] Shape, string DType)[] Layout(long[] shape, string factorType)
    {
        long m = shape[0], n = shape[1], k = Math.Min(m, n);
        return [("U", [m, k], factorType), ("S", [k], "F32"), ("V", [n, k], factorType)];
    }

    static void CheckStructure(SafetensorsFile file, DecompositionCacheMetadata metadata)
    {
        var expectedKeys = new HashSet<string>(StringComparer.Ordinal);
        foreach (string target in metadata.Targets)
        {
            if (!metadata.Shapes.TryGetValue(target, out long[]? shape) || shape is not { Length: 2 } || shape[0] <= 0 || shape[1] <= 0)
                throw new InvalidDataException($"Decomposition cache '{file.Path}': target '{target}' has no valid [m, n] shape in the metadata.");
            string factorType = metadata.FactorDTypeOf(target);
            if (!AllowedFactorTypes.Contains(factorType))
                throw new InvalidDataException($"Decomposition cache '{file.Path}': target '{target}' has factor dtype '{factorType}' in the metadata, not one of {string.Join(", ", AllowedFactorTypes)}.");
            foreach (var (factor, factorShape, factorDType) in Layout(shape, factorType))
            {
                string key = $"{target}.{factor}";
                if (!expectedKeys.Add(key)) throw new InvalidDataException($"Decomposition cache '{file.Path}': target '{target}' is listed twice.");
                if (!file.Contains(key)) throw new InvalidDataException($"Decomposition cache '{file.Path}' lacks tensor '{key}'.");
                var info = file.GetInfo(key);
                if (info.DType != factorDType || !info.Shape.SequenceEqual(factorShape))
                    throw new InvalidDataException(
                        $"Decomposition cache '{file.Path}': tensor '{key}' is {info.DType} [{string.Join(", ", info.Shape)}], expected {factorDType} [{string.Join(", ", factorShape)}].");
            }
        }
        string? extra = file.Names.FirstOrDefault(n => !expectedKeys.Contains(n));
        if (extra is not null) throw new InvalidDataException($"Decomposition cache '{file.Path}' holds tensor '{extra}', which belongs to no listed target.");
    }

    /// <summary>
    /// Decomposes every target weight of <paramref name="weights"/> and writes the cache to <paramref name="path"/>,
    /// one matrix at a time (peak memory ≈ one weight plus its factors), resuming an interrupted earlier run.
    /// </summary>
    /// <param name="weights">The model's weights; each target is loaded once and disposed after use.</param>
    /// <param name="targets">Which weights to decompose.</param>
    /// <param name="path">The cache file to write (atomically). Work in progress lives in <c>{path}.partial</c>.</param>
    /// <param name="modelIdentity">The model's identity (for example hub id and revision), recorded and checked by <see cref="Open"/>.</param>
    /// <param name="progress">Receives a report after each matrix.</param>
    /// <param name="logger">Receives one line per matrix.</param>
    /// <param name="cancellationToken">Checked between matrices; finished matrices are kept for the next run.</param>
    /// <param name="storage">The dtype of U and V in the file (a partial run with another storage is discarded).</param>
    /// <returns>The opened cache; the caller disposes it.</returns>
    /// <exception cref="ArgumentException">No weight is a target, or a target is not a non-empty matrix.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; call again to resume.</exception>
    public static DecompositionCache Build(
        IWeightSource weights,
        TargetSelector targets,
        string path,
        string modelIdentity,
        IProgress<DecompositionProgress>? progress = null,
        ILogger? logger = null,
        CancellationToken cancellationToken = default,
        FactorStorage storage = FactorStorage.Float32)
    {
        if (!Enum.IsDefined(storage)) throw new ArgumentOutOfRangeException(nameof(storage), storage, "Unknown factor storage.");
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(modelIdentity);

        var names = weights.Names.Where(targets.IsTarget).ToList();
        if (names.Count == 0)
            throw new ArgumentException($"No weight of the model matches the target selector [{targets}].", nameof(targets));
        var shapes = new List<long[]>();
        foreach (string name in names)
        {
            long[] shape = weights.Shape(name);
            if (shape.Length != 2 || shape[0] <= 0 || shape[1] <= 0)
                throw new ArgumentException($"Target '{name}' has shape [{string.Join(", ", shape)}]; only non-empty matrices can be decomposed. Narrow the target selector.", nameof(targets));
            shapes.Add(shape);
        }

        string fullPath = System.IO.Path.GetFullPath(path);
        string partial = fullPath + PartialSuffix;
        var manifest = new PartialManifest(DecompositionCacheMetadata.CurrentFormat, modelIdentity, targets.Patterns.ToList(), names, shapes, storage.ToString());
        PreparePartialFolder(partial, manifest, logger);

        var digests = new Dictionary<string, string>(StringComparer.Ordinal);
        var dtypes = new Dictionary<string, string>(StringComparer.Ordinal);
        var factorTypes = new Dictionary<string, string>(StringComparer.Ordinal);
        var total = Stopwatch.StartNew();
        for (int i = 0; i < names.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string name = names[i];
            string matrixFile = System.IO.Path.Combine(partial, $"{i:D5}.safetensors");
            var clock = Stopwatch.StartNew();
            bool resumed;
            using (var scope = torch.NewDisposeScope())
            {
                var weight = weights.Load(name);
                if (!weight.shape.SequenceEqual(shapes[i]))
                    throw new InvalidDataException($"Weight '{name}' loaded with shape [{string.Join(", ", weight.shape)}], but its source declared [{string.Join(", ", shapes[i])}].");
                string digest = Svd.WeightsFingerprint.MatrixDigest(name, weight);
                digests[name] = digest;
                dtypes[name] = weight.dtype.ToString();
                var factorType = FactorType(weight.dtype, storage);
                factorTypes[name] = SafetensorsDType.NameOf(factorType, name);
                // The digest is re-checked on resume, so a partial run of other weights is never reused.
                resumed = IsFinished(matrixFile, name, digest, Layout(shapes[i], factorTypes[name]));
                if (!resumed)
                {
                    using var factors = SvdFactors.Decompose(weight);
                    weight.Dispose();
                    SafetensorsWriter.Write(matrixFile,
                        [new("U", factors.U.to_type(factorType)), new("S", factors.S), new("V", factors.V.to_type(factorType))],
                        new Dictionary<string, string> { ["name"] = name, ["digest"] = digest });
                }
                weight.Dispose();
            }
            progress?.Report(new DecompositionProgress(i + 1, names.Count, name, resumed, resumed ? TimeSpan.Zero : clock.Elapsed));
            logger?.LogInformation("SVD {Index}/{Total} {Name} [{Rows}x{Columns}] {State} in {Seconds:F1} s",
                i + 1, names.Count, name, shapes[i][0], shapes[i][1], resumed ? "resumed" : "decomposed", clock.Elapsed.TotalSeconds);
        }
        cancellationToken.ThrowIfCancellationRequested();

        var metadata = new DecompositionCacheMetadata
        {
            ModelIdentity = modelIdentity,
            WeightsFingerprint = Svd.WeightsFingerprint.Combine(digests),
            TargetPatterns = targets.Patterns.ToList(),
            Targets = names,
            Shapes = names.Zip(shapes).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal),
            SourceDTypes = dtypes,
            SourceDType = dtypes.Values.Distinct().Count() == 1 ? dtypes.Values.First() : "mixed",
            FactorDType = factorTypes.Values.Distinct().Count() == 1 ? factorTypes.Values.First() : "mixed",
            FactorDTypes = factorTypes,
            LibraryVersion = DecompositionCacheMetadata.LibraryVersionString,
        };
        Assemble(fullPath, partial, names, shapes, factorTypes, metadata);
        Directory.Delete(partial, recursive: true);
        logger?.LogInformation("Decomposition cache {Path} written: {Count} matrices in {Minutes:F1} min", fullPath, names.Count, total.Elapsed.TotalMinutes);
        return Open(fullPath, modelIdentity, metadata.WeightsFingerprint, targets);
    }

    /// <summary>
    /// Opens the cache at <paramref name="path"/> if it was built from this model, these weights and these targets;
    /// otherwise builds (or resumes building) it. Checking the fingerprint reads each target weight once.
    /// </summary>
    /// <param name="weights">The model's weights.</param>
    /// <param name="targets">Which weights to decompose.</param>
    /// <param name="path">The cache file.</param>
    /// <param name="modelIdentity">The model's identity.</param>
    /// <param name="progress">Receives a report after each matrix when building.</param>
    /// <param name="logger">Receives one line per matrix when building, and why an existing cache was not used.</param>
    /// <param name="cancellationToken">Checked between matrices.</param>
    /// <param name="storage">The dtype of U and V when building; an existing cache is used whatever its storage.</param>
    /// <returns>The opened cache; the caller disposes it.</returns>
    public static DecompositionCache OpenOrBuild(
        IWeightSource weights,
        TargetSelector targets,
        string path,
        string modelIdentity,
        IProgress<DecompositionProgress>? progress = null,
        ILogger? logger = null,
        CancellationToken cancellationToken = default,
        FactorStorage storage = FactorStorage.Float32)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (File.Exists(path))
        {
            try
            {
                string fingerprint = Svd.WeightsFingerprint.Compute(weights, targets);
                return Open(path, modelIdentity, fingerprint, targets);
            }
            catch (Exception e) when (e is DecompositionCacheMismatchException or InvalidDataException)
            {
                logger?.LogWarning("Rebuilding decomposition cache {Path}: {Reason}", path, e.Message);
            }
        }
        return Build(weights, targets, path, modelIdentity, progress, logger, cancellationToken, storage);
    }

    static void PreparePartialFolder(string partial, PartialManifest manifest, ILogger? logger)
    {
        string manifestPath = System.IO.Path.Combine(partial, PartialManifest.FileName);
        if (Directory.Exists(partial))
        {
            PartialManifest? previous = null;
            try
            {
                previous = JsonSerializer.Deserialize<PartialManifest>(File.ReadAllText(manifestPath));
            }
            catch (Exception e) when (e is IOException or JsonException or NotSupportedException)
            {
                // Unreadable manifest: treat the folder as someone else's work in progress and start over.
            }
            if (manifest.SameAs(previous))
            {
                logger?.LogInformation("Resuming the decomposition in {Folder}", partial);
                return;
            }
            logger?.LogWarning("Discarding {Folder}: it belongs to another model or target set", partial);
            Directory.Delete(partial, recursive: true);
        }
        Directory.CreateDirectory(partial);
        AtomicFile.WriteAllText(manifestPath, JsonSerializer.Serialize(manifest));
    }

    /// <summary>U and V in fp32, or in the weight's dtype (fp64 weights keep fp32 factors, the cache's widest).</summary>
    static torch.ScalarType FactorType(torch.ScalarType weightType, FactorStorage storage) =>
        storage == FactorStorage.WeightDType && weightType is torch.ScalarType.BFloat16 or torch.ScalarType.Float16 ? weightType : torch.ScalarType.Float32;

    static bool IsFinished(string matrixFile, string name, string digest, (string Factor, long[] Shape, string DType)[] layout)
    {
        if (!File.Exists(matrixFile)) return false;
        try
        {
            using var file = SafetensorsFile.Open(matrixFile);
            return file.Metadata.GetValueOrDefault("name") == name
                && file.Metadata.GetValueOrDefault("digest") == digest
                && file.Names.Count == 3
                && layout.All(t => file.Contains(t.Factor) && file.GetInfo(t.Factor).Shape.SequenceEqual(t.Shape) && file.GetInfo(t.Factor).DType == t.DType);
        }
        catch (InvalidDataException)
        {
            return false; // a damaged leftover is simply redone
        }
    }

    static void Assemble(string path, string partial, List<string> names, List<long[]> shapes, Dictionary<string, string> factorTypes, DecompositionCacheMetadata metadata)
    {
        var layout = new List<TensorLayout>();
        var fileOf = new Dictionary<string, (string File, string Factor)>(StringComparer.Ordinal);
        for (int i = 0; i < names.Count; i++)
        {
            string matrixFile = System.IO.Path.Combine(partial, $"{i:D5}.safetensors");
            foreach (var (factor, shape, dtype) in Layout(shapes[i], factorTypes[names[i]]))
            {
                string key = $"{names[i]}.{factor}";
                layout.Add(new TensorLayout(key, dtype, shape));
                fileOf[key] = (matrixFile, factor);
            }
        }
        var metadataMap = new Dictionary<string, string> { ["format"] = "pt", [DecompositionCacheMetadata.Key] = metadata.ToJson() };

        // Copies raw bytes from the per-matrix files, keeping at most one of them open: memory stays flat.
        SafetensorsFile? open = null;
        try
        {
            SafetensorsWriter.WriteStreaming(path, layout, (entry, stream) =>
            {
                var (matrixFile, factor) = fileOf[entry.Name];
                if (open?.Path != matrixFile)
                {
                    open?.Dispose();
                    open = null;
                    open = SafetensorsFile.Open(matrixFile);
                }
                open.CopyRawTo(factor, stream);
            }, metadataMap);
        }
        finally
        {
            open?.Dispose();
        }
    }
}
