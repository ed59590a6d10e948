using BenchmarkDotNet.Attributes;
using TorchSharp;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Core.Experts;
using Transformer2.Core.Svf;
using Transformer2.Models.Chat;
using Transformer2.Models.Llama;
using static TorchSharp.torch;

namespace Transformer2.Benchmarks;

/// <summary>
/// The cost of the first pass and of switching experts, relative to answering, on a random LLaMA of about 30M
/// parameters (hidden 512, 8 layers, byte tokenizer). Pass 1 = the classification prompt (≈1,000 tokens of system
/// prompt) plus 16 generated tokens; pass 2 = a short question answered with 64 tokens.
/// </summary>
[Config(typeof(HeavyOperationConfig))]
public class PipelineBenchmarks
{
    TransformerSquared _factored = null!, _mergedCached = null!, _mergedUncached = null!;
    static readonly IReadOnlyList<ChatMessage> Question = [ChatMessage.User("Natalia sold 48 clips in April and half as many in May. How many clips did she sell?")];

    static LlamaConfig Config => new()
    {
        HiddenSize = 512,
        IntermediateSize = 1408,
        NumHiddenLayers = 8,
        NumAttentionHeads = 8,
        NumKeyValueHeads = 4,
        HeadDim = 64,
        MaxPositionEmbeddings = 4096,
        VocabSize = 259,
        BosTokenId = 1,
        EosTokenIds = [2],
        TorchDtype = "float32",
    };

    static TransformerSquared Build(Func<TransformerSquaredBuilder, TransformerSquaredBuilder> mode)
    {
        torch.manual_seed(5);
        var model = new LlamaForCausalLM(Config);
        var builder = new TransformerSquaredBuilder().UseModel(model, new ByteTokenizer(), Llama3ChatTemplate.Instruct)
            .ConfigureGeneration(g => g with { MaxNewTokens = 64, StopTokenIds = [] });
        // Three random experts over every MLP matrix (each has min(hidden, intermediate) singular values).
        var generator = new Generator(9);
        var targets = Enumerable.Range(0, Config.NumHiddenLayers)
            .SelectMany(l => new[] { "gate_proj", "up_proj", "down_proj" }.Select(p => $"model.layers.{l}.mlp.{p}.weight")).ToList();
        long rank = Math.Min(Config.HiddenSize, Config.IntermediateSize);
        foreach (var name in new[] { "math", "code", "reasoning" })
        {
            var vectors = targets.Select(t => new KeyValuePair<string, Tensor>(t, (randn(new[] { rank }, generator: generator) + 0.5).DetachFromDisposeScope())).ToList();
            builder.AddExpert(new Expert(new ExpertMetadata { Name = name, Targets = targets }, vectors));
        }
        var pipeline = mode(builder).Build();
        return pipeline;
    }

    [GlobalSetup]
    public void Setup()
    {
        BenchmarkSetup.Initialize();
        _factored = Build(b => b.UsePromptDispatch(c => c.Add("math", "math").Add("code", "code").Add("reasoning", "reasoning"), maxFirstPassTokens: 16).UseFactoredExperts());
        _mergedCached = Build(b => b.UsePromptDispatch(c => c.Add("math", "math").Add("code", "code").Add("reasoning", "reasoning"), maxFirstPassTokens: 16).UseMergedExperts());
        _mergedUncached = Build(b => b.UseMergedExperts(budgetBytes: 0));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _factored.Dispose();
        _mergedCached.Dispose();
        _mergedUncached.Dispose();
    }

    [Benchmark(Baseline = true, Description = "pass 2: answer, 64 tokens, merged expert (cached)")]
    public Task<TwoPassResult> SecondPassMerged() => _mergedCached.AnswerAsync(Question, new AnswerOptions { Plan = AdaptationPlan.Single("math") });

    [Benchmark(Description = "pass 2: answer, 64 tokens, factored expert")]
    public Task<TwoPassResult> SecondPassFactored() => _factored.AnswerAsync(Question, new AnswerOptions { Plan = AdaptationPlan.Single("math") });

    [Benchmark(Description = "pass 2: answer, 64 tokens, base model")]
    public Task<TwoPassResult> SecondPassBase() => _mergedCached.AnswerAsync(Question, new AnswerOptions { Plan = AdaptationPlan.Base });

    [Benchmark(Description = "pass 1: classification prompt, 16 tokens")]
    public Task<DispatchDecision> FirstPass() => _factored.DecideAsync(Question);

    [Benchmark(Description = "switch expert: compose+merge+restore 24 MLP matrices, then 1 token")]
    public Task<TwoPassResult> SwitchExpertUncached() => _mergedUncached.AnswerAsync(Question, new AnswerOptions { Plan = AdaptationPlan.Single("code"), MaxNewTokens = 1 });

    [Benchmark(Description = "no switch: cached merged expert, then 1 token")]
    public Task<TwoPassResult> NoSwitchCached() => _mergedCached.AnswerAsync(Question, new AnswerOptions { Plan = AdaptationPlan.Single("code"), MaxNewTokens = 1 });
}
