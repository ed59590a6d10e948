using System.Runtime.CompilerServices;
using Transformer2.Core.Native;

namespace Transformer2.Core;

/// <summary>
/// Prepares TorchSharp's native library before its first use.
/// </summary>
/// <remarks>
/// The build targets shipped with this package already patch <c>libLibTorchSharp.so</c> in the output folder
/// (see <c>docs/native-libtorch.md</c>). Hosts that build without those targets, such as BenchmarkDotNet's
/// generated projects, get the same patch here, at start-up, before TorchSharp loads. Call
/// <see cref="Initialize"/> before your first <c>torch.*</c> call if your code touches TorchSharp before any
/// Transformer2 type; the library itself calls it from a module initializer.
/// </remarks>
public static class TorchRuntime
{
    static readonly object Gate = new();
    static bool _initialized;

    /// <summary>
    /// Patches TorchSharp's native library under the application folder if this distribution needs it, and sets
    /// <c>OMP_WAIT_POLICY=PASSIVE</c> in the native environment unless <c>OMP_WAIT_POLICY</c> or <c>GOMP_SPINCOUNT</c> is
    /// already set (libgomp's spinning threads otherwise hold the cores the decode kernels need; docs/benchmarks.md).
    /// Both take effect only before libtorch loads. Idempotent.
    /// </summary>
    public static void Initialize()
    {
        lock (Gate)
        {
            if (_initialized) return;
            _initialized = true;
            if (!OperatingSystem.IsLinux()) return;
            OpenMpWaitPolicy.ApplyDefault();
            var provided = ElfVersionPatcher.SystemProvidedVersions();
            foreach (string folder in new[] { AppContext.BaseDirectory, Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native"), Path.Combine(AppContext.BaseDirectory, "cpu") })
            {
                string file = Path.Combine(folder, "libLibTorchSharp.so");
                if (!File.Exists(file)) continue;
                try
                {
                    ElfVersionPatcher.PatchFile(file, provided);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
                {
                    throw new InvalidOperationException(
                        $"TorchSharp's native library '{file}' needs GLIBCXX_3.4.32, which this system's libstdc++ lacks, and it could not be patched: {e.Message} " +
                        "Build the application with the Transformer2.Core package's targets, or make the folder writable.", e);
                }
            }
        }
    }

#pragma warning disable CA2255 // A module initializer in a library is deliberate: it must run before TorchSharp loads.
    [ModuleInitializer]
    internal static void InitializeOnLoad() => Initialize();
#pragma warning restore CA2255
}
