using TorchSharp;
using TorchSharp.Modules;
using Transformer2.Training.Lora;
using static TorchSharp.torch;
using static Transformer2.Tests.Training.Lora.LoraFixture;

namespace Transformer2.Tests.Training.Lora;

public class LoraLinearTests
{
    static readonly LoraConfig AllTargets = new() { TargetModules = LoraConfig.MlpAndAttentionTargets };

    [Test]
    public void AtInitialisationTheAdaptedModelEqualsTheBase()
    {
        using var model = PlainModel();
        using var before = Logits(model);
        var layers = LoraInjector.Inject(model, AllTargets, seed: 5);
        Assert.That(layers, Has.Count.EqualTo(2 * 5));
        using var after = Logits(model);
        Assert.That(after.equal(before).all().item<bool>(), Is.True, "B = 0 makes the update exactly zero");

        var q = layers["model.layers.0.self_attn.q_proj"];
        double bound = 1 / Math.Sqrt(q.InFeatures);
        Assert.That(q.A.shape, Is.EqualTo(new long[] { 16, 32 }));
        Assert.That(q.B.shape, Is.EqualTo(new long[] { 32, 16 }));
        Assert.That(q.A.abs().max().item<float>(), Is.LessThanOrEqualTo(bound).And.GreaterThan(bound * 0.8), "Kaiming-uniform: U(−1/√in, 1/√in)");
        Assert.That(q.B.abs().sum().item<float>(), Is.EqualTo(0));
        Assert.That(q.Scaling, Is.EqualTo(2.0));
    }

    [Test]
    public void TheSeedFixesTheInitialisation()
    {
        using var m1 = PlainModel();
        using var m2 = PlainModel();
        var a = LoraInjector.Inject(m1, AllTargets, seed: 9);
        var b = LoraInjector.Inject(m2, AllTargets, seed: 9);
        foreach (var key in a.Keys) Assert.That(a[key].A.equal(b[key].A).all().item<bool>(), Is.True, key);
    }

    [Test]
    public void StateDictKeepsTheBaseKeysAndAddsPeftNamedAdapters()
    {
        using var model = PlainModel();
        var baseKeys = model.state_dict().Keys.ToList();
        LoraInjector.Inject(model, new LoraConfig());
        var keys = model.state_dict().Keys.ToList();
        Assert.That(keys.Where(k => !k.Contains("lora_")), Is.EqualTo(baseKeys), "same base keys in the same order");
        Assert.That(keys, Does.Contain("model.layers.1.self_attn.v_proj.lora_B.weight"));
        Assert.That(keys.Count(k => k.Contains("lora_")), Is.EqualTo(2 * 2 * 2));
    }

    [Test]
    public void OnlyTheAdapterReceivesGradients()
    {
        using var model = PlainModel();
        var layers = LoraInjector.Inject(model, AllTargets, seed: 1);
        using (no_grad()) foreach (var l in layers.Values) l.B.normal_(0, 0.1);
        using (var ids = Ids())
        using (var logits = model.Forward(ids))
        using (var loss = logits.pow(2).mean())
            loss.backward();
        foreach (var (name, p) in model.named_parameters())
        {
            bool adapter = name.Contains(".lora_");
            Assert.That(p.requires_grad, Is.EqualTo(adapter), name);
            if (adapter) Assert.That(p.grad!.abs().sum().item<float>(), Is.GreaterThan(0), name);
            else Assert.That(p.grad, Is.Null, $"{name}: a frozen weight must get no gradient buffer");
        }
    }

    [Test]
    public void MergeMatchesTheUnmergedForwardAndUnmergeRestoresTheBitsExactly()
    {
        using var model = PlainModel();
        var layers = LoraInjector.Inject(model, AllTargets, seed: 2);
        using (no_grad()) foreach (var l in layers.Values) l.B.normal_(0, 0.2);
        var originals = layers.ToDictionary(l => l.Key, l => l.Value.weight.detach().clone());
        using var unmerged = Logits(model);
        using var baseLogits = Logits(WithAdaptersOff(model));
        foreach (var l in layers.Values) l.Enabled = true;
        Assert.That((unmerged - baseLogits).abs().max().item<float>(), Is.GreaterThan(1e-2), "the update changes the output");

        foreach (var l in layers.Values) l.Merge();
        Assert.That(layers.Values.All(l => l.IsMerged), Is.True);
        using var merged = Logits(model);
        Assert.That((merged - unmerged).abs().max().item<float>(), Is.LessThan(1e-4));

        foreach (var l in layers.Values) l.Unmerge();
        foreach (var (key, w) in originals) Assert.That(layers[key].weight.equal(w).all().item<bool>(), Is.True, $"{key} restored bit for bit");
        using var again = Logits(model);
        Assert.That(again.equal(unmerged).all().item<bool>(), Is.True);
    }

    [Test]
    public void DropoutActsOnTheLoraPathOnlyAndOnlyInTraining()
    {
        var config = new LoraConfig { Dropout = 0.5, TargetModules = ["q_proj"] };
        using var model = PlainModel();
        using var baseLogits = Logits(model);
        var layers = LoraInjector.Inject(model, config, seed: 4);
        model.train();
        using (var atInit = Logits(model))
            Assert.That(atInit.equal(baseLogits).all().item<bool>(), Is.True, "with B = 0 dropout on the LoRA path leaves the output unchanged");
        using (no_grad()) foreach (var l in layers.Values) l.B.normal_(0, 0.2);
        using (var first = Logits(model))
        using (var second = Logits(model))
            Assert.That(first.equal(second).all().item<bool>(), Is.False, "training mode drops different inputs each call");
        model.eval();
        using (var first = Logits(model))
        using (var second = Logits(model))
            Assert.That(first.equal(second).all().item<bool>(), Is.True, "no dropout in eval mode");
    }

    [Test]
    public void RemovePutsTheBaseLayersBack()
    {
        using var model = PlainModel();
        using var before = Logits(model);
        var layers = LoraInjector.Inject(model, AllTargets, seed: 3);
        using (no_grad()) foreach (var l in layers.Values) l.B.normal_(0, 0.2);
        LoraInjector.Remove(model);
        Assert.That(LoraInjector.Find(model), Is.Empty);
        Assert.That(model.model.layers[0].self_attn.q_proj, Is.InstanceOf<Linear>());
        using var after = Logits(model);
        Assert.That(after.equal(before).all().item<bool>(), Is.True);
    }

    [Test]
    public void MergeAndRemoveKeepsTheAdaptedFunction()
    {
        using var model = PlainModel();
        var layers = LoraInjector.Inject(model, AllTargets, seed: 3);
        using (no_grad()) foreach (var l in layers.Values) l.B.normal_(0, 0.2);
        using var adapted = Logits(model);
        LoraInjector.MergeAndRemove(model);
        Assert.That(LoraInjector.Find(model), Is.Empty);
        using var merged = Logits(model);
        Assert.That((merged - adapted).abs().max().item<float>(), Is.LessThan(1e-4));
    }

    [Test]
    public void InjectionErrorsNameTheProblem()
    {
        using var model = PlainModel();
        var ex = Assert.Throws<ArgumentException>(() => LoraInjector.Inject(model, new LoraConfig { TargetModules = ["query_key_value"] }));
        Assert.That(ex!.Message, Does.Contain("query_key_value").And.Contain("model.layers.0.self_attn.q_proj"));
        LoraInjector.Inject(model, new LoraConfig());
        ex = Assert.Throws<ArgumentException>(() => LoraInjector.Inject(model, new LoraConfig()));
        Assert.That(ex!.Message, Does.Contain("already LoRA layers"));
    }

    [Test]
    public void ConfigValidationNamesTheSetting()
    {
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => new LoraConfig { Rank = 0 }.Validate())!.ParamName, Is.EqualTo("Rank"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => new LoraConfig { Alpha = double.NaN }.Validate())!.ParamName, Is.EqualTo("Alpha"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => new LoraConfig { Dropout = 1 }.Validate())!.ParamName, Is.EqualTo("Dropout"));
        Assert.That(Assert.Throws<ArgumentException>(() => new LoraConfig { TargetModules = [] }.Validate())!.ParamName, Is.EqualTo("TargetModules"));
        Assert.That(Assert.Throws<ArgumentException>(() => new LoraConfig { TargetModules = ["q_proj", "q_proj"] }.Validate())!.Message, Does.Contain("twice"));
        Assert.That(Assert.Throws<ArgumentException>(() => new LoraConfig { TargetModules = ["q proj"] }.Validate())!.Message, Does.Contain("'q proj'"));
        var defaults = new LoraConfig();
        Assert.That((defaults.Rank, defaults.Alpha, defaults.Dropout, defaults.Scaling), Is.EqualTo((16, 32.0, 0.05, 2.0)));
        Assert.That(defaults.Matches("model.layers.3.self_attn.q_proj"), Is.True);
        Assert.That(defaults.Matches("model.layers.3.self_attn.qq_proj"), Is.False);
    }

    [Test]
    public void RepeatedForwardsAndMergesKeepLiveTensorCountFlat()
    {
        using var model = PlainModel();
        var layers = LoraInjector.Inject(model, new LoraConfig { Rank = 2, TargetModules = LoraConfig.MlpAndAttentionTargets }, seed: 1);
        model.train();
        using var ids = Ids();
        void Step()
        {
            // Training mode with autograd on: dropout and the graph's temporaries must all be released.
            using (var logits = model.Forward(ids)) { }
            foreach (var l in layers.Values)
            {
                l.Merge();
                l.Unmerge();
                using var delta = l.DeltaWeight();
            }
        }
        for (int i = 0; i < 3; i++) Step();
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 20; i++) Step();
        Assert.That(DisposeScopeManager.Statistics.ThreadTotalLiveCount, Is.EqualTo(before));
    }

    static Transformer2.Models.Llama.LlamaForCausalLM WithAdaptersOff(Transformer2.Models.Llama.LlamaForCausalLM model)
    {
        foreach (var l in LoraInjector.Find(model).Values) l.Enabled = false;
        return model;
    }
}
