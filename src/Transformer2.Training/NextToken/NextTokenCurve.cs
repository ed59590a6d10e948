using System.Globalization;
using System.Text;

namespace Transformer2.Training.NextToken;

/// <summary>The learning curve of a next-token run as CSV.</summary>
public static class NextTokenCurve
{
    /// <summary>One row per step: step, epoch, loss, tokens, gradient norm, learning rate, validation loss, elapsed seconds.</summary>
    public static string ToCsv(IReadOnlyList<NextTokenProgress> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var csv = new StringBuilder("step,epoch,loss,tokens,grad_norm,learning_rate,validation_loss,elapsed_s\n");
        foreach (var h in history)
        {
            csv.Append(CultureInfo.InvariantCulture, $"{h.Step},{h.Epoch},{h.Loss:R},{h.Tokens},{h.GradNorm:R},{h.LearningRate:R},");
            csv.Append(CultureInfo.InvariantCulture, $"{(h.ValidationLoss is { } v ? v.ToString("R", CultureInfo.InvariantCulture) : "")},{h.Elapsed.TotalSeconds:F3}\n");
        }
        return csv.ToString();
    }
}
