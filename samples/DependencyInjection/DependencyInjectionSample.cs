using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Transformer2.Adaptation.DependencyInjection;
using Transformer2.Adaptation.ChatClient;

namespace Transformer2.Samples.DependencyInjection;

// Registers Transformer² in a .NET generic host: the options pattern (validated at start-up), a keyed second pipeline,
// console logging, and an application service that receives IChatClient by constructor injection.
// Usage: DependencyInjection [MODEL_FOLDER]
public static class DependencyInjectionSample
{
    public static async Task<int> RunAsync(string[] args, TextWriter output, CancellationToken cancellationToken = default)
    {
        string modelFolder = args.Length > 0 ? args[0] : BundledModel();

        // The model folder comes from our own argument, so the host gets no command line to parse.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        builder.Logging.ClearProviders().AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });
        // The pipeline logs each dispatch decision at Information; the host's own start/stop chatter is left out.
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);

        // The default pipeline (and its IChatClient): prompt dispatch over the bundled experts. These options bind from
        // configuration as well, e.g. builder.Configuration.GetSection("Transformer2").Bind(options).
        builder.Services.AddTransformerSquared(options =>
        {
            options.ModelFolder = modelFolder;
            options.ExpertFolders.Add(Path.Combine(modelFolder, "experts"));
            options.Categories["math"] = "arith";
            options.Categories["code"] = "code";
            options.Categories["reasoning"] = "choice";
            options.MaxNewTokens = 24;
        });
        // A second pipeline under a key: the same model, no experts, for comparison.
        builder.Services.AddKeyedTransformerSquared("base", options =>
        {
            options.ModelFolder = modelFolder;
            options.MaxNewTokens = 24;
        });
        builder.Services.AddSingleton<HomeworkHelper>();

        using var host = builder.Build();
        // Start-up validates every pipeline's options; the models load when first resolved.
        await host.StartAsync(cancellationToken);
        var helper = host.Services.GetRequiredService<HomeworkHelper>();
        foreach (var question in new[] { "Ben has 7 cards and gets 4 more. How many cards does Ben have?", "Which number is larger?\nA) 42\nB) 67" })
            await helper.AnswerAsync(question, output, cancellationToken);
        await host.StopAsync(cancellationToken);   // disposes the pipelines with the container

        // A mistake in the options fails at start-up, before anything loads, with a message naming the setting.
        var broken = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        broken.Logging.ClearProviders();
        broken.Services.AddTransformerSquared(options =>
        {
            options.ModelFolder = Path.Combine(modelFolder, "no-such-folder");
            options.Categories["poetry"] = "arith";   // not one of the authors' labels, and no description given
        });
        using var brokenHost = broken.Build();
        try
        {
            await brokenHost.StartAsync(cancellationToken);
        }
        catch (OptionsValidationException e)
        {
            foreach (var failure in e.Failures) output.WriteLine($"rejected at start-up: {failure}");
        }
        return 0;
    }

    // An application service: it asks for chat clients, never for a model. The keyed one is chosen by its key.
    sealed class HomeworkHelper(IChatClient adaptive, [FromKeyedServices("base")] IChatClient baseline, ILogger<HomeworkHelper> logger)
    {
        public async Task AnswerAsync(string question, TextWriter output, CancellationToken cancellationToken)
        {
            var adapted = await adaptive.GetResponseAsync(question, cancellationToken: cancellationToken);
            var plain = await baseline.GetResponseAsync(question, cancellationToken: cancellationToken);
            var label = adapted.GetDispatchDecision()?.Label;   // the first pass's category
            logger.LogInformation("Answered a {Label} question", label);
            output.WriteLine($"question: {question.Replace('\n', ' ')}");
            output.WriteLine($"  adapted (label {label}): {adapted.Text}");
            output.WriteLine($"  base: {plain.Text}");
        }
    }

    // The bundled tiny model (samples/models/t2-tiny), found by walking up from the program to the repository root.
    static string BundledModel()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Transformer2.sln"))) return Path.Combine(dir.FullName, "samples", "models", "t2-tiny");
        throw new DirectoryNotFoundException("The bundled model was not found above " + AppContext.BaseDirectory + "; pass a model folder.");
    }
}
