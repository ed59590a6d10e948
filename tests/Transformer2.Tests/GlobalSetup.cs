using Transformer2.Core;

namespace Transformer2.Tests;

/// <summary>Runs once before every test: TorchSharp's native library must be loadable before any test touches torch.</summary>
[SetUpFixture]
public sealed class GlobalSetup
{
    [OneTimeSetUp]
    public void Initialize() => TorchRuntime.Initialize();
}
