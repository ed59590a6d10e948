namespace Transformer2.Training.Execution;

/// <summary>The outcome of one sandboxed run.</summary>
/// <param name="Status">How the run ended.</param>
/// <param name="ExitCode">The exit code when the program exited by itself, else <see langword="null"/>.</param>
/// <param name="Stdout">Standard output (UTF-8, at most the output cap).</param>
/// <param name="Stderr">Standard error (UTF-8, at most the output cap).</param>
/// <param name="OutputTruncated">Whether output beyond the cap was dropped.</param>
/// <param name="Elapsed">Wall time of the run.</param>
/// <param name="WorkingDirectory">The throw-away folder the run used (already deleted).</param>
public sealed record SandboxResult(SandboxStatus Status, int? ExitCode, string Stdout, string Stderr, bool OutputTruncated, TimeSpan Elapsed, string WorkingDirectory)
{
    /// <summary>True when the program exited by itself with code 0.</summary>
    public bool Succeeded => Status == SandboxStatus.Completed && ExitCode == 0;
}
