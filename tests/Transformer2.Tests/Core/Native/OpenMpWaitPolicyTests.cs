using System.Runtime.InteropServices;
using Transformer2.Core;
using Transformer2.Core.Native;

namespace Transformer2.Tests.Core.Native;

public partial class OpenMpWaitPolicyTests
{
    [LibraryImport("libc", EntryPoint = "getenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint GetEnv(string name);

    static string? NativeVariable(string name) => Marshal.PtrToStringUTF8(GetEnv(name));

    [Test]
    public void TheNativeEnvironmentAsksLibgompNotToSpinUnlessTheUserChose()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("libgomp's environment is set on Linux only.");
        TorchRuntime.Initialize();
        string? policy = Environment.GetEnvironmentVariable(OpenMpWaitPolicy.PolicyVariable);
        string? spin = Environment.GetEnvironmentVariable(OpenMpWaitPolicy.SpinCountVariable);
        if (policy is null && spin is null)
        {
            // .NET's own copy of the environment never saw it: only the native one, which libgomp reads, has it.
            Assert.That(NativeVariable(OpenMpWaitPolicy.PolicyVariable), Is.EqualTo(OpenMpWaitPolicy.DefaultPolicy));
        }
        else
        {
            Assert.That(NativeVariable(OpenMpWaitPolicy.PolicyVariable), Is.EqualTo(policy), "the user's policy is kept");
            Assert.That(NativeVariable(OpenMpWaitPolicy.SpinCountVariable), Is.EqualTo(spin), "the user's spin count is kept");
        }
        Assert.That(OpenMpWaitPolicy.ApplyDefault(), Is.False, "applied once: the variable is now set natively or by the user");
    }
}
