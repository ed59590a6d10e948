namespace Transformer2.Training.Execution;

/// <summary>How strongly <see cref="PythonSandbox"/> isolates a run from the host.</summary>
public enum SandboxIsolation
{
    /// <summary>Use Linux namespaces (no network, own PID space) when <c>unshare</c> works here, else process-only isolation.</summary>
    Auto,

    /// <summary>Require namespaces; constructing the sandbox fails when they are unavailable.</summary>
    Namespaces,

    /// <summary>Only rlimits, a process group and the in-interpreter policy hook (weaker; see <see cref="PythonSandbox"/>).</summary>
    ProcessOnly,
}
