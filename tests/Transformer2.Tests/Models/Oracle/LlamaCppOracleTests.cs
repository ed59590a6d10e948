using Transformer2.Models.Gguf;
using Transformer2.Models.Llama;
using TorchSharp;
using static TorchSharp.torch;

namespace Transformer2.Tests.Models.Oracle;

/// <summary>
/// Our LLaMA/Mistral forward against llama.cpp on the same random weights: the HF folder we write is converted to GGUF
/// (independently of our loader) and both engines' logits are compared at every position.
/// </summary>
public class LlamaCppOracleTests
{
    const float Tolerance = 1e-4f;
    const int SequenceLength = 12;

    string _folder = "";

    [SetUp]
    public void CreateFolder() => _folder = TinyModels.TempFolder();

    [TearDown]
    public void DeleteFolder()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    static LlamaConfig Gqa() => TinyModels.Llama() with { RopeScaling = null };

    // Original context 64 puts one frequency of head_dim 16 inside the smooth band (wavelengths 16..64), one above and one below.
    static LlamaConfig Llama3Scaling() => TinyModels.Llama() with { RopeScaling = RopeScaling.Llama3(8, 1, 4, 64), RopeTheta = 10000 };

    static IEnumerable<TestCaseData> Cases()
    {
        yield return new TestCaseData(Gqa(), ScalarType.Float32).SetName("GroupedQueryAttention");
        yield return new TestCaseData(Llama3Scaling(), ScalarType.Float32).SetName("Llama3RopeScaling");
        yield return new TestCaseData(TinyModels.Llama(tied: true) with { RopeScaling = null }, ScalarType.Float32).SetName("TiedEmbeddings");
        yield return new TestCaseData(TinyModels.Llama(scaling: RopeScaling.Linear(2)), ScalarType.Float32).SetName("LinearRopeScaling");
        yield return new TestCaseData(Llama3Scaling(), ScalarType.BFloat16).SetName("Bf16StoredWeights");
        // llama.cpp's llama architecture has no sliding window, so the window is longer than the sequence.
        yield return new TestCaseData(TinyModels.Mistral(slidingWindow: 64), ScalarType.Float32).SetName("MistralConfig");
    }

    [TestCaseSource(nameof(Cases))]
    public void LogitsMatchLlamaCpp(LlamaConfig config, ScalarType storedDtype)
    {
        using var ours = WriteCheckpoints(config, storedDtype, out string gguf);
        int[] tokens = RandomTokens(config);
        using var llamaCpp = LlamaCpp.Load(gguf, SequenceLength);
        var expected = llamaCpp.Decode(tokens);
        using var ids = tensor(tokens.Select(t => (long)t).ToArray()).view(1, -1);
        using var logits = ours.Forward(ids).squeeze(0);
        AssertClose(logits, expected);
    }

    [TestCaseSource(nameof(Cases))]
    public void CachedDecodingMatchesLlamaCpp(LlamaConfig config, ScalarType storedDtype)
    {
        using var ours = WriteCheckpoints(config, storedDtype, out string gguf);
        int[] tokens = RandomTokens(config);
        using var llamaCpp = LlamaCpp.Load(gguf, SequenceLength);
        var expected = llamaCpp.Decode(tokens);
        // Ours: a 4-token prefill, then one token at a time through the KV cache.
        using var cache = ours.CreateCache(1, SequenceLength);
        using var ids = tensor(tokens.Select(t => (long)t).ToArray()).view(1, -1);
        var steps = new List<Tensor> { ours.Forward(ids.narrow(1, 0, 4), cache: cache) };
        for (int t = 4; t < SequenceLength; t++) steps.Add(ours.Forward(ids.narrow(1, t, 1), cache: cache));
        using var logits = cat(steps, 1).squeeze(0);
        foreach (var step in steps) step.Dispose();
        AssertClose(logits, expected);
    }

    [Test]
    public void Int8WeightsAgreeWithLlamaCppQ8_0()
    {
        // The same F32 weights quantized by both engines. Our quantizer reproduces Q8_0's values and scales bit for bit
        // (Q8LinearTests) and both round every product's input to int8 per block of 32; llama.cpp also keeps the embedding
        // table in Q8_0 and sums in another order, so the logits still differ a little.
        var config = Gqa();
        using var ours = WriteCheckpoints(config, ScalarType.Float32, out string gguf);
        string q8 = Path.Combine(_folder, "model-q8_0.gguf");
        LlamaCpp.QuantizeQ8(gguf, q8);
        int[] tokens = RandomTokens(config);
        using var ids = tensor(tokens.Select(t => (long)t).ToArray()).view(1, -1);
        using var f32 = ours.Forward(ids).squeeze(0);
        ours.QuantizeWeights();
        using var int8 = ours.Forward(ids).squeeze(0);
        float[,] theirs;
        using (var llamaCpp = LlamaCpp.Load(q8, SequenceLength)) theirs = llamaCpp.Decode(tokens);
        using var theirsQ8 = ToTensor(theirs);

        float scale = f32.abs().max().item<float>();
        float oursVsF32 = (int8 - f32).abs().max().item<float>();
        float theirsVsF32 = (theirsQ8 - f32).abs().max().item<float>();
        float oursVsTheirs = (int8 - theirsQ8).abs().max().item<float>();
        TestContext.Out.WriteLine($"logit scale {scale:F3}; max |Δ|: ours int8 vs F32 {oursVsF32:E2}, llama.cpp Q8_0 vs F32 {theirsVsF32:E2}, ours int8 vs llama.cpp Q8_0 {oursVsTheirs:E2}");
        Assert.That(oursVsF32, Is.GreaterThan(0f), "int8 really rounds");
        Assert.That(oursVsF32, Is.LessThan(0.05f * scale));
        Assert.That(oursVsTheirs, Is.LessThan(0.05f * scale));
        Assert.That(int8.argmax(-1).eq(theirsQ8.argmax(-1)).to_type(ScalarType.Float32).mean().item<float>(), Is.GreaterThanOrEqualTo(0.9f), "the same greedy tokens almost everywhere");
    }

    [Test]
    public void LlamaCppDisagreesWithoutTheRotaryPermutation()
    {
        // The comparison can fail: the same weights with q/k left in rotate-half order give different logits.
        var config = Gqa();
        using var ours = WriteCheckpoints(config, ScalarType.Float32, out _);
        string gguf = Path.Combine(_folder, "unpermuted.gguf");
        var sources = ours.CheckpointParameters().ToDictionary(p => p.Key, p => (p.Value.shape, (Func<Tensor>)(() => p.Value.detach())));
        LlamaGguf.Write(ours.Config, sources, gguf, GgufTensorType.F32, null, "unpermuted", null, default, permuteRotary: false);
        int[] tokens = RandomTokens(config);
        using var llamaCpp = LlamaCpp.Load(gguf, SequenceLength);
        var expected = llamaCpp.Decode(tokens);
        using var ids = tensor(tokens.Select(t => (long)t).ToArray()).view(1, -1);
        using var logits = ours.Forward(ids).squeeze(0);
        using var theirs = ToTensor(expected);
        Assert.That((logits.narrow(0, 1, SequenceLength - 1) - theirs.narrow(0, 1, SequenceLength - 1)).abs().max().item<float>(), Is.GreaterThan(1e-2f));
    }

    [Test]
    public void ConverterPermutationMovesHalvesToInterleavedPairs()
    {
        // One head of dim 4: rows (r0, r1 | r2, r3) rotate as pairs (0,2), (1,3) in HF and must become adjacent: r0, r2, r1, r3.
        using var weight = arange(4 * 3, ScalarType.Float32).view(4, 3);
        using var permuted = LlamaGgufLayout.PermuteRotaryRows(weight, heads: 1);
        using var rowOrder = permuted.select(1, 0).div(3).to_type(ScalarType.Int64);
        Assert.That(rowOrder.data<long>().ToArray(), Is.EqualTo(new long[] { 0, 2, 1, 3 }));
    }

    /// <summary>
    /// Writes an HF folder (weights stored as <paramref name="storedDtype"/>), converts it to GGUF, and loads it back with
    /// our loader in F32, so both engines see the same values.
    /// </summary>
    LlamaForCausalLM WriteCheckpoints(LlamaConfig config, ScalarType storedDtype, out string gguf)
    {
        using (var original = TinyModels.Create(config))
        {
            RandomizeWithUnitScale(original);
            original.SavePretrained(_folder, dtype: storedDtype);
        }
        gguf = Path.Combine(_folder, "model.gguf");
        LlamaGguf.ConvertFolder(_folder, gguf);
        var loaded = LlamaForCausalLM.FromPretrained(_folder, ScalarType.Float32);
        loaded.eval();
        return loaded;
    }

    /// <summary>
    /// Rescales the random weights so logits are O(1) (HF's 0.02 init gives logits so small that 1e-4 would prove little)
    /// and the norm gains differ from 1 (so a misplaced norm is caught).
    /// </summary>
    internal static void RandomizeWithUnitScale(LlamaForCausalLM model)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(99);
        using var _ = no_grad();
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (name.EndsWith("norm.weight", StringComparison.Ordinal))
                parameter.copy_(rand(parameter.shape, generator: generator) + 0.5);
            else if (name == "model.embed_tokens.weight")
                parameter.copy_(randn(parameter.shape, generator: generator));
            else if (parameter.dim() == 2 && !(model.Config.TieWordEmbeddings && name == "lm_head.weight"))
                parameter.copy_(randn(parameter.shape, generator: generator) / Math.Sqrt(parameter.shape[1]));
        }
    }

    static int[] RandomTokens(LlamaConfig config)
    {
        using var ids = TinyModels.RandomIds(config, 1, SequenceLength, seed: 11);
        return ids.data<long>().Select(t => (int)t).ToArray();
    }

    internal static Tensor ToTensor(float[,] values)
    {
        var flat = new float[values.Length];
        Buffer.BlockCopy(values, 0, flat, 0, flat.Length * sizeof(float));
        return tensor(flat).view(values.GetLength(0), values.GetLength(1));
    }

    static void AssertClose(Tensor ours, float[,] llamaCpp)
    {
        using var theirs = ToTensor(llamaCpp);
        Assert.That(ours.shape, Is.EqualTo(theirs.shape));
        float difference = (ours - theirs).abs().max().item<float>();
        float scale = theirs.abs().max().item<float>();
        using var ourArgmax = ours.argmax(-1);
        using var theirArgmax = theirs.argmax(-1);
        Assert.Multiple(() =>
        {
            Assert.That(scale, Is.GreaterThan(0.5f), "logits should be O(1) for the tolerance to mean something");
            Assert.That(difference, Is.LessThanOrEqualTo(Tolerance), $"max |ours - llama.cpp| over {ours.shape[0]} positions");
            Assert.That(ourArgmax.data<long>().ToArray(), Is.EqualTo(theirArgmax.data<long>().ToArray()), "argmax per position");
        });
        TestContext.Out.WriteLine($"max abs difference {difference:E2} (logit scale {scale:F2})");
    }
}
