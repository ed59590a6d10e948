using System.Runtime.InteropServices;

namespace Transformer2.Training.Execution;

/// <summary>The few libc calls the sandbox needs that .NET does not offer.</summary>
internal static partial class NativeMethods
{
    public const int SigKill = 9;

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint GetEffectiveUserId();

    [LibraryImport("libc", EntryPoint = "getuid")]
    public static partial uint GetRealUserId();

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "chown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Chown(string path, int owner, int group);
}
