using Transformer2.Adaptation.Dispatch;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Models.Chat;

namespace Transformer2.Tests.Server;

/// <summary>
/// A first pass that waits until the test opens the gate, so requests hold their concurrency slots for as long as a test
/// needs; it records whether a request's cancellation token reached it (a disconnected client).
/// </summary>
internal sealed class GatedStrategy : IDispatchStrategy
{
    readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    readonly TaskCompletionSource _cancelled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    int _entered;

    public string Name => "gated";

    /// <summary>How many first passes have started.</summary>
    public int Entered => Volatile.Read(ref _entered);

    /// <summary>Completes when a waiting first pass saw its request cancelled.</summary>
    public Task Cancelled => _cancelled.Task;

    public void Open() => _gate.TrySetResult();

    /// <summary>Waits until <paramref name="count"/> first passes have started.</summary>
    public async Task WaitForEnteredAsync(int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (Entered < count)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Only {Entered} of {count} requests reached the first pass.");
            await Task.Delay(10);
        }
    }

    public void Validate(DispatchContext context)
    {
    }

    public async ValueTask<DispatchDecision> DecideAsync(DispatchContext context, IReadOnlyList<ChatMessage> messages, AnswerOptions options, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _entered);
        try
        {
            await _gate.Task.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            _cancelled.TrySetResult();
            throw;
        }
        return new DispatchDecision(Name, null, AdaptationPlan.Base);
    }
}
