using TorchSharp;
using Transformer2.Core.Svf;
using static TorchSharp.torch;
using static Transformer2.Tests.Core.Svf.SvfTestData;

namespace Transformer2.Tests.Core.Svf;

public class SvfMixtureTests
{
    static Dictionary<string, Tensor> Expert(int seed, params (string Name, long Length)[] targets) =>
        targets.ToDictionary(t => t.Name, t => randn(new[] { t.Length }, generator: new Generator((ulong)(seed * 100 + t.Length))));

    [Test]
    public void PaperSemanticsMixesSigmoidMultipliers()
    {
        using var scope = NewDisposeScope();
        var a = Expert(1, ("w", 6));
        var b = Expert(2, ("w", 6));
        var mixed = SvfMixer.Mix(new[] { a, b }, MixtureWeights.Global(new[] { 0.25, 0.75 }), SvfParameterization.Default);
        var expected = a["w"].sigmoid() * 0.25 + b["w"].sigmoid() * 0.75;
        Assert.That(MaxAbs(mixed["w"], expected), Is.LessThan(1e-7));
    }

    [Test]
    public void AuthorsSemanticsMixesRawVectors()
    {
        using var scope = NewDisposeScope();
        var a = Expert(1, ("w", 6));
        var b = Expert(2, ("w", 6));
        var mixed = SvfMixer.Mix(new[] { a, b }, MixtureWeights.Global(new[] { 0.25, 0.75 }), SvfParameterization.Default, MixtureSemantics.AuthorsRawVectors);
        Assert.That(MaxAbs(mixed["w"], a["w"] * 0.25 + b["w"] * 0.75), Is.LessThan(1e-7));
    }

    [Test]
    public void ParametersSemanticsMapsTheMixedVectorsThroughTheParameterization()
    {
        using var scope = NewDisposeScope();
        var a = Expert(1, ("w", 6));
        var b = Expert(2, ("w", 6));
        var parameterization = new SvfParameterization { MaxMultiplier = 2 };
        var mixed = SvfMixer.Mix(new[] { a, b }, MixtureWeights.Global(new[] { 1.0, 1.0 }), parameterization, MixtureSemantics.Parameters);
        Assert.That(MaxAbs(mixed["w"], (a["w"] + b["w"]).sigmoid() * 2), Is.LessThan(1e-6), "both experts' changes to p add up");
        var alone = SvfMixer.Mix(new[] { a, b }, MixtureWeights.Global(new[] { 1.0, 0.0 }), parameterization, MixtureSemantics.Parameters);
        Assert.That(MaxAbs(alone["w"], parameterization.Multiplier(a["w"])), Is.LessThan(1e-6), "α = (1, 0) is expert 1 as a single expert applies it");
    }

    [Test]
    public void ParametersSemanticsHasNoBlendingBasis()
    {
        using var scope = NewDisposeScope();
        var experts = new[] { Expert(1, ("w", 6)), Expert(2, ("w", 6)) };
        var ex = Assert.Throws<ArgumentException>(() => SvfMixer.MixingBasis(experts, SvfParameterization.Default, MixtureSemantics.Parameters));
        Assert.That(ex!.Message, Does.Contain("Parameters").And.Contain("not linear"));
        Assert.That(SvfMixer.IsLinearInWeights(MixtureSemantics.Parameters), Is.False);
        Assert.That(SvfMixer.IsLinearInWeights(MixtureSemantics.Multipliers) && SvfMixer.IsLinearInWeights(MixtureSemantics.AuthorsRawVectors), Is.True);
    }

    [Test]
    public void NormalisationAndPerMatrixWeights()
    {
        var global = MixtureWeights.Global(new[] { 1.0, 3.0 }, normalize: true);
        Assert.That(global.For("anything"), Is.EqualTo(new[] { 0.25, 0.75 }));
        var perMatrix = MixtureWeights.PerMatrix(new double[,] { { 1, 0.2 }, { 1, 0.6 } }, new[] { "x", "y" }, normalize: true);
        Assert.That(perMatrix.For("x"), Is.EqualTo(new[] { 0.5, 0.5 }));
        Assert.That(perMatrix.For("y")[0], Is.EqualTo(0.25).Within(1e-12));
        Assert.Throws<KeyNotFoundException>(() => perMatrix.For("z"));
        Assert.Throws<ArgumentException>(() => MixtureWeights.Global(new[] { 1.0, -1.0 }, normalize: true));
        Assert.Throws<ArgumentException>(() => MixtureWeights.Global(new[] { double.NaN }));
        Assert.That(MixtureWeights.Uniform(4).For("w"), Is.All.EqualTo(0.25));
    }

    [Test]
    public void ExpertsWithDifferentTargetsAreRejectedByName()
    {
        using var scope = NewDisposeScope();
        var a = Expert(1, ("w", 6), ("v", 4));
        var b = Expert(2, ("w", 6));
        var ex = Assert.Throws<ArgumentException>(() => SvfMixer.Mix(new[] { a, b }, MixtureWeights.Uniform(2), SvfParameterization.Default));
        Assert.That(ex!.Message, Does.Contain("'v'"));
        var c = Expert(3, ("w", 5), ("v", 4));
        ex = Assert.Throws<ArgumentException>(() => SvfMixer.Mix(new[] { a, c }, MixtureWeights.Uniform(2), SvfParameterization.Default));
        Assert.That(ex!.Message, Does.Contain("'w'").And.Contain("5 entries"));
    }

    [TestCase(MixtureSemantics.Multipliers, false)]
    [TestCase(MixtureSemantics.AuthorsRawVectors, false)]
    [TestCase(MixtureSemantics.Multipliers, true)]
    public void BlendingCachedCompositionsEqualsDirectComposition(MixtureSemantics semantics, bool perMatrix)
    {
        using var scope = NewDisposeScope();
        var shapes = new (string Name, long Out, long In)[] { ("a.weight", 24, 16), ("b.weight", 16, 24) };
        var layers = shapes.ToDictionary(s => s.Name, s =>
        {
            var (w, u, sv, v) = Matrix(s.Out, s.In, (int)(s.Out * 7 + s.In));
            return new SvfLinear(s.Name, w, null, u, sv, v);
        });
        var experts = Enumerable.Range(0, 3).Select(k => (IReadOnlyDictionary<string, Tensor>)Expert(k, ("a.weight", 16), ("b.weight", 16))).ToList();
        var weights = perMatrix
            ? MixtureWeights.PerMatrix(new double[,] { { 0.2, 0.7 }, { 0.5, 0.1 }, { 0.3, 0.4 } }, new[] { "a.weight", "b.weight" })
            : MixtureWeights.Global(new[] { 0.2, 0.5, 0.3 });
        var parameterization = SvfParameterization.Default;

        var basis = SvfMixer.MixingBasis(experts, parameterization, semantics);
        using var cache = new SvfBlendCache(layers, basis.Cast<IReadOnlyDictionary<string, Tensor>>().ToList());
        var mixed = SvfMixer.Mix(experts, weights, parameterization, semantics);
        foreach (var (name, layer) in layers)
        {
            var direct = SvfComposer.Compose(layer.U, layer.S, layer.V, mixed[name]);
            var blended = cache.Blend(name, weights.For(name));
            Assert.That(MaxAbs(blended, direct), Is.LessThan(1e-5), name);
        }
        Assert.That(cache.CachedBytes, Is.EqualTo(3 * (24 * 16 + 16 * 24) * 4));

        cache.MergeInto(layers, weights);
        var x = randn(2, 16);
        var expected = nn.functional.linear(x, SvfComposer.Compose(layers["a.weight"].U, layers["a.weight"].S, layers["a.weight"].V, mixed["a.weight"]));
        Assert.That(MaxAbs(layers["a.weight"].forward(x), expected), Is.LessThan(1e-5));
    }

    [TestCase(ScalarType.Float32)]
    [TestCase(ScalarType.BFloat16)]
    public void BlendingIntoTheWeightEqualsBlendAndRestoresExactly(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var (w, u, sv, v) = Matrix(24, 16, 11);
        var layer = new SvfLinear("a.weight", w, null, u, sv, v);
        layer.to(dtype);
        var layers = new Dictionary<string, SvfLinear> { ["a.weight"] = layer };
        var experts = Enumerable.Range(0, 3).Select(k => (IReadOnlyDictionary<string, Tensor>)Expert(k, ("a.weight", 16))).ToList();
        var basis = SvfMixer.MixingBasis(experts, SvfParameterization.Default, MixtureSemantics.Multipliers);
        using var cache = new SvfBlendCache(layers, basis.Cast<IReadOnlyDictionary<string, Tensor>>().ToList());
        double[] alphas = [0.2, 0.5, 0.3];
        var baseWeight = layer.weight!.detach().clone();

        var fresh = cache.Blend("a.weight", alphas);
        var destination = full(new long[] { 24, 16 }, float.NaN, dtype);   // β = 0 must ignore what was there
        cache.BlendInto("a.weight", alphas, destination);
        Assert.That(destination.dtype, Is.EqualTo(dtype));
        Assert.That(MaxAbs(destination.to_type(ScalarType.Float32), fresh.to_type(ScalarType.Float32)), Is.EqualTo(0.0));

        cache.MergeInto(layers, MixtureWeights.Global(alphas));
        Assert.That(layer.IsMerged, Is.True);
        Assert.That(MaxAbs(layer.weight.detach().to_type(ScalarType.Float32), fresh.to_type(ScalarType.Float32)), Is.EqualTo(0.0));
        layer.Unmerge();
        Assert.That(layer.weight.detach().to_type(ScalarType.Float32).equal(baseWeight.to_type(ScalarType.Float32)).all().item<bool>(), Is.True, "restored bit for bit");
    }

    [Test]
    public void BlendingIntoAWrongDestinationNamesTheTargetAndTouchesNothing()
    {
        using var scope = NewDisposeScope();
        var (w, u, sv, v) = Matrix(24, 16, 5);
        var layer = new SvfLinear("a.weight", w, null, u, sv, v);
        var layers = new Dictionary<string, SvfLinear> { ["a.weight"] = layer };
        var experts = Enumerable.Range(0, 2).Select(k => (IReadOnlyDictionary<string, Tensor>)Expert(k, ("a.weight", 16))).ToList();
        var basis = SvfMixer.MixingBasis(experts, SvfParameterization.Default, MixtureSemantics.Multipliers);
        using var cache = new SvfBlendCache(layers, basis.Cast<IReadOnlyDictionary<string, Tensor>>().ToList());
        double[] alphas = [0.5, 0.5];
        foreach (var bad in new[] { zeros(16, 24), zeros(new long[] { 24, 16 }, ScalarType.Float64), zeros(16, 24).t() })
        {
            var ex = Assert.Throws<ArgumentException>(() => cache.BlendInto("a.weight", alphas, bad));
            Assert.That(ex!.Message, Does.Contain("'a.weight'"));
        }
        var before = layer.weight!.detach().clone();
        Assert.Throws<ArgumentException>(() => cache.MergeInto(layers, MixtureWeights.Global(new[] { 0.2, 0.3, 0.5 })));
        Assert.That(layer.IsMerged, Is.False);
        Assert.That(layer.weight.detach().equal(before).all().item<bool>(), Is.True);
    }
}
