using TorchSharp;
using Transformer2.Core.Svf;
using Transformer2.Models.Llama;
using Transformer2.Training.Reinforce;
using Transformer2.Training.Tasks;
using static TorchSharp.torch;

namespace Transformer2.Tests.Training.Reinforce;

/// <summary>A tiny random LLaMA with SVF on its MLPs and a task whose reward is the share of 'a' in the answer.</summary>
internal static class TrainerFixture
{
    public const string Alphabet = "abcdefgh";

    public static LlamaConfig Config => new()
    {
        HiddenSize = 32,
        IntermediateSize = 64,
        NumHiddenLayers = 2,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        HeadDim = 8,
        RmsNormEps = 1e-5,
        MaxPositionEmbeddings = 64,
        VocabSize = Alphabet.Length + 3,
        BosTokenId = 1,
        EosTokenIds = [2],
        TorchDtype = "float32",
    };

    public static LlamaForCausalLM Model(long seed = 3)
    {
        torch.manual_seed(seed);
        var model = new LlamaForCausalLM(Config);
        using (no_grad())
        {
            // Larger weights than the 0.02 default so the untrained model has an opinion to change.
            foreach (var p in model.parameters()) if (p.ndim == 2) p.normal_(0, 0.3);
        }
        model.eval();
        SvfInjector.Inject(model, name => name.Contains(".mlp."), (_, w) =>
        {
            var (u, s, vh) = linalg.svd(w.detach(), fullMatrices: false);
            return (u, s, vh.t());
        });
        return model;
    }

    public static DelegateTask Task(int trainItems = 16, int validItems = 8)
    {
        static List<TaskItem> Items(string prefix, int n) => Enumerable.Range(0, n).Select(i => new TaskItem($"{prefix}{i}", new string(Alphabet[(i * 3) % Alphabet.Length], 1 + i % 3))).ToList();
        var splits = new TaskSplits(Items("t", trainItems), Items("v", validItems), [], []);
        return DelegateTask.WithReward("more-a", splits, null,
            (_, completion) => completion.Length == 0 ? -1 : 2.0 * completion.Count(c => c == 'a') / completion.Length - 1,
            new GenerationSettings(4, 64, []));
    }

    public static ReinforceOptions Options(string? folder = null) => new()
    {
        BatchSize = 8,
        MicroBatchSize = 4,
        Iterations = 30,
        LearningRate = 0.05,
        MaxGradNorm = null,
        Temperature = 1.0,
        ValidationInterval = 0,
        OutputFolder = folder,
        Seed = 11,
    };

    public static string TempFolder()
    {
        string folder = Path.Combine(Path.GetTempPath(), "t2-trainer-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        return folder;
    }
}
