using System.Globalization;
using Microsoft.Extensions.AI;
using Transformer2.Adaptation.ChatClient;
using Transformer2.Adaptation.Pipeline;
using Keys = Transformer2.Adaptation.ChatClient.TransformerSquaredChatClient.DecisionKeys;

namespace Transformer2.Samples.ChatClient;

// Talks to a Transformer² pipeline through Microsoft.Extensions.AI's IChatClient: a plain request, the dispatch decision
// read from AdditionalProperties, streaming, a conversation, sampling options, and the pipeline behind the abstraction.
// Usage: ChatClient [MODEL_FOLDER]
public static class ChatClientSample
{
    public static async Task<int> RunAsync(string[] args, TextWriter output, CancellationToken cancellationToken = default)
    {
        string modelFolder = args.Length > 0 ? args[0] : BundledModel();
        var pipeline = await new TransformerSquaredBuilder()
            .UseModelFolder(modelFolder)
            .AddExpertsFromFolder(Path.Combine(modelFolder, "experts"))
            .UsePromptDispatch(c => c.Add("math", "arith").Add("code", "code").Add("reasoning", "choice"), maxFirstPassTokens: 16)
            .BuildAsync(cancellationToken: cancellationToken);
        // From here on the code knows only IChatClient, so any other model or middleware could stand in. The client owns the pipeline.
        using IChatClient chat = new TransformerSquaredChatClient(pipeline, ownsPipeline: true);

        // 1. A request. ChatOptions become generation settings; Temperature 0 is greedy decoding (the default).
        var options = new ChatOptions { MaxOutputTokens = 24, Temperature = 0 };
        const string question = "Ann has 12 pens and gets 5 more. How many pens does Ann have?";
        ChatResponse response = await chat.GetResponseAsync(question, options, cancellationToken);
        output.WriteLine($"user: {question}");
        output.WriteLine($"assistant: {response.Text}");
        output.WriteLine($"finish: {response.FinishReason}, tokens: {response.Usage?.InputTokenCount} in, {response.Usage?.OutputTokenCount} out");
        // The first pass's decision rides along in AdditionalProperties, under the client's DecisionKeys.
        output.WriteLine("decision: " + Describe(response.AdditionalProperties));

        // 2. Streaming: the first update carries the decision (no text yet), then the answer arrives piece by piece.
        var updates = new List<ChatResponseUpdate>();
        output.Write("streamed: ");
        await foreach (var update in chat.GetStreamingResponseAsync(question, options, cancellationToken))
        {
            output.Write(update.Text);
            updates.Add(update);
        }
        output.WriteLine();
        // As with any IChatClient, the updates combine into one response (text, usage, finish reason).
        var combined = updates.ToChatResponse();
        output.WriteLine($"combined: '{combined.Text}', {combined.Usage?.OutputTokenCount} tokens, finish {combined.FinishReason}");

        // 3. A conversation: keep the history and send it all; the first pass classifies the last user message.
        List<ChatMessage> history = [new(ChatRole.User, question)];
        history.AddMessages(response);
        history.Add(new(ChatRole.User, "What does this Python code print?\nprint(max(3, 8))"));
        var reply = await chat.GetResponseAsync(history, options, cancellationToken);
        output.WriteLine($"second turn: {reply.Text} | {Describe(reply.AdditionalProperties)}");

        // 4. Sampling: temperature, top-p, top-k and a seed (same seed, same answer); stop sequences cut the answer.
        var sampling = new ChatOptions { MaxOutputTokens = 24, Temperature = 0.8f, TopP = 0.95f, Seed = 7, StopSequences = ["."] };
        var sampled = await chat.GetResponseAsync(question, sampling, cancellationToken);
        output.WriteLine($"sampled (temperature 0.8, seed 7, stop at '.'): {sampled.Text}");

        // 5. The pipeline behind the abstraction, for what IChatClient cannot express (experts, few-shot adaptation, ...).
        var behind = chat.GetService<TransformerSquared>()!;
        output.WriteLine($"pipeline: model '{chat.GetService<ChatClientMetadata>()?.DefaultModelId}', strategy {behind.Strategy.Name}, experts {string.Join(", ", behind.Experts.Names.Order())}");
        return 0;
    }

    static string Describe(AdditionalPropertiesDictionary? properties)
    {
        if (properties is null) return "none";
        // Weights are a dictionary expert → α; the base model has none.
        string weights = properties.TryGetValue(Keys.Weights, out IReadOnlyDictionary<string, double>? w) && w.Count > 0
            ? string.Join(", ", w.Select(x => $"{x.Key} {x.Value.ToString("F2", CultureInfo.InvariantCulture)}"))
            : "none";
        properties.TryGetValue(Keys.FirstPassMilliseconds, out double firstPass);
        return $"strategy {properties[Keys.Strategy]}, label {properties[Keys.Label] ?? "-"}, weights {weights}, first pass {firstPass:F0} ms";
    }

    // The bundled tiny model (samples/models/t2-tiny), found by walking up from the program to the repository root.
    static string BundledModel()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Transformer2.sln"))) return Path.Combine(dir.FullName, "samples", "models", "t2-tiny");
        throw new DirectoryNotFoundException("The bundled model was not found above " + AppContext.BaseDirectory + "; pass a model folder.");
    }
}
