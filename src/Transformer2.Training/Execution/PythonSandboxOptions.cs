namespace Transformer2.Training.Execution;

/// <summary>Limits and switches of <see cref="PythonSandbox"/>.</summary>
public sealed class PythonSandboxOptions
{
    /// <summary>
    /// Must be set to <see langword="true"/> to run anything: the code comes from a model and is untrusted. Without it,
    /// <see cref="PythonSandbox"/> throws <see cref="CodeExecutionNotEnabledException"/>.
    /// </summary>
    public bool AllowUntrustedCodeExecution { get; set; }

    /// <summary>The interpreter (a name on PATH or a path); <c>python3</c> by default.</summary>
    public string PythonExecutable { get; set; } = "python3";

    /// <summary>Wall-clock limit of one run; every process of the run is killed when it passes.</summary>
    public TimeSpan TimeLimit { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Address-space limit of each process (RLIMIT_AS).</summary>
    public long MemoryLimitBytes { get; set; } = 1L << 30;

    /// <summary>Most processes the run may have at once (RLIMIT_NPROC), against fork bombs.</summary>
    public int MaxProcesses { get; set; } = 16;

    /// <summary>Most bytes kept from stdout and stderr together; a run writing more is killed.</summary>
    public int MaxOutputBytes { get; set; } = 64 * 1024;

    /// <summary>Largest file a run may write (RLIMIT_FSIZE).</summary>
    public long MaxFileSizeBytes { get; set; } = 16L << 20;

    /// <summary>Isolation level; <see cref="SandboxIsolation.Auto"/> uses namespaces when available.</summary>
    public SandboxIsolation Isolation { get; set; } = SandboxIsolation.Auto;

    /// <summary>Where throw-away working folders are created (the system temp folder when <see langword="null"/>).</summary>
    public string? WorkingRoot { get; set; }

    /// <summary>When running as root: the first of 1000 user ids runs switch to (each run takes the next), so rlimits apply.</summary>
    public int UnprivilegedUserIdBase { get; set; } = 61000;
}
