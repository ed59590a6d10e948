namespace Transformer2.Demo.Tasks;

/// <summary>How the demo pipeline picks experts for a prompt.</summary>
public enum DispatchMode
{
    /// <summary>No dispatch: the plan given per request (the base model unless one is named).</summary>
    Fixed,

    /// <summary>The base model classifies the prompt with the authors' classification prompt.</summary>
    Prompt,

    /// <summary>The same prompt, answered with the classification expert applied.</summary>
    ClassificationExpert,

    /// <summary>CEM over mixtures of the three family experts, from a few examples of each unseen task.</summary>
    FewShot,
}
