namespace Transformer2.Training.Execution;

/// <summary>Thrown when generated code would run but the user has not opted in to executing untrusted code.</summary>
public sealed class CodeExecutionNotEnabledException : InvalidOperationException
{
    /// <summary>Creates the exception with the standard explanation.</summary>
    public CodeExecutionNotEnabledException()
        : base("Running model-generated Python is disabled. Code tasks (MBPP, HumanEval) execute untrusted code; to opt in, create a "
            + "PythonSandbox with new PythonSandboxOptions { AllowUntrustedCodeExecution = true } and pass it to the task. "
            + "Read the PythonSandbox documentation for what the sandbox does and does not guarantee.")
    {
    }

    /// <summary>Creates the exception with a custom message.</summary>
    public CodeExecutionNotEnabledException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a custom message and cause.</summary>
    public CodeExecutionNotEnabledException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
