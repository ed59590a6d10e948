using System.Text.Json;

namespace Transformer2.Server.Protocol;

/// <summary>The body of <c>POST /v1/chat/completions</c>, as OpenAI's API defines it (the fields this server reads).</summary>
internal sealed class ChatCompletionRequest
{
    public string? Model { get; set; }

    public List<Message?>? Messages { get; set; }

    public int? MaxTokens { get; set; }

    public int? MaxCompletionTokens { get; set; }

    public double? Temperature { get; set; }

    public double? TopP { get; set; }

    public long? Seed { get; set; }

    /// <summary>A string or an array of strings.</summary>
    public JsonElement? Stop { get; set; }

    public int? N { get; set; }

    public bool? Stream { get; set; }

    public StreamSettings? StreamOptions { get; set; }

    /// <summary>One message; content is a string, an array of parts, or null (assistant turns).</summary>
    internal sealed class Message
    {
        public string? Role { get; set; }

        public JsonElement? Content { get; set; }
    }

    /// <summary><c>stream_options</c>.</summary>
    internal sealed class StreamSettings
    {
        public bool? IncludeUsage { get; set; }
    }
}
