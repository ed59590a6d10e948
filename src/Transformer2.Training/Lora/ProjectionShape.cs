namespace Transformer2.Training.Lora;

/// <summary>One projection matrix of a model: its module path and weight shape [out, in].</summary>
/// <param name="ModulePath">E.g. <c>model.layers.0.mlp.gate_proj</c>; its weight is <c>ModulePath + ".weight"</c>.</param>
/// <param name="OutFeatures">Rows of the weight.</param>
/// <param name="InFeatures">Columns of the weight.</param>
public sealed record ProjectionShape(string ModulePath, long OutFeatures, long InFeatures)
{
    /// <summary>The weight's checkpoint key.</summary>
    public string WeightName => ModulePath + ".weight";
}
