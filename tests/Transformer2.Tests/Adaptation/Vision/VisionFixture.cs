using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Transformer2.Core.Experts;
using Transformer2.Core.Svd;
using Transformer2.Core.Svf;
using Transformer2.Models.Chat;
using Transformer2.Models.Generation;
using Transformer2.Models.Llava;
using Transformer2.Models.Tokenization;
using Transformer2.Tests.Models.Llava;
using static TorchSharp.torch;

namespace Transformer2.Tests.Adaptation.Vision;

/// <summary>
/// A tiny random LLaVA-1.5 with SVF layers on its language model's MLPs, a character tokenizer that maps <c>&lt;image&gt;</c>
/// to the image token and decodes every token as <c>\boxed{even}</c> or <c>\boxed{odd}</c> by its parity (so the first
/// generated token is a dispatch label), and generation done by hand — straight on the model, without the pipeline —
/// to compare the pipeline with.
/// </summary>
internal static class VisionFixture
{
    public const int ImageToken = TinyLlava.ImageToken;   // 100; the vocabulary is 101

    public static VisionTokenizer Tokenizer { get; } = new(boxed: true);

    /// <summary>Decodes tokens as plain words (even, odd), which the VQA metric compares as they are.</summary>
    public static VisionTokenizer WordTokenizer { get; } = new(boxed: false);

    public static IChatTemplate Template { get; } = new RoleTemplate();

    public static LlavaImageProcessor Processor { get; } = new(LlavaImageProcessorConfig.Llava15 with { ShortestEdge = 8, CropSize = 8 });

    /// <summary>The model, with SVF layers injected into it (target names <c>model.language_model.layers.N.mlp.*</c>).</summary>
    public static LlavaForConditionalGeneration Model(long seed = 99, double std = 0.3)
    {
        var config = TinyLlava.Config(next: false);
        config = config with { TextConfig = config.TextConfig with { MaxPositionEmbeddings = 2048, EosTokenIds = [2] } };
        var llava = TinyLlava.Create(config, seed);
        using (no_grad())
        {
            // Larger language-model weights than 0.02, so the model has clear preferences and the image changes them.
            manual_seed(seed + 1);
            foreach (var (name, p) in llava.named_parameters())
                if (name.StartsWith("model.language_model.", StringComparison.Ordinal) && p.ndim == 2) p.normal_(0, std);
        }
        InjectFrozenMlp(llava);
        return llava;
    }

    /// <summary>Freezes every weight and puts SVF layers (exact SVD) on the language model's MLP matrices.</summary>
    public static void InjectFrozenMlp(LlavaForConditionalGeneration llava)
    {
        foreach (var p in llava.parameters()) p.requires_grad = false;
        SvfInjector.Inject(llava, TargetSelector.Mlp.IsTarget, (_, w) =>
        {
            var (u, s, vh) = linalg.svd(w.detach(), fullMatrices: false);
            return (u, s, vh.t());
        });
    }

    /// <summary>A random expert (raw multipliers uniform in [0, 2]) on every SVF layer of <paramref name="llava"/>.</summary>
    public static Expert Expert(LlavaForConditionalGeneration llava, string name, int seed)
    {
        var layers = SvfInjector.Find(llava);
        var random = new Random(seed);
        var vectors = layers.Select(l => new KeyValuePair<string, Tensor>(l.Key,
            tensor(Enumerable.Range(0, (int)l.Value.Rank).Select(_ => (float)(random.NextDouble() * 2)).ToArray()))).ToList();
        var metadata = new ExpertMetadata
        {
            Name = name,
            Targets = vectors.Select(v => v.Key).ToList(),
            Parameterization = SvfParameterization.Default with { Kind = SvfMultiplierKind.Raw },
        };
        return new Expert(metadata, vectors);
    }

    /// <summary>A PNG of random pixels.</summary>
    public static byte[] Png(int seed, int width = 12, int height = 12)
    {
        var random = new Random(seed);
        using var image = new Image<Rgb24>(width, height);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                image[x, y] = new Rgb24((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256));
        using var stream = new MemoryStream();
        image.SaveAsPng(stream);
        return stream.ToArray();
    }

    /// <summary>The preprocessed image of <paramref name="png"/>, as the model takes it.</summary>
    public static LlavaImage Pixels(byte[] png) => Processor.Process(RgbImage.Decode(png));

    /// <summary>
    /// Greedy generation straight on the model: <paramref name="rendered"/> tokenised with BOS, each image token expanded,
    /// the image features written in by <see cref="LlavaForConditionalGeneration.ImageEmbedder"/>, and
    /// <paramref name="multipliers"/> (raw SVF multipliers by target; null = base weights) in effect.
    /// </summary>
    public static (int[] Tokens, int PromptLength, float[] LogProbs) Generate(LlavaForConditionalGeneration llava, string rendered, IReadOnlyList<LlavaImage> images,
        IReadOnlyDictionary<string, Tensor>? multipliers, int maxNewTokens)
    {
        int[] ids = [Tokenizer.BosId, .. Tokenizer.Encode(rendered)];
        if (images.Count > 0) ids = llava.ExpandImageTokens(ids, images);
        var options = new GenerationOptions { MaxNewTokens = maxNewTokens, StopTokenIds = [2] };
        using var noGrad = no_grad();
        using var context = SvfContext.Use(multipliers ?? new Dictionary<string, Tensor>());
        var generator = new TextGenerator(llava.LanguageModel);
        var result = images.Count > 0 ? generator.GenerateBatch([ids], options, llava.ImageEmbedder(images)) : generator.GenerateBatch([ids], options);
        return (result[0].TokenIds.ToArray(), ids.Length, result[0].LogProbs.ToArray());
    }

    /// <summary>The raw multipliers of an expert (the identity for the raw parameterisation).</summary>
    public static Dictionary<string, Tensor> Multipliers(Expert expert) => expert.Vectors.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);

    /// <summary>Σ α_k·z_k over the experts' raw multipliers, target by target.</summary>
    public static Dictionary<string, Tensor> Mix(IReadOnlyList<Expert> experts, IReadOnlyList<double> alpha) =>
        experts[0].Vectors.Keys.ToDictionary(t => t, t =>
        {
            var sum = zeros_like(experts[0].Vectors[t]);
            for (int k = 0; k < experts.Count; k++) sum = sum + experts[k].Vectors[t] * alpha[k];
            return sum;
        }, StringComparer.Ordinal);

    public static string Decode(IEnumerable<int> ids, ITextTokenizer? tokenizer = null) => (tokenizer ?? Tokenizer).Decode(ids, skipSpecialTokens: true);

    /// <summary>Characters as ids 3..99, <c>&lt;image&gt;</c> as 100; tokens decode as a parity label (boxed or a plain word), space-separated.</summary>
    internal sealed class VisionTokenizer(bool boxed) : ITextTokenizer
    {
        public string Name => "vision-chars";
        public int VocabSize => 101;
        public int BosId => 1;
        public IReadOnlyList<int> EosIds => [2];
        public int? PadId => 0;
        public IReadOnlyDictionary<string, int> SpecialTokens => new Dictionary<string, int> { ["<pad>"] = 0, ["<s>"] = 1, ["</s>"] = 2, ["<image>"] = ImageToken };

        public int[] Encode(string text, bool addBos = false) => ImagePlaceholderText.Encode(text, addBos, BosId, ImageToken, c => 3 + c % 97);

        public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false) =>
            string.Join(" ", ids.Where(i => !skipSpecialTokens || (i >= 3 && i != ImageToken)).Select(Word));

        string Word(int id)
        {
            string word = id % 2 == 0 ? "even" : "odd";
            return boxed ? $"\\boxed{{{word}}}" : word;
        }

        public int GetSpecialTokenId(string token) => SpecialTokens.TryGetValue(token, out var id) ? id : throw new KeyNotFoundException(token);
    }

    /// <summary>"role: content" lines, then "assistant: ".</summary>
    sealed class RoleTemplate : IChatTemplate
    {
        public string Name => "roles";
        public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true) =>
            string.Concat(messages.Select(m => m.Role + ": " + m.Content + "\n")) + (addGenerationPrompt ? "assistant: " : "");
    }
}
