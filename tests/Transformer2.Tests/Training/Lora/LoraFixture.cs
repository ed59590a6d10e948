using TorchSharp;
using Transformer2.Models.Llama;
using Transformer2.Tests.Training.Reinforce;
using static TorchSharp.torch;

namespace Transformer2.Tests.Training.Lora;

/// <summary>The trainer fixture's tiny LLaMA, without SVF layers, and helpers for LoRA tests.</summary>
internal static class LoraFixture
{
    public static LlamaForCausalLM PlainModel(long seed = 3)
    {
        torch.manual_seed(seed);
        var model = new LlamaForCausalLM(TrainerFixture.Config);
        using (no_grad())
        {
            foreach (var p in model.parameters()) if (p.ndim == 2) p.normal_(0, 0.3);
        }
        model.eval();
        return model;
    }

    public static Tensor Ids() => tensor(new long[] { 1, 3, 4, 5, 6, 7, 8, 9, 3, 1, 4, 4, 5, 10, 3, 2 }, new long[] { 2, 8 });

    public static Tensor Logits(LlamaForCausalLM model)
    {
        using var noGrad = no_grad();
        using var ids = Ids();
        return model.Forward(ids);
    }
}
