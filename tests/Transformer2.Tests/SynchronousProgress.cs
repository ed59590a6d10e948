namespace Transformer2.Tests;

/// <summary>Reports on the caller's thread (<see cref="Progress{T}"/> posts to the thread pool, too late for an assertion).</summary>
internal sealed class SynchronousProgress<T>(Action<T> action) : IProgress<T>
{
    public void Report(T value) => action(value);
}
