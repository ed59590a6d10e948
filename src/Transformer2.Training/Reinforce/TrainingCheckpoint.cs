using System.Text.Json;
using Transformer2.Core.IO;
using Transformer2.Core.Svd;
using Transformer2.Models.Llama;
using static TorchSharp.torch;

namespace Transformer2.Training.Reinforce;

/// <summary>
/// The files of a training run: the best policy (an SVF expert or a PEFT adapter), the resumable state and the learning curve, each written atomically
/// so that a run cancelled or killed at any point leaves the last complete version of every file.
/// </summary>
/// <param name="folder">Where the files go.</param>
/// <param name="baseModel">The base model's <see cref="FingerprintOf"/>, saved with the state and checked on resuming.</param>
internal sealed class TrainingCheckpoint(string folder, string baseModel)
{
    const string StateKey = "transformer2.training_state";

    public string StatePath => Path.Combine(folder, "state.safetensors");
    public string CurvePath => Path.Combine(folder, "learning_curve.csv");
    public string PlotPath => Path.Combine(folder, "learning_curve.png");

    public sealed record Resumed(int Iteration, double? BestAccuracy, int BestIteration, int SinceBest,
        List<KeyValuePair<string, Tensor>> BestVectors, List<TrainingProgress> History);

    // BaseModel is null in states written before it was recorded; those resume unchecked.
    sealed record StateHeader(int Iteration, long AdamStep, double? BestAccuracy, int BestIteration, int SinceBest, string[] Targets, List<TrainingProgress> History,
        string? BaseModel = null);

    /// <summary>
    /// What the state records of the base model, so that a run is never resumed on another one (a folder name is not
    /// enough: retraining a model in place keeps its name). The embedding matrix alone: it is used as loaded, while SVF
    /// layers re-factor the MLP matrices (by an SVD whose last bits differ between devices) and may drop their dense weights.
    /// </summary>
    public static string FingerprintOf(LlamaForCausalLM model) =>
        WeightsFingerprint.Of(new Dictionary<string, Tensor> { ["model.embed_tokens.weight"] = model.model.embed_tokens.weight! });

    public void SaveBest(ReinforceTrainer trainer, IReadOnlyList<KeyValuePair<string, Tensor>> snapshot, double accuracy, int iteration) =>
        trainer.Policy.SaveBest(folder, snapshot, new PolicySaveInfo(trainer.Options, trainer.TaskDefinition.Name, iteration, accuracy));

    public void SaveLatest(ITrainablePolicy policy, AdamOptimizer adam, int iteration, double? bestAccuracy, int bestIteration, int sinceBest,
        IReadOnlyList<KeyValuePair<string, Tensor>> best, IReadOnlyList<TrainingProgress> history)
    {
        var tensors = new List<KeyValuePair<string, Tensor>>();
        for (int i = 0; i < policy.Names.Count; i++)
        {
            tensors.Add(new($"p.{i}", policy.Parameters[i].detach()));
            tensors.Add(new($"adam_m.{i}", adam.FirstMoments[i]));
            tensors.Add(new($"adam_v.{i}", adam.SecondMoments[i]));
            tensors.Add(new($"best.{i}", best[i].Value));
        }
        var header = new StateHeader(iteration, adam.Step, bestAccuracy, bestIteration, sinceBest, policy.Names.ToArray(), history.ToList(), baseModel);
        SafetensorsWriter.Write(StatePath, tensors, new Dictionary<string, string> { [StateKey] = JsonSerializer.Serialize(header) });
        AtomicFile.WriteAllText(CurvePath, LearningCurve.ToCsv(history));
    }

    public Resumed? TryLoad(ITrainablePolicy policy, AdamOptimizer adam)
    {
        if (!File.Exists(StatePath)) return null;
        using var file = SafetensorsFile.Open(StatePath);
        if (!file.Metadata.TryGetValue(StateKey, out var json))
            throw new InvalidDataException($"{StatePath}: not a Transformer2 training state (no '{StateKey}' metadata).");
        var header = JsonSerializer.Deserialize<StateHeader>(json)
            ?? throw new InvalidDataException($"{StatePath}: empty training state.");
        if (header.BaseModel is { } saved && saved != baseModel)
            throw new InvalidDataException($"{StatePath}: saved while training on another base model (fingerprint {saved}; this model: {baseModel}). " +
                "Delete the folder or use another output folder to start afresh.");
        if (!header.Targets.SequenceEqual(policy.Names))
            throw new InvalidDataException($"{StatePath}: saved for targets [{string.Join(", ", header.Targets.Take(3))}, …], this run trains [{string.Join(", ", policy.Names.Take(3))}, …]. Use another output folder.");
        using var scope = NewDisposeScope();
        var p = new Dictionary<string, Tensor>();
        var m = new List<Tensor>();
        var v = new List<Tensor>();
        var best = new List<KeyValuePair<string, Tensor>>();
        for (int i = 0; i < header.Targets.Length; i++)
        {
            p[header.Targets[i]] = file.Read($"p.{i}");
            m.Add(file.Read($"adam_m.{i}"));
            v.Add(file.Read($"adam_v.{i}"));
            best.Add(new(header.Targets[i], file.Read($"best.{i}").DetachFromDisposeScope()));
        }
        policy.Load(p);
        adam.Restore(header.AdamStep, m, v);
        return new Resumed(header.Iteration, header.BestAccuracy, header.BestIteration, header.SinceBest, best, header.History);
    }

    public void SavePlot(IReadOnlyList<TrainingProgress> history) => LearningCurve.SavePlot(history, PlotPath);
}
