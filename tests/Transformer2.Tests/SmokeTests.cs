using TorchSharp;
using static TorchSharp.torch;

namespace Transformer2.Tests;

public class SmokeTests
{
    [Test]
    public void TorchLoads()
    {
        using var a = ones(2, 2);
        Assert.That(a.sum().item<float>(), Is.EqualTo(4f));
    }
}
