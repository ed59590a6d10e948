using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Transformer2.Adaptation.ChatClient;
using Transformer2.Adaptation.Pipeline;
using static TorchSharp.torch;

namespace Transformer2.Adaptation.DependencyInjection;

/// <summary>Registers Transformer² pipelines and their <see cref="IChatClient"/> in a service collection.</summary>
public static class TransformerSquaredServiceCollectionExtensions
{
    /// <summary>
    /// Registers a <see cref="TransformerSquared"/> singleton and an <see cref="IChatClient"/> over it, configured by
    /// <paramref name="configure"/>. The options are validated when the pipeline is first resolved (or at start-up
    /// with a host), and the model loads then.
    /// </summary>
    public static IServiceCollection AddTransformerSquared(this IServiceCollection services, Action<TransformerSquaredOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        AddOptions(services, Options.DefaultName, configure);
        services.TryAddSingleton(sp => Create(sp, Options.DefaultName));
        services.TryAddSingleton<IChatClient>(sp => new TransformerSquaredChatClient(sp.GetRequiredService<TransformerSquared>()));
        return services;
    }

    /// <summary>Registers a pipeline built by your own code on the fluent builder (full control).</summary>
    public static IServiceCollection AddTransformerSquared(this IServiceCollection services, Action<IServiceProvider, TransformerSquaredBuilder> build)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(build);
        services.TryAddSingleton(sp => Build(sp, build));
        services.TryAddSingleton<IChatClient>(sp => new TransformerSquaredChatClient(sp.GetRequiredService<TransformerSquared>()));
        return services;
    }

    /// <summary>Registers a pipeline and its chat client under <paramref name="key"/>, for applications with several models.</summary>
    public static IServiceCollection AddKeyedTransformerSquared(this IServiceCollection services, string key, Action<TransformerSquaredOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(configure);
        AddOptions(services, key, configure);
        services.TryAddKeyedSingleton(key, (sp, _) => Create(sp, key));
        services.TryAddKeyedSingleton<IChatClient>(key, (sp, k) => new TransformerSquaredChatClient(sp.GetRequiredKeyedService<TransformerSquared>(k)));
        return services;
    }

    /// <summary>Registers, under <paramref name="key"/>, a pipeline built by your own code on the fluent builder.</summary>
    public static IServiceCollection AddKeyedTransformerSquared(this IServiceCollection services, string key, Action<IServiceProvider, TransformerSquaredBuilder> build)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(build);
        services.TryAddKeyedSingleton(key, (sp, _) => Build(sp, build));
        services.TryAddKeyedSingleton<IChatClient>(key, (sp, k) => new TransformerSquaredChatClient(sp.GetRequiredKeyedService<TransformerSquared>(k)));
        return services;
    }

    static void AddOptions(IServiceCollection services, string name, Action<TransformerSquaredOptions> configure)
    {
        services.AddOptions<TransformerSquaredOptions>(name).Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TransformerSquaredOptions>, TransformerSquaredOptionsValidator>());
    }

    static TransformerSquared Build(IServiceProvider services, Action<IServiceProvider, TransformerSquaredBuilder> build)
    {
        var builder = new TransformerSquaredBuilder();
        if (services.GetService<ILoggerFactory>() is { } loggers) builder.UseLoggerFactory(loggers);
        build(services, builder);
        return builder.Build();
    }

    static TransformerSquared Create(IServiceProvider services, string name)
    {
        var options = services.GetRequiredService<IOptionsMonitor<TransformerSquaredOptions>>().Get(name);   // validates
        return Build(services, (_, builder) =>
        {
            builder.UseModelFolder(options.ModelFolder!, options.DType.ToLowerInvariant() switch
            {
                "bfloat16" => ScalarType.BFloat16,
                "float16" => ScalarType.Float16,
                _ => ScalarType.Float32,
            });
            if (options.ModelIdentity is { } identity) builder.UseModelIdentity(identity);
            if (options.DecompositionCache is { } cache) builder.UseDecompositionCache(cache, options.DecompositionCacheStorage);
            foreach (var file in options.ExpertFiles) builder.AddExpert(file);
            foreach (var folder in options.ExpertFolders) builder.AddExpertsFromFolder(folder);
            if (options.RemoteFirstPassClientKey is { } firstKey) builder.UseRemoteFirstPass(services.GetRequiredKeyedService<IChatClient>(firstKey), options.RemoteFirstPassModel);
            if (options.Categories.Count > 0)
            {
                void Categories(TransformerSquaredBuilder.CategoryList list)
                {
                    foreach (var (label, expert) in options.Categories) list.Add(label, expert, options.CategoryDescriptions.TryGetValue(label, out var d) ? d : null);
                }
                if (options.ClassificationExpert is { } cls) builder.UseClassificationExpert(cls, Categories);
                else builder.UsePromptDispatch(Categories);
            }
            if (options.Mode == ExpertApplicationMode.Merged) builder.UseMergedExperts(options.MergedBudgetBytes);
            if (options.FactoredOnlyLayers) builder.UseFactoredOnlyLayers();
            if (options.Int8Weights) builder.UseInt8Weights();
            builder.UseMixtureSemantics(options.MixtureSemantics);
            builder.ConfigureGeneration(g => g with { MaxNewTokens = options.MaxNewTokens, Temperature = options.Temperature });
            if (options.RemoteSecondPassClientKey is { } key)
            {
                builder.UseRemoteSecondPass(services.GetRequiredKeyedService<IChatClient>(key), remote =>
                {
                    remote.BaseModel = options.RemoteBaseModel;
                    foreach (var (expert, model) in options.RemoteExpertModels) remote.ExpertModels[expert] = model;
                });
            }
        });
    }
}
