namespace Transformer2.Training.Reinforce;

/// <summary>How the learning rate evolves over the iterations.</summary>
public enum LearningRateSchedule
{
    /// <summary>The same rate throughout, as the authors.</summary>
    Constant,

    /// <summary>Cosine decay from the initial rate to zero over the run.</summary>
    Cosine,
}
