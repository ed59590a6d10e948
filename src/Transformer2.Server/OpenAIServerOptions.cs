namespace Transformer2.Server;

/// <summary>Settings of the OpenAI-compatible endpoint (bindable from configuration; validated at start-up).</summary>
public sealed class OpenAIServerOptions
{
    /// <summary>When set, every request must carry <c>Authorization: Bearer &lt;ApiKey&gt;</c>; null or empty serves anyone.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Requests answered at the same time; more wait in the queue.</summary>
    public int MaxConcurrentRequests { get; set; } = 4;

    /// <summary>Requests that may wait for a free slot; one more is refused with 429 at once.</summary>
    public int MaxQueuedRequests { get; set; } = 64;

    /// <summary>The model name meaning "Transformer² dispatch": the first pass picks the experts.</summary>
    public string AutoModelId { get; set; } = "auto";

    /// <summary>The model name meaning "no adaptation": the base model answers.</summary>
    public string BaseModelId { get; set; } = "base";

    /// <summary>The largest <c>max_tokens</c> a request may ask for.</summary>
    public int MaxTokensLimit { get; set; } = 4096;

    /// <summary>The <c>owned_by</c> of every model in <c>GET /v1/models</c>.</summary>
    public string OwnedBy { get; set; } = "transformer2";
}
