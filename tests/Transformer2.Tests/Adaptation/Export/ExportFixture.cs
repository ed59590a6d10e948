using Transformer2.Adaptation.Experts;
using Transformer2.Adaptation.Export;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Core.Svf;
using Transformer2.Demo.Tasks;
using Transformer2.Models.Llama;
using Transformer2.Models.Tokenization;
using static TorchSharp.torch;

namespace Transformer2.Tests.Adaptation.Export;

/// <summary>The bundled model with SVF layers, its four experts, an exporter, and our merged model's logits for a plan.</summary>
public sealed class ExportFixture : IDisposable
{
    public ExportFixture()
    {
        Folder = BundledModel.Folder();
        (Model, Tokenizer) = DemoStages.LoadWithSvf(Folder);
        Layers = SvfInjector.Find(Model);
        Experts = new ExpertRegistry(Layers.ToDictionary(l => l.Key, l => l.Value.Rank), "t2-tiny");
        Experts.RegisterFolder(Path.Combine(Folder, "experts"));
        Exporter = new AdaptedModelExporter(Model, Experts, Folder);
    }

    public string Folder { get; }

    public LlamaForCausalLM Model { get; }

    public ITextTokenizer Tokenizer { get; }

    public IReadOnlyDictionary<string, SvfLinear> Layers { get; }

    public ExpertRegistry Experts { get; }

    public AdaptedModelExporter Exporter { get; }

    public static AdaptationPlan Arith => AdaptationPlan.Single("arith");

    public static AdaptationPlan ArithCodeMixture => AdaptationPlan.Mixture(["arith", "code"], MixtureWeights.Global([0.7, 0.4]));

    /// <summary>A prompt as the bundled model sees it (12 tokens or so, special tokens included).</summary>
    public int[] PromptTokens() =>
        Tokenizer.Encode("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nWhat is 12 + 7?<|eot_id|>");

    /// <summary>Runs <paramref name="action"/> with the plan merged into our model's weights (as <see cref="SvfLinear.Merge"/> does), then restores them.</summary>
    public T WithMerged<T>(AdaptationPlan plan, Func<T> action)
    {
        var multipliers = PlanMultipliers.Compute(plan, Experts, MixtureSemantics.Multipliers);
        try
        {
            foreach (var (target, z) in multipliers) Layers[target].Merge(z);
            return action();
        }
        finally
        {
            foreach (var target in multipliers.Keys) Layers[target].Unmerge();
            foreach (var z in multipliers.Values) z.Dispose();
        }
    }

    /// <summary>Our model's logits [tokens, vocab] for <paramref name="tokens"/> with the plan merged (the base model for <see cref="AdaptationPlan.Base"/>).</summary>
    public Tensor MergedLogits(AdaptationPlan plan, int[] tokens) => WithMerged(plan, () => Logits(Model, tokens));

    public static Tensor Logits(LlamaForCausalLM model, int[] tokens)
    {
        using var noGrad = no_grad();
        using var ids = tensor(tokens.Select(t => (long)t).ToArray()).view(1, -1);
        using var logits = model.Forward(ids);
        return logits.squeeze(0).clone();
    }

    public void Dispose()
    {
        Experts.Dispose();
        Model.Dispose();
    }
}
