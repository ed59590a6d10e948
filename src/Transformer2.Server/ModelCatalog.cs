using Transformer2.Adaptation.Pipeline;

namespace Transformer2.Server;

/// <summary>
/// The model names the endpoint serves: <see cref="OpenAIServerOptions.AutoModelId"/> (Transformer² dispatch),
/// <see cref="OpenAIServerOptions.BaseModelId"/> (no adaptation) and each registered expert by name (second pass with that
/// expert fixed, no first pass).
/// </summary>
internal sealed class ModelCatalog
{
    readonly OpenAIServerOptions _options;
    readonly HashSet<string> _experts;

    public ModelCatalog(TransformerSquared pipeline, OpenAIServerOptions options)
    {
        _options = options;
        _experts = pipeline.Experts.Names.ToHashSet(StringComparer.Ordinal);
        foreach (var reserved in new[] { options.AutoModelId, options.BaseModelId })
        {
            if (_experts.Contains(reserved))
                throw new InvalidOperationException($"Expert '{reserved}' has the name the server reserves for a model of its own; rename the expert or change OpenAIServerOptions.AutoModelId / BaseModelId.");
        }
    }

    /// <summary>Every served name with what it means (<c>auto</c>, <c>base</c>, <c>expert</c>), auto and base first.</summary>
    public IEnumerable<(string Id, string Kind)> Models =>
        new[] { (_options.AutoModelId, "auto"), (_options.BaseModelId, "base") }.Concat(_experts.Order(StringComparer.Ordinal).Select(e => (e, "expert")));

    /// <summary>Whether <paramref name="model"/> is served.</summary>
    public bool Contains(string model) => model == _options.AutoModelId || model == _options.BaseModelId || _experts.Contains(model);

    /// <summary>The plan a model name fixes, or null for dispatch; an unknown name is a 400.</summary>
    public AdaptationPlan? PlanFor(string model)
    {
        if (model == _options.AutoModelId) return null;
        if (model == _options.BaseModelId) return AdaptationPlan.Base;
        if (_experts.Contains(model)) return AdaptationPlan.Single(model);
        throw OpenAIRequestException.BadRequest(
            $"The model '{model}' does not exist here; served: {string.Join(", ", Models.Select(m => m.Id))}.", "model", "model_not_found");
    }
}
