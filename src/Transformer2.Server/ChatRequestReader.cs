using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Server.Protocol;
using T2Chat = Transformer2.Models.Chat;

namespace Transformer2.Server;

/// <summary>A validated chat-completion request, in the pipeline's terms.</summary>
internal sealed record ParsedChatRequest(string Model, IReadOnlyList<T2Chat.ChatMessage> Messages, AnswerOptions Options, bool Stream, bool IncludeUsage);

/// <summary>Reads and validates a <c>POST /v1/chat/completions</c> body; every refusal is a 400 naming the field.</summary>
internal static class ChatRequestReader
{
    static readonly Dictionary<string, string> Roles = new(StringComparer.Ordinal)
    {
        ["system"] = T2Chat.ChatRoles.System,
        ["developer"] = T2Chat.ChatRoles.System,   // newer OpenAI clients name system turns so
        ["user"] = T2Chat.ChatRoles.User,
        ["assistant"] = T2Chat.ChatRoles.Assistant,
    };

    public static async Task<ParsedChatRequest> ReadAsync(HttpRequest http, ModelCatalog catalog, OpenAIServerOptions options, CancellationToken cancellationToken)
    {
        ChatCompletionRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync<ChatCompletionRequest>(http.Body, OpenAIJson.Options, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            throw OpenAIRequestException.BadRequest($"The body is not a valid chat completion request: {e.Message}", e.Path?.TrimStart('$', '.'));
        }
        if (request is null) throw OpenAIRequestException.BadRequest("The body is empty (null); send a JSON object.", null);
        if (string.IsNullOrWhiteSpace(request.Model)) throw OpenAIRequestException.BadRequest("'model' is required.", "model");
        var plan = catalog.PlanFor(request.Model);
        if (request.Messages is null || request.Messages.Count == 0) throw OpenAIRequestException.BadRequest("'messages' must hold at least one message.", "messages");
        var messages = request.Messages.Select((m, i) => Message(m, i)).ToList();

        int? maxTokens = request.MaxCompletionTokens ?? request.MaxTokens;
        string maxName = request.MaxCompletionTokens is null ? "max_tokens" : "max_completion_tokens";
        if (maxTokens is { } max && (max < 1 || max > options.MaxTokensLimit))
            throw OpenAIRequestException.BadRequest($"'{maxName}' is {max}; it must be between 1 and {options.MaxTokensLimit}.", maxName);
        if (request.Temperature is { } t && !(t >= 0 && t <= 2)) throw OpenAIRequestException.BadRequest($"'temperature' is {t}; it must be between 0 and 2.", "temperature");
        if (request.TopP is { } p && !(p > 0 && p <= 1)) throw OpenAIRequestException.BadRequest($"'top_p' is {p}; it must be above 0 and at most 1.", "top_p");
        if (request.N is { } n && n != 1) throw OpenAIRequestException.BadRequest($"'n' is {n}; this server returns one choice (n = 1).", "n");
        var stops = Stops(request.Stop);
        bool stream = request.Stream ?? false;
        return new ParsedChatRequest(request.Model, messages, new AnswerOptions
        {
            Plan = plan,
            MaxNewTokens = maxTokens,
            Temperature = request.Temperature,
            TopP = request.TopP,
            Seed = request.Seed,
            StopStrings = stops,
        }, stream, stream && request.StreamOptions?.IncludeUsage == true);
    }

    static T2Chat.ChatMessage Message(ChatCompletionRequest.Message? message, int index)
    {
        string param = $"messages[{index}]";
        if (message is null) throw OpenAIRequestException.BadRequest($"{param} is null.", param);
        if (message.Role is null || !Roles.TryGetValue(message.Role, out var role))
            throw OpenAIRequestException.BadRequest($"{param}.role is '{message.Role}'; it must be one of {string.Join(", ", Roles.Keys)} (tools are not supported).", param + ".role");
        var images = new List<T2Chat.ChatImage>();
        string text = message.Content switch
        {
            null => role == T2Chat.ChatRoles.Assistant ? "" : throw OpenAIRequestException.BadRequest($"{param}.content is missing.", param + ".content"),
            { ValueKind: JsonValueKind.Null } when role == T2Chat.ChatRoles.Assistant => "",
            { ValueKind: JsonValueKind.String } s => s.GetString()!,
            { ValueKind: JsonValueKind.Array } parts => string.Concat(parts.EnumerateArray().Select((part, k) => Part(part, $"{param}.content[{k}]", images))),
            _ => throw OpenAIRequestException.BadRequest($"{param}.content must be a string or an array of content parts.", param + ".content"),
        };
        return new T2Chat.ChatMessage(role, text) { Images = images };
    }

    /// <summary>The text of a content part; an image part (a <c>data:</c> URL) is added to <paramref name="images"/>.</summary>
    static string Part(JsonElement part, string param, List<T2Chat.ChatImage> images)
    {
        string? type = part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        switch (type)
        {
            case "text" when part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String:
                return text.GetString()!;
            case "image_url" when part.TryGetProperty("image_url", out var image) && image.ValueKind == JsonValueKind.Object
                && image.TryGetProperty("url", out var url) && url.ValueKind == JsonValueKind.String:
                images.Add(Image(url.GetString()!, param));
                return "";
            default:
                throw OpenAIRequestException.BadRequest($"{param} must be {{\"type\": \"text\", \"text\": …}} or {{\"type\": \"image_url\", \"image_url\": {{\"url\": \"data:image/…;base64,…\"}}}}.", param);
        }
    }

    static T2Chat.ChatImage Image(string url, string param)
    {
        const string marker = ";base64,";
        int at = url.IndexOf(marker, StringComparison.Ordinal);
        if (!url.StartsWith("data:image/", StringComparison.Ordinal) || at < 0)
            throw OpenAIRequestException.BadRequest($"{param}: images must be inline data URLs (data:image/…;base64,…); remote URLs are not fetched.", param);
        try
        {
            return T2Chat.ChatImage.FromBytes(Convert.FromBase64String(url[(at + marker.Length)..]), param);
        }
        catch (FormatException)
        {
            throw OpenAIRequestException.BadRequest($"{param}: the image data is not valid base64.", param);
        }
    }

    static List<string>? Stops(JsonElement? stop)
    {
        List<string> list = stop switch
        {
            null or { ValueKind: JsonValueKind.Null } => [],
            { ValueKind: JsonValueKind.String } s => [s.GetString()!],
            { ValueKind: JsonValueKind.Array } a when a.EnumerateArray().All(x => x.ValueKind == JsonValueKind.String) => a.EnumerateArray().Select(x => x.GetString()!).ToList(),
            _ => throw OpenAIRequestException.BadRequest("'stop' must be a string or an array of strings.", "stop"),
        };
        if (list.Count > 4) throw OpenAIRequestException.BadRequest($"'stop' holds {list.Count} sequences; at most 4 are allowed.", "stop");
        if (list.Any(s => s.Length == 0)) throw OpenAIRequestException.BadRequest("'stop' holds an empty string.", "stop");
        return list.Count == 0 ? null : list;
    }
}
