using TorchSharp;
using Transformer2.Models.Llama;
using static TorchSharp.torch;

namespace Transformer2.Models.Llava;

/// <summary>The projector from vision features to the language model's width: <c>linear_2(gelu(linear_1(x)))</c>, exact erf GELU.</summary>
public sealed class LlavaMultiModalProjector : nn.Module<Tensor, Tensor>
{
    /// <summary>[text_hidden, vision_hidden·layers].</summary>
    public nn.Module<Tensor, Tensor> linear_1;

    /// <summary>[text_hidden, text_hidden].</summary>
    public nn.Module<Tensor, Tensor> linear_2;

    internal LlavaMultiModalProjector(LlavaConfig config, ParameterFactory factory) : base(nameof(LlavaMultiModalProjector))
    {
        int input = config.ProjectorInputSize, hidden = config.TextConfig.HiddenSize;
        linear_1 = config.MultimodalProjectorBias ? factory.LinearWithBias(input, hidden) : factory.Linear(input, hidden);
        linear_2 = config.MultimodalProjectorBias ? factory.LinearWithBias(hidden, hidden) : factory.Linear(hidden, hidden);
        RegisterComponents();
    }

    /// <summary>[..., vision_hidden·layers] → [..., text_hidden].</summary>
    public override Tensor forward(Tensor features)
    {
        using var scope = NewDisposeScope();
        return linear_2.call(nn.functional.gelu(linear_1.call(features))).MoveToOuterDisposeScope();
    }
}
