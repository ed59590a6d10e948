namespace Transformer2.Training.Execution;

/// <summary>How a sandboxed run ended.</summary>
public enum SandboxStatus
{
    /// <summary>The program exited by itself (see the exit code).</summary>
    Completed,

    /// <summary>The time limit passed; every process of the run was killed.</summary>
    TimedOut,

    /// <summary>The program wrote more than the output cap; it was killed and its output truncated.</summary>
    OutputLimitExceeded,
}
