using TorchSharp;
using TorchSharp.Modules;
using Transformer2.Core.Svf;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Transformer2.Tests.Core.Svf;

public class SvfInjectorTests
{
    // A miniature of a transformer block whose fields are named like checkpoint keys.
#pragma warning disable IDE1006
    sealed class Mlp : Module<Tensor, Tensor>
    {
        public Module<Tensor, Tensor> gate_proj, up_proj, down_proj;

        public Mlp(int hidden, int inner) : base("Mlp")
        {
            gate_proj = Linear(hidden, inner, hasBias: false);
            up_proj = Linear(hidden, inner, hasBias: false);
            down_proj = Linear(inner, hidden, hasBias: false);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            return down_proj.forward(functional.silu(gate_proj.forward(x)) * up_proj.forward(x)).MoveToOuterDisposeScope();
        }
    }

    sealed class Block : Module<Tensor, Tensor>
    {
        public Mlp mlp;
        public Linear head;

        public Block() : base("Block")
        {
            mlp = new Mlp(8, 12);
            head = Linear(8, 5);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => head.forward(mlp.forward(x));
    }
#pragma warning restore IDE1006

    static (Tensor, Tensor, Tensor) Factors(string name, Tensor w)
    {
        var (u, s, vh) = linalg.svd(w.detach(), fullMatrices: false);
        return (u, s, vh.t());
    }

    [Test]
    public void InjectsByNameKeepsKeysAndOutputsAndRemovesCleanly()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(1);
        var model = new Block();
        var x = randn(2, 3, 8);
        var before = model.forward(x).detach().clone();
        var keys = model.state_dict().Keys.ToList();

        var layers = SvfInjector.Inject(model, name => name.Contains(".mlp.") || name.StartsWith("mlp."), Factors);

        Assert.That(layers.Keys, Is.EquivalentTo(new[] { "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight" }));
        Assert.That(model.mlp.up_proj, Is.InstanceOf<SvfLinear>(), "the field the forward reads was swapped");
        Assert.That(model.state_dict().Keys.ToList(), Is.EqualTo(keys), "same keys in the same order");
        Assert.That(model.forward(x).allclose(before, rtol: 1e-5, atol: 1e-5), Is.True, "no multiplier: base model");

        layers["mlp.up_proj.weight"].Multiplier = full(new long[] { 8 }, 0.5f).index_put_(tensor(0.1f), tensor(0L));
        Assert.That(model.forward(x).allclose(before, rtol: 1e-4, atol: 1e-4), Is.False, "an adapted layer changes the output");
        Assert.That(SvfInjector.Find(model).Count, Is.EqualTo(3));

        SvfInjector.Remove(model);
        Assert.That(model.mlp.up_proj, Is.InstanceOf<Linear>());
        Assert.That(model.forward(x).allclose(before, rtol: 1e-5, atol: 1e-5), Is.True);
        Assert.That(model.state_dict().Keys.ToList(), Is.EqualTo(keys));
    }

    [Test]
    public void InjectDecomposedAndInjectFromCacheGiveTheSameExactLayers()
    {
        using var scope = NewDisposeScope();
        var selector = Transformer2.Core.Svd.TargetSelector.FromPatterns(@"^mlp\.(?:gate|up|down)_proj\.weight$");
        torch.manual_seed(3);
        var model = new Block();
        var x = randn(2, 3, 8);
        var before = model.forward(x).detach().clone();

        using (var cancelled = new CancellationTokenSource())
        {
            cancelled.Cancel();
            Assert.Throws<OperationCanceledException>(() => SvfInjector.InjectDecomposed(model, selector, cancelled.Token));
            Assert.That(SvfInjector.Find(model), Is.Empty, "cancelled before the first matrix: nothing swapped");
        }
        var decomposed = SvfInjector.InjectDecomposed(model, selector);
        Assert.That(decomposed.Keys, Is.EquivalentTo(new[] { "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight" }));
        Assert.That(model.forward(x).allclose(before, rtol: 1e-5, atol: 1e-5), Is.True, "no multiplier: base model");
        foreach (var layer in decomposed.Values)
            Assert.That((layer.U * layer.S).matmul(layer.V.t()).allclose(layer.weight!, rtol: 1e-4, atol: 1e-5), Is.True, layer.TargetName);

        string path = Path.Combine(Path.GetTempPath(), $"t2-inject-{Guid.NewGuid():N}.safetensors");
        try
        {
            torch.manual_seed(3);
            var twin = new Block();
            using var cache = Transformer2.Core.Svd.DecompositionCache.Build(Transformer2.Core.Svd.WeightSource.FromModule(twin), selector, path, "twin");
            var fromCache = SvfInjector.InjectFromCache(twin, cache);
            Assert.That(fromCache.Keys, Is.EquivalentTo(decomposed.Keys));
            foreach (var (name, layer) in fromCache)
                Assert.That(layer.S.equal(decomposed[name].S).all().item<bool>(), Is.True, $"{name}: the cached factors are the in-memory ones");
            Assert.That(twin.forward(x).allclose(before, rtol: 1e-5, atol: 1e-5), Is.True);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void AFieldDeclaredAsLinearIsReportedNotCorrupted()
    {
        using var scope = NewDisposeScope();
        var model = new Block();
        var ex = Assert.Throws<ArgumentException>(() => SvfInjector.Inject(model, name => name == "head.weight", Factors));
        Assert.That(ex!.Message, Does.Contain("head").And.Contain("Module<Tensor, Tensor>"));
        Assert.That(model.head, Is.InstanceOf<Linear>());
    }

    [Test]
    public void NoMatchIsAnError()
    {
        using var scope = NewDisposeScope();
        Assert.Throws<ArgumentException>(() => SvfInjector.Inject(new Block(), _ => false, Factors));
    }
}
