using TorchSharp;
using Transformer2.Core.Svf;
using static TorchSharp.torch;
using static Transformer2.Tests.Core.Svf.SvfTestData;

namespace Transformer2.Tests.Core.Svf;

public class SvfContextTests
{
    [Test]
    public void AmbientMultipliersOverrideTheLayerAndUnwind()
    {
        using var scope = NewDisposeScope();
        var (w, u, s, v) = Matrix(12, 10, 1);
        var layer = new SvfLinear("l.weight", w, null, u, s, v);
        var x = randn(3, 10);
        var z = Multiplier(10, 2);
        var adapted = nn.functional.linear(x, SvfComposer.Compose(u, s, v, z));
        var plain = nn.functional.linear(x, w);

        layer.Multiplier = z;
        using (SvfContext.UseBase()) Assert.That(MaxAbs(layer.forward(x), plain), Is.LessThan(1e-5));
        layer.Multiplier = null;
        using (SvfContext.Use(new Dictionary<string, Tensor> { ["l.weight"] = z }))
        {
            Assert.That(MaxAbs(layer.forward(x), adapted), Is.LessThan(1e-5));
            using (SvfContext.Use(new Dictionary<string, Tensor>(), SvfPath.Composed))
                Assert.That(MaxAbs(layer.forward(x), plain), Is.LessThan(1e-5), "inner block wins");
            Assert.That(MaxAbs(layer.forward(x), adapted), Is.LessThan(1e-5), "outer block restored");
        }
        Assert.That(MaxAbs(layer.forward(x), plain), Is.LessThan(1e-5));
    }

    [Test]
    public async Task ConcurrentRequestsWithDifferentExpertsGiveTheirSerialResults()
    {
        var (w, u, s, v) = Matrix(32, 24, 3);
        using var layer = new SvfLinear("l.weight", w, null, u, s, v);
        var x = randn(4, 24);
        var experts = Enumerable.Range(0, 4).Select(i => Multiplier(24, 10 + i)).ToArray();
        var serial = experts.Select(z =>
        {
            using (SvfContext.Use(new Dictionary<string, Tensor> { ["l.weight"] = z })) return layer.forward(x).detach().clone();
        }).ToArray();

        var tasks = Enumerable.Range(0, 64).Select(i => Task.Run(async () =>
        {
            var z = experts[i % 4];
            using (SvfContext.Use(new Dictionary<string, Tensor> { ["l.weight"] = z }))
            {
                await Task.Yield(); // hop threads inside the block: the context must follow
                using var y = layer.forward(x);
                return (i % 4, SameBits(y, serial[i % 4]));
            }
        })).ToArray();
        var results = await Task.WhenAll(tasks);
        Assert.That(results.All(r => r.Item2), Is.True, "every concurrent result equals its serial result bit for bit");
    }
}
