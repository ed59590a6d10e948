using System.Text.Json;
using Microsoft.Extensions.Options;
using Transformer2.Adaptation.Dispatch;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Models.Llava;

namespace Transformer2.Adaptation.DependencyInjection;

/// <summary>Checks <see cref="TransformerSquaredOptions"/> before anything is loaded, with messages naming the setting.</summary>
public sealed class TransformerSquaredOptionsValidator : IValidateOptions<TransformerSquaredOptions>
{
    static readonly string[] DTypes = ["float32", "bfloat16", "float16"];

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, TransformerSquaredOptions options)
    {
        var failures = new List<string>();
        string prefix = string.IsNullOrEmpty(name) ? "Transformer2" : $"Transformer2 '{name}'";
        if (string.IsNullOrWhiteSpace(options.ModelFolder)) failures.Add($"{prefix}: ModelFolder is required.");
        else if (!Directory.Exists(options.ModelFolder)) failures.Add($"{prefix}: ModelFolder '{options.ModelFolder}' does not exist.");
        else if (LlavaModelType(options.ModelFolder) is { } llava && !File.Exists(Path.Combine(options.ModelFolder, LlavaImageProcessor.ConfigFile)))
            failures.Add($"{prefix}: ModelFolder '{options.ModelFolder}' holds a {llava} model but no {LlavaImageProcessor.ConfigFile}.");
        if (!DTypes.Contains(options.DType, StringComparer.OrdinalIgnoreCase)) failures.Add($"{prefix}: DType '{options.DType}' is not one of {string.Join(", ", DTypes)}.");
        foreach (var file in options.ExpertFiles.Where(f => !File.Exists(f))) failures.Add($"{prefix}: expert file '{file}' does not exist.");
        foreach (var folder in options.ExpertFolders.Where(f => !Directory.Exists(f))) failures.Add($"{prefix}: expert folder '{folder}' does not exist.");
        var known = ClassificationPromptBuilder.AuthorsCategories.Select(c => c.Label).ToHashSet();
        foreach (var label in options.Categories.Keys.Where(l => !known.Contains(l) && !options.CategoryDescriptions.ContainsKey(l)))
            failures.Add($"{prefix}: category '{label}' needs an entry in CategoryDescriptions.");
        if (options.ClassificationExpert is not null && options.Categories.Count == 0)
            failures.Add($"{prefix}: ClassificationExpert is set but Categories is empty.");
        if (!Enum.IsDefined(options.DecompositionCacheStorage)) failures.Add($"{prefix}: DecompositionCacheStorage '{options.DecompositionCacheStorage}' is not a FactorStorage value.");
        if (options.FactoredOnlyLayers && options.Mode == ExpertApplicationMode.Merged)
            failures.Add($"{prefix}: FactoredOnlyLayers needs Mode Factored: merged experts are written into dense weights, which factored-only layers do not keep.");
        if (options.MergedBudgetBytes < 0) failures.Add($"{prefix}: MergedBudgetBytes cannot be negative.");
        if (options.MaxNewTokens < 1) failures.Add($"{prefix}: MaxNewTokens must be at least 1.");
        if (options.RemoteSecondPassClientKey is null && options.RemoteExpertModels.Count > 0)
            failures.Add($"{prefix}: RemoteExpertModels is set but RemoteSecondPassClientKey is not (no remote client to send the second pass to).");
        if (options.RemoteSecondPassClientKey is { } key && string.IsNullOrWhiteSpace(key)) failures.Add($"{prefix}: RemoteSecondPassClientKey cannot be blank.");
        if (options.RemoteFirstPassClientKey is { } firstKey)
        {
            if (string.IsNullOrWhiteSpace(firstKey)) failures.Add($"{prefix}: RemoteFirstPassClientKey cannot be blank.");
            if (options.Categories.Count == 0) failures.Add($"{prefix}: RemoteFirstPassClientKey is set but Categories is empty (no prompt dispatch to send).");
            if (options.ClassificationExpert is { } cls)
                failures.Add($"{prefix}: RemoteFirstPassClientKey cannot be combined with ClassificationExpert '{cls}': the expert must be applied to the local weights, so that first pass stays local.");
            if (string.IsNullOrWhiteSpace(options.RemoteFirstPassModel)) failures.Add($"{prefix}: RemoteFirstPassModel cannot be empty.");
        }
        if (string.IsNullOrWhiteSpace(options.RemoteBaseModel)) failures.Add($"{prefix}: RemoteBaseModel cannot be empty.");
        if (!(options.Temperature >= 0)) failures.Add($"{prefix}: Temperature must be 0 or positive.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>The folder's LLaVA <c>model_type</c>, or null for anything else (including unreadable configs, which loading reports).</summary>
    static string? LlavaModelType(string folder)
    {
        string path = Path.Combine(folder, "config.json");
        if (!File.Exists(path)) return null;
        try
        {
            using var json = JsonDocument.Parse(File.ReadAllText(path));
            return json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("model_type", out var type)
                && type.ValueKind == JsonValueKind.String && type.GetString() is LlavaConfig.LlavaModelType or LlavaConfig.LlavaNextModelType
                ? type.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
