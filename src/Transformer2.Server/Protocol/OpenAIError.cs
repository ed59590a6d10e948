namespace Transformer2.Server.Protocol;

/// <summary>OpenAI's error body: <c>{"error": {"message", "type", "param", "code"}}</c>.</summary>
internal sealed record OpenAIError(OpenAIError.Body Error)
{
    /// <summary>The error itself.</summary>
    internal sealed record Body(string Message, string Type, string? Param, string? Code);
}
