namespace Transformer2.Training.Reinforce;

/// <summary>What a trainer knows about the run when it saves the best policy.</summary>
/// <param name="Options">The run's settings (name, base model identity, seed, learning rate, KL coefficient).</param>
/// <param name="TaskName">The task trained on.</param>
/// <param name="Iteration">The iteration the saved tensors come from.</param>
/// <param name="ValidationAccuracy">Their validation accuracy.</param>
public sealed record PolicySaveInfo(ReinforceOptions Options, string TaskName, int Iteration, double ValidationAccuracy);
