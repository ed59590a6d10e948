namespace Transformer2.Adaptation.Pipeline;

/// <summary>
/// How a remote second pass names what it asks for: the serving engine (vLLM, llama.cpp's server, this project's
/// OpenAI-compatible server, …) holds each expert as an exported adapter or merged model under a model name.
/// </summary>
/// <remarks>
/// A mixture (few-shot CEM, or a fixed plan with weights) has no name on the remote unless it was exported and is listed in
/// <see cref="MixtureModels"/> under its plan key (<see cref="AdaptationPlan.Key"/>); any other mixture fails the request
/// with an <see cref="InvalidOperationException"/> naming the key, rather than silently answering with something else.
/// </remarks>
public sealed class RemoteSecondPassOptions
{
    /// <summary>Expert name → remote model name. An expert not listed is asked for by its own name.</summary>
    public IDictionary<string, string> ExpertModels { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>The remote model name of the unadapted model (the plan <see cref="AdaptationPlan.Base"/>).</summary>
    public string BaseModel { get; set; } = "base";

    /// <summary>Plan key of an exported mixture → its remote model name.</summary>
    public IDictionary<string, string> MixtureModels { get; } = new Dictionary<string, string>(StringComparer.Ordinal);
}
