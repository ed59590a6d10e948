using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Transformer2.Models.Llama;

/// <summary>The input embedding table (checkpoint key <c>model.embed_tokens.weight</c>).</summary>
public sealed class TokenEmbedding : nn.Module<Tensor, Tensor>
{
    /// <summary>The embedding matrix, shape [vocab, hidden].</summary>
    public Parameter weight;

    internal TokenEmbedding(long vocabSize, long hiddenSize, ParameterFactory factory) : base(nameof(TokenEmbedding))
    {
        weight = factory.Matrix(vocabSize, hiddenSize);
        RegisterComponents();
    }

    /// <summary>Looks up token ids of any shape; returns that shape plus [hidden].</summary>
    public override Tensor forward(Tensor tokenIds)
    {
        using var scope = NewDisposeScope();
        long[] shape = [.. tokenIds.shape, weight.shape[1]];
        // [N] rows of the table, then back to the ids' shape: [..., hidden]
        return weight.index_select(0, tokenIds.reshape(-1)).view(shape).MoveToOuterDisposeScope();
    }
}
