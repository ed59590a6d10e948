using BenchmarkDotNet.Attributes;
using TorchSharp;
using Transformer2.Models.Chat;
using Transformer2.Models.Llama;
using Transformer2.Training.NextToken;
using Transformer2.Training.Tasks;

namespace Transformer2.Benchmarks;

/// <summary>
/// One epoch of next-token training (4 steps of 32 sequences) on a model of the demo's base-model shape (hidden 128,
/// 4 layers, byte tokenizer) over a mixture like its pre-training text: mostly ~200-token items and one ~550-token
/// prompt in every 25 (the byte tokenizer spells the chat template out) — fixed micro-batches of 8 (each pads to its longest sequence) vs token-bounded
/// micro-batches of at most 1,024 padded tokens over the length-sorted batch (<see cref="NextTokenOptions.MicroBatchTokens"/>).
/// </summary>
[Config(typeof(HeavyOperationConfig))]
public class NextTokenBenchmarks
{
    // One model keeps training across iterations and both methods: the timing does not depend on the weights.
    LlamaForCausalLM _model = null!;
    DelegateTask _task = null!;
    readonly ByteTokenizer _tokenizer = new();

    static LlamaConfig Config => new()
    {
        HiddenSize = 128,
        IntermediateSize = 384,
        NumHiddenLayers = 4,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        HeadDim = 32,
        MaxPositionEmbeddings = 1024,
        VocabSize = 259,
        BosTokenId = 1,
        EosTokenIds = [2],
        TorchDtype = "float32",
    };

    static NextTokenOptions Options => new() { BatchSize = 32, Epochs = 1, ValidationInterval = 0, LearningRate = 1e-3, Seed = 1 };

    [GlobalSetup]
    public void Setup()
    {
        BenchmarkSetup.Initialize();
        torch.manual_seed(3);
        _model = new LlamaForCausalLM(Config);
        // 128 items: every 25th a long one (the share of classification prompts in the demo's mixture is 2.6-4 %).
        var items = Enumerable.Range(0, 128).Select(i => new TaskItem($"t{i}", i % 25 == 7
                ? string.Concat(Enumerable.Repeat("Classify the question below into one of three categories. ", 7))
                : $"Ann has {i % 9 + 1} pens and gets {i % 7 + 2} more. How many pens does Ann have?")
            { References = [i % 25 == 7 ? "Classification: \\boxed{math}" : $"{i % 9 + 1}+{i % 7 + 2}={i % 9 + i % 7 + 3}. The answer is {i % 9 + i % 7 + 3}."] }).ToList();
        _task = DelegateTask.WithReward("mixture", new TaskSplits(items, [], [], []), null, (_, _) => 0);
    }

    [GlobalCleanup]
    public void Cleanup() => _model.Dispose();

    [Benchmark(Baseline = true, Description = "epoch of 4 steps, micro-batches of 8 sequences")]
    public Task<NextTokenResult> FixedMicroBatches() => Train(Options with { MicroBatchSize = 8 });

    [Benchmark(Description = "epoch of 4 steps, micro-batches of <= 1,024 padded tokens, length-sorted")]
    public Task<NextTokenResult> TokenBoundedMicroBatches() => Train(Options with { MicroBatchSize = 32, MicroBatchTokens = 1024 });

    async Task<NextTokenResult> Train(NextTokenOptions options)
    {
        using var trainer = new NextTokenTrainer(_model, _model.parameters(), _tokenizer, Llama3ChatTemplate.Instruct, _task, options);
        return await trainer.TrainAsync();
    }
}
