using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Transformer2.Server;

/// <summary>Maps the OpenAI-compatible routes.</summary>
public static class OpenAIEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <c>POST {prefix}/chat/completions</c> (plain and SSE streaming), <c>GET {prefix}/models</c> and
    /// <c>GET {prefix}/models/{id}</c>, behind the API key when <see cref="OpenAIServerOptions.ApiKey"/> is set. Needs
    /// <see cref="OpenAIServerServiceCollectionExtensions.AddTransformerSquaredOpenAI"/> and a registered pipeline.
    /// </summary>
    /// <returns>The route group, for more conventions (authorization, CORS, rate limiting of your own).</returns>
    public static RouteGroupBuilder MapTransformerSquaredOpenAI(this IEndpointRouteBuilder endpoints, string prefix = "/v1")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(prefix);
        if (endpoints.ServiceProvider.GetService<ChatCompletionEndpoint>() is null)
            throw new InvalidOperationException("MapTransformerSquaredOpenAI needs services.AddTransformerSquaredOpenAI() (and AddTransformerSquared for the pipeline).");
        var group = endpoints.MapGroup(prefix);
        group.AddEndpointFilter(async (context, next) =>
        {
            var options = context.HttpContext.RequestServices.GetRequiredService<IOptions<OpenAIServerOptions>>().Value;
            return HasKey(context.HttpContext.Request, options.ApiKey) ? await next(context).ConfigureAwait(false)
                : ChatCompletionEndpoint.Error(new OpenAIRequestException(StatusCodes.Status401Unauthorized,
                    "Missing or incorrect API key: send 'Authorization: Bearer <key>'.", null, "invalid_api_key"));
        });
        group.MapPost("/chat/completions", (HttpContext http, ChatCompletionEndpoint endpoint) => endpoint.CompleteAsync(http));
        group.MapGet("/models", (ChatCompletionEndpoint endpoint) => endpoint.Models());
        group.MapGet("/models/{id}", (string id, ChatCompletionEndpoint endpoint) => endpoint.Model(id));
        return group;
    }

    static bool HasKey(HttpRequest request, string? apiKey)
    {
        if (string.IsNullOrEmpty(apiKey)) return true;
        string header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) return false;
        // Constant time, so the key cannot be guessed byte by byte from response times.
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[scheme.Length..].Trim()), Encoding.UTF8.GetBytes(apiKey));
    }
}
