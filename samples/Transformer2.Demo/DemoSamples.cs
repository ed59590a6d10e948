using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Transformer2.Adaptation.DependencyInjection;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Demo.Tasks;
using Transformer2.Training.Reinforce;
using Transformer2.Training.Tasks;

namespace Transformer2.Demo;

/// <summary>Short, copyable samples: chat through DI and <see cref="IChatClient"/>, and an expert for your own reward.</summary>
internal static class DemoSamples
{
    /// <summary>Registers the pipeline through DI (options pattern) and talks to it as a Microsoft.Extensions.AI chat client.</summary>
    public static async Task<int> ChatAsync(string modelFolder, string expertsFolder, IReadOnlyList<string> questions, CancellationToken cancellationToken)
    {
        var services = new ServiceCollection();
        services.AddTransformerSquared(options =>
        {
            options.ModelFolder = modelFolder;
            options.ExpertFolders.Add(expertsFolder);
            options.Categories["math"] = "arith";
            options.Categories["code"] = "code";
            options.Categories["reasoning"] = "choice";
            options.MaxNewTokens = DemoPipeline.MaxAnswerTokens;
        });
        await using var provider = services.BuildServiceProvider();
        var chat = provider.GetRequiredService<IChatClient>();

        foreach (var question in questions)
        {
            var response = await chat.GetResponseAsync([new ChatMessage(ChatRole.User, question)], cancellationToken: cancellationToken);
            Console.WriteLine($"user: {question.Replace("\n", " | ", StringComparison.Ordinal)}");
            Console.WriteLine($"assistant: {response.Text}");
            foreach (var (key, value) in response.AdditionalProperties ?? [])
                Console.WriteLine($"  {key} = {(value is IEnumerable<KeyValuePair<string, double>> weights ? string.Join(", ", weights.Select(w => $"{w.Key}={w.Value:F2}")) : value)}");
        }

        // Streaming: the text arrives token by token.
        Console.Write("streamed: ");
        await foreach (var update in chat.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, questions[0])], cancellationToken: cancellationToken))
            Console.Write(update.Text);
        Console.WriteLine();
        return 0;
    }

    /// <summary>
    /// Trains an SVF expert for a task of your own with a reward of your own (here: arithmetic prompts, +1 for the right
    /// number, −1 otherwise, −0.5 extra for rambling), then answers with it.
    /// </summary>
    public static async Task<int> CustomTaskAsync(string modelFolder, CancellationToken cancellationToken)
    {
        var suite = new DemoSuite();
        var source = suite.Training[0];
        // Your items: any prompts with whatever metadata your reward needs.
        var splits = new TaskSplits(source.GetItems(TaskSplit.Train).Take(256).ToList(), source.GetItems(TaskSplit.Valid), source.GetItems(TaskSplit.Test), []);
        var task = DelegateTask.WithReward("my-arith", splits, systemPrompt: null, (item, completion) =>
        {
            bool right = source.Score(item, completion).Correct;
            return (right ? 1.0 : -1.0) - (completion.Length > 24 ? 0.5 : 0.0);
        }, FamilyTask.ShortAnswers);

        var (model, tokenizer) = DemoStages.LoadWithSvf(modelFolder);
        using var _ = model;
        string work = Path.Combine(Path.GetTempPath(), "t2-demo-custom");
        var options = DemoCommands.ExpertOptions(suite, Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelFolder)))) with { Iterations = 12 };
        var result = await DemoStages.TrainExpertAsync(model, tokenizer, task, "my-arith", work, work + "-run", options,
            new Progress<string>(Console.WriteLine), cancellationToken);
        Console.WriteLine($"best validation accuracy {result.BestValidationAccuracy:P1} at iteration {result.BestIteration}; expert: {Path.Combine(work, "my-arith.safetensors")}");

        await using var t2 = new TransformerSquaredBuilder().UseModel(model, tokenizer).UseModelIdentity(options.BaseModelIdentity)
            .AddExpert(Path.Combine(work, "my-arith.safetensors")).ConfigureGeneration(g => g with { MaxNewTokens = DemoPipeline.MaxAnswerTokens }).Build();
        var item = source.GetItems(TaskSplit.Test)[0];
        var answer = await t2.AnswerAsync([Models.Chat.ChatMessage.User(item.Prompt)], new AnswerOptions { Plan = AdaptationPlan.Single("my-arith") }, cancellationToken);
        Console.WriteLine($"{item.Prompt} → {answer.Answer} (expected {item.Metadata[FamilyTask.ExpectedKey]})");
        return 0;
    }
}
