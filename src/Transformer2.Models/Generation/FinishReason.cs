namespace Transformer2.Models.Generation;

/// <summary>Why a row stopped generating.</summary>
public enum FinishReason
{
    /// <summary>It produced one of the stop token ids.</summary>
    StopToken,

    /// <summary>Its decoded output came to contain a stop string.</summary>
    StopString,

    /// <summary>It reached <see cref="GenerationOptions.MaxNewTokens"/>.</summary>
    MaxNewTokens,
}
