using System.Runtime.InteropServices;

namespace Transformer2.Core.Native;

/// <summary>
/// Tells libgomp (libtorch's OpenMP runtime on Linux) to put its idle threads to sleep instead of spinning, before
/// libtorch loads.
/// </summary>
/// <remarks>
/// By default libgomp's worker threads spin for ~300,000 iterations after each parallel region. During batch-1 decoding
/// libtorch runs hundreds of small operations per token and the managed kernels (<c>DecodeGemv</c>) run between them on
/// .NET threads; spinning OpenMP threads then hold the other cores, and the kernels' parts wait for a core
/// (docs/benchmarks.md). libgomp reads its environment once, when it loads, and .NET's
/// <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not change the native environment on Unix, so
/// this calls libc's <c>setenv</c>. A value the user set (<c>OMP_WAIT_POLICY</c> or <c>GOMP_SPINCOUNT</c>) is never
/// overridden, and nothing changes once libtorch is loaded.
/// </remarks>
internal static partial class OpenMpWaitPolicy
{
    internal const string PolicyVariable = "OMP_WAIT_POLICY";
    internal const string SpinCountVariable = "GOMP_SPINCOUNT";

    /// <summary>The policy set when the user set none.</summary>
    internal const string DefaultPolicy = "PASSIVE";

    /// <summary>Sets <see cref="PolicyVariable"/> to <see cref="DefaultPolicy"/> unless either variable is set natively. Returns whether it did.</summary>
    public static bool ApplyDefault()
    {
        if (!OperatingSystem.IsLinux()) return false;
        // The native environment is what libgomp reads (and what an earlier call changed); .NET keeps its own copy.
        if (GetEnv(PolicyVariable) != 0 || GetEnv(SpinCountVariable) != 0) return false;
        _applied = SetEnv(PolicyVariable, DefaultPolicy, overwrite: 0) == 0;
        return _applied;
    }

    /// <summary>
    /// Removes the policy again if <see cref="ApplyDefault"/> set it, so that an OpenMP runtime loaded later (llama.cpp's
    /// system libgomp, in the benchmark) starts with its own default. libtorch's copy, already loaded, keeps what it read.
    /// </summary>
    internal static void ClearDefault()
    {
        if (_applied && UnsetEnv(PolicyVariable) == 0) _applied = false;
    }

    static bool _applied;

    [LibraryImport("libc", EntryPoint = "unsetenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int UnsetEnv(string name);

    [LibraryImport("libc", EntryPoint = "getenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint GetEnv(string name);

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
