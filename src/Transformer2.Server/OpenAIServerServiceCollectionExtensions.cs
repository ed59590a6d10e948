using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Transformer2.Server;

/// <summary>Registers the OpenAI-compatible endpoint's services (next to <c>AddTransformerSquared</c>, which registers the pipeline).</summary>
public static class OpenAIServerServiceCollectionExtensions
{
    /// <summary>
    /// Registers the endpoint over the container's <see cref="Adaptation.Pipeline.TransformerSquared"/>, with
    /// <see cref="OpenAIServerOptions"/> configured by <paramref name="configure"/> and validated at start-up. Map the
    /// routes with <see cref="OpenAIEndpointRouteBuilderExtensions.MapTransformerSquaredOpenAI"/>.
    /// </summary>
    public static IServiceCollection AddTransformerSquaredOpenAI(this IServiceCollection services, Action<OpenAIServerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<OpenAIServerOptions>();
        if (configure is not null) options.Configure(configure);
        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OpenAIServerOptions>, OpenAIServerOptionsValidator>());
        services.TryAddSingleton<ChatCompletionEndpoint>();
        return services;
    }
}
