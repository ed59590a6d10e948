using System.Text.Json;
using System.Text.Json.Serialization;

namespace Transformer2.Server;

/// <summary>The wire format's JSON settings: snake_case names, nulls left out unless a property says otherwise.</summary>
internal static class OpenAIJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.Strict,
    };
}
