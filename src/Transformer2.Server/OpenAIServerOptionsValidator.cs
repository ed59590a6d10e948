using Microsoft.Extensions.Options;

namespace Transformer2.Server;

/// <summary>Checks <see cref="OpenAIServerOptions"/> with messages naming the setting.</summary>
public sealed class OpenAIServerOptionsValidator : IValidateOptions<OpenAIServerOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, OpenAIServerOptions options)
    {
        var failures = new List<string>();
        if (options.MaxConcurrentRequests < 1) failures.Add($"OpenAIServer: MaxConcurrentRequests must be at least 1 (got {options.MaxConcurrentRequests}).");
        if (options.MaxQueuedRequests < 0) failures.Add($"OpenAIServer: MaxQueuedRequests cannot be negative (got {options.MaxQueuedRequests}).");
        if (options.MaxTokensLimit < 1) failures.Add($"OpenAIServer: MaxTokensLimit must be at least 1 (got {options.MaxTokensLimit}).");
        if (string.IsNullOrWhiteSpace(options.AutoModelId)) failures.Add("OpenAIServer: AutoModelId cannot be empty.");
        if (string.IsNullOrWhiteSpace(options.BaseModelId)) failures.Add("OpenAIServer: BaseModelId cannot be empty.");
        if (string.Equals(options.AutoModelId, options.BaseModelId, StringComparison.Ordinal))
            failures.Add($"OpenAIServer: AutoModelId and BaseModelId are both '{options.AutoModelId}'.");
        if (string.IsNullOrWhiteSpace(options.OwnedBy)) failures.Add("OpenAIServer: OwnedBy cannot be empty.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
