using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Transformer2.Core.Svf;
using Transformer2.Models.Llama;
using static TorchSharp.torch;

namespace Transformer2.Models.Llava;

/// <summary>Loads and saves <see cref="LlavaForConditionalGeneration"/> folders through the same checked path as LLaMA.</summary>
internal static class LlavaLoader
{
    public static LlavaForConditionalGeneration Load(string folder, ScalarType dtype, Device? device, IProgress<LoadProgress>? progress, CancellationToken cancellationToken, ILogger? logger)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (dtype is not (ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16))
            throw new ArgumentException($"dtype must be Float32, Float16 or BFloat16; got {dtype}.", nameof(dtype));
        logger ??= NullLogger.Instance;
        folder = Path.GetFullPath(folder);
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"Model folder '{folder}' does not exist.");
        var config = LlavaConfig.Load(Path.Combine(folder, PretrainedLoader.ConfigFile));
        cancellationToken.ThrowIfCancellationRequested();
        LlavaForConditionalGeneration? model = null;
        try
        {
            model = new LlavaForConditionalGeneration(config, new ParameterFactory(dtype, device ?? CPU, initialize: false));
            var expected = model.CheckpointParameters().ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
            PretrainedLoader.LoadWeights(folder, expected, key => MapKey(key, config), $"the {config.ModelType} model", dtype, progress, cancellationToken, logger);
            model.eval();
            return model;
        }
        catch
        {
            model?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The current-layout key of a stored key: legacy llava-hf names (<c>language_model.model.*</c>,
    /// <c>language_model.lm_head.*</c>, <c>vision_tower.*</c>, <c>multi_modal_projector.*</c>, <c>image_newline</c>) are
    /// mapped, as are transformers 5 files whose tower lacks the <c>vision_model.</c> level; buffers and a stored copy of a tied head carry nothing and give <see langword="null"/>.
    /// </summary>
    internal static string? MapKey(string stored, LlavaConfig config)
    {
        string key = stored switch
        {
            _ when stored.StartsWith("language_model.model.", StringComparison.Ordinal) => "model.language_model." + stored["language_model.model.".Length..],
            _ when stored.StartsWith("language_model.lm_head.", StringComparison.Ordinal) => "lm_head." + stored["language_model.lm_head.".Length..],
            _ when stored.StartsWith("vision_tower.", StringComparison.Ordinal) => "model." + stored,
            _ when stored.StartsWith("multi_modal_projector.", StringComparison.Ordinal) => "model." + stored,
            "image_newline" => "model.image_newline",
            _ => stored,
        };
        // transformers 5 saves the tower without its "vision_model." level (vision_tower.embeddings…, vision_tower.encoder…).
        const string tower = "model.vision_tower.";
        if (key.StartsWith(tower, StringComparison.Ordinal) && !key.StartsWith(tower + "vision_model.", StringComparison.Ordinal))
            key = tower + "vision_model." + key[tower.Length..];
        if (key.EndsWith(".embeddings.position_ids", StringComparison.Ordinal) || key.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal)) return null;
        if (config.TextConfig.TieWordEmbeddings && key == "lm_head.weight") return null;
        return key;
    }

    public static void Save(LlavaForConditionalGeneration model, string folder, ScalarType? dtype, long? maxShardBytes)
    {
        SvfInjector.RequireDenseWeights(model, $"save the checkpoint to '{folder}'");
        string torchDtype = PretrainedLoader.TorchDtypeName(dtype ?? model.DType);
        var config = model.Config with { TorchDtype = torchDtype, TextConfig = model.Config.TextConfig with { TorchDtype = torchDtype } };
        PretrainedLoader.SaveWeights(folder, config.ToJson(), model.CheckpointParameters(), dtype, maxShardBytes);
    }
}
