using System.Globalization;
using System.Text;

namespace Transformer2.Training.Reinforce;

/// <summary>The learning curve of a run as CSV and as a PNG plot.</summary>
public static class LearningCurve
{
    /// <summary>One row per iteration: iteration, reward, accuracies, loss, KL, gradient norm, learning rate, timings.</summary>
    public static string ToCsv(IReadOnlyList<TrainingProgress> history)
    {
        var csv = new StringBuilder("iteration,reward_mean,train_accuracy,validation_accuracy,loss,kl,grad_norm,learning_rate,elapsed_s,generation_s,gradient_s,update_s\n");
        foreach (var h in history)
        {
            csv.Append(CultureInfo.InvariantCulture, $"{h.Iteration},{h.RewardMean:R},{h.TrainAccuracy:R},{(h.ValidationAccuracy is { } v ? v.ToString("R", CultureInfo.InvariantCulture) : "")},");
            csv.Append(CultureInfo.InvariantCulture, $"{h.Loss:R},{h.Kl:R},{h.GradNorm:R},{h.LearningRate:R},{h.Elapsed.TotalSeconds:F3},{h.GenerationTime.TotalSeconds:F3},{h.GradientTime.TotalSeconds:F3},{h.UpdateTime.TotalSeconds:F3}\n");
        }
        return csv.ToString();
    }

    /// <summary>Plots training reward and accuracy and validation accuracy against the iteration; written atomically.</summary>
    public static void SavePlot(IReadOnlyList<TrainingProgress> history, string path, string title = "SVF training")
    {
        var plot = new ScottPlot.Plot();
        var train = history.Where(h => h.Iteration > 0).ToList();
        if (train.Count > 0)
        {
            var reward = plot.Add.Scatter(train.Select(h => (double)h.Iteration).ToArray(), train.Select(h => h.RewardMean).ToArray());
            reward.LegendText = "mean reward (train batch)";
            var accuracy = plot.Add.Scatter(train.Select(h => (double)h.Iteration).ToArray(), train.Select(h => h.TrainAccuracy).ToArray());
            accuracy.LegendText = "accuracy (train batch)";
        }
        var validated = history.Where(h => h.ValidationAccuracy is not null).ToList();
        if (validated.Count > 0)
        {
            var valid = plot.Add.Scatter(validated.Select(h => (double)h.Iteration).ToArray(), validated.Select(h => h.ValidationAccuracy!.Value).ToArray());
            valid.LegendText = "accuracy (validation)";
            valid.LineWidth = 2;
        }
        plot.Title(title);
        plot.XLabel("iteration");
        plot.ShowLegend();
        Core.IO.AtomicFile.WriteAllBytes(path, plot.GetImageBytes(800, 500, ScottPlot.ImageFormat.Png));
    }
}
