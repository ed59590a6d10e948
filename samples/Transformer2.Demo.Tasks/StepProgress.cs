namespace Transformer2.Demo.Tasks;

/// <summary>
/// An <see cref="IProgress{T}"/> that runs its handler on the reporting thread, at once: unlike <see cref="Progress{T}"/>,
/// reports arrive in order and before the next step starts, which keeps log lines and progress bars in step with training.
/// </summary>
/// <typeparam name="T">The report type.</typeparam>
public sealed class StepProgress<T>(Action<T> handler) : IProgress<T>
{
    readonly Action<T> _handler = handler ?? throw new ArgumentNullException(nameof(handler));

    /// <inheritdoc />
    public void Report(T value) => _handler(value);
}
