namespace Transformer2.Core.Kernels;

/// <summary>
/// A small set of persistent background threads that run the parts of one data-parallel job, the caller taking part.
/// </summary>
/// <remarks>
/// A decode step issues ~100 matrix-vector products of 0.05–2 ms each, so the cost of handing out work matters:
/// the workers are started once and woken by a semaphore (which spins briefly before it blocks), and parts are
/// claimed with one interlocked increment each. One job runs at a time; a caller that finds the pool busy (another
/// thread decoding) runs its parts itself rather than wait.
/// </remarks>
internal sealed class DecodeWorkerPool
{
    /// <summary>The process-wide pool: one worker per core besides the caller's.</summary>
    public static DecodeWorkerPool Shared { get; } = new(Environment.ProcessorCount - 1);

    readonly SemaphoreSlim _wake = new(0);
    readonly object _busy = new();
    Job? _current;

    /// <summary>Starts <paramref name="workers"/> background threads (0 runs everything on the caller).</summary>
    public DecodeWorkerPool(int workers)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(workers);
        Workers = workers;
        for (int i = 0; i < workers; i++)
            new Thread(WorkLoop) { IsBackground = true, Name = $"Transformer2 decode worker {i}" }.Start();
    }

    /// <summary>Number of background threads; a job can use this many plus the caller.</summary>
    public int Workers { get; }

    /// <summary>Runs <paramref name="body"/>(part) for every part in [0, <paramref name="parts"/>) and returns when all are done.</summary>
    /// <exception cref="AggregateException">A part threw; the other parts still ran to completion.</exception>
    public void Run(int parts, Action<int> body)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(parts);
        var job = new Job(parts, body);
        if (parts == 1 || Workers == 0 || !Monitor.TryEnter(_busy))
        {
            job.RunParts();
            job.ThrowIfFailed();
            return;
        }
        try
        {
            Volatile.Write(ref _current, job);
            _wake.Release(Math.Min(parts - 1, Workers));
            job.RunParts();
            job.WaitForAll();
            Volatile.Write(ref _current, null);
        }
        finally
        {
            Monitor.Exit(_busy);
        }
        job.ThrowIfFailed();
    }

    void WorkLoop()
    {
        while (true)
        {
            _wake.Wait();
            // A wake-up left over from a job that already finished finds null or a finished job: nothing to claim.
            Volatile.Read(ref _current)?.RunParts();
        }
    }

    /// <summary>One call to <see cref="Run"/>: its parts, the next unclaimed one, and how many are unfinished.</summary>
    sealed class Job(int parts, Action<int> body)
    {
        readonly ManualResetEventSlim _done = new(false, spinCount: 100);
        readonly int _parts = parts;
        int _next = -1;
        int _remaining = parts;
        Exception? _failure;

        public void RunParts()
        {
            int part;
            while ((part = Interlocked.Increment(ref _next)) < _parts)
            {
                try
                {
                    body(part);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref _failure, e, null);
                }
                if (Interlocked.Decrement(ref _remaining) == 0) _done.Set();
            }
        }

        public void WaitForAll()
        {
            _done.Wait();
            _done.Dispose();
        }

        public void ThrowIfFailed()
        {
            if (_failure is not null) throw new AggregateException("A decode kernel part failed.", _failure);
        }
    }
}
