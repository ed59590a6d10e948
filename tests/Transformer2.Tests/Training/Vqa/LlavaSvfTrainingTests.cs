using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using TorchSharp;
using Transformer2.Core.Svd;
using Transformer2.Core.Svf;
using Transformer2.Models.Generation;
using Transformer2.Models.Llava;
using Transformer2.Models.Tokenization;
using Transformer2.Tests.Models.Llava;
using Transformer2.Tests.Training.Reinforce;
using Transformer2.Training.Reinforce;
using Transformer2.Training.Tasks;
using static TorchSharp.torch;

namespace Transformer2.Tests.Training.Vqa;

/// <summary>An SVF expert on LLaVA's language model, trained by REINFORCE on a tiny image task whose answer is the image's colour.</summary>
public class LlavaSvfTrainingTests
{
    const string Alphabet = "cdxy?\n";
    const int ImageToken = 15;

    /// <summary>Characters of <see cref="Alphabet"/> plus <c>&lt;image&gt;</c> as one special token.</summary>
    sealed class ImageCharTokenizer : ITextTokenizer
    {
        public string Name => "chars+image";
        public int VocabSize => 16;
        public int BosId => 1;
        public IReadOnlyList<int> EosIds => [2];
        public int? PadId => 0;
        public IReadOnlyDictionary<string, int> SpecialTokens => new Dictionary<string, int> { ["<pad>"] = 0, ["<s>"] = 1, ["</s>"] = 2, ["<image>"] = ImageToken };

        public int[] Encode(string text, bool addBos = false) => ImagePlaceholderText.Encode(text, addBos, BosId, ImageToken,
            c => Alphabet.IndexOf(c) is var index and >= 0 ? index + 3 : throw new ArgumentException($"'{c}' is not in the alphabet."));

        public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false) =>
            string.Concat(ids.Where(i => (i >= 3 && i < 3 + Alphabet.Length) || !skipSpecialTokens).Select(i => i >= 3 && i < 3 + Alphabet.Length ? Alphabet[i - 3] : '·'));

        public int GetSpecialTokenId(string token) => SpecialTokens.TryGetValue(token, out var id) ? id : throw new KeyNotFoundException(token);
    }

    /// <summary>Counts how often the trainer asked for image-aware embeddings.</summary>
    sealed class CountingInputs(IItemInputs inner) : IItemInputs
    {
        public int Prepared;
        public int Embedded;

        public int[] PreparePrompt(TaskItem item, int[] promptIds)
        {
            Prepared++;
            return inner.PreparePrompt(item, promptIds);
        }

        public PromptEmbedder Embedder(IReadOnlyList<TaskItem> items)
        {
            var embed = inner.Embedder(items);
            return ids =>
            {
                Embedded++;
                return embed(ids);
            };
        }
    }

    [Test]
    [Category("Slow")]
    public async Task SvfExpertOnTheLanguageModelRaisesTheRewardOfAnImageTask()
    {
        string folder = Path.Combine(Path.GetTempPath(), "t2-llava-svf-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            string red = Path.Combine(folder, "red.png"), blue = Path.Combine(folder, "blue.png");
            using (var image = new Image<Rgb24>(16, 16, new Rgb24(230, 20, 20))) image.SaveAsPng(red);
            using (var image = new Image<Rgb24>(16, 16, new Rgb24(20, 20, 230))) image.SaveAsPng(blue);
            var train = Enumerable.Range(0, 16).Select(i => new TaskItem($"t{i}", i % 4 < 2 ? "?" : "??")
            {
                ImagePath = i % 2 == 0 ? red : blue,
                References = Enumerable.Repeat(i % 2 == 0 ? "c" : "d", 10).ToList(),
            }).ToList();
            var task = new VqaTask("colour", new TaskSplits(train, [], [], []), instruction: "");

            var config = TinyLlava.Config(next: false) with
            {
                TextConfig = TinyLlava.Config(next: false).TextConfig with { VocabSize = 16, EosTokenIds = [2] },
                ImageTokenIndex = ImageToken,
            };
            using var llava = TinyLlava.Create(config);
            using (no_grad())
            {
                // Larger language-model weights than 0.02 so the untrained model has an opinion to change.
                manual_seed(3);
                foreach (var (name, p) in llava.named_parameters())
                    if (name.StartsWith("model.language_model.", StringComparison.Ordinal) && p.ndim == 2) p.normal_(0, 0.3);
            }
            var injected = SvfInjector.Inject(llava, TargetSelector.Mlp.IsTarget, (_, w) =>
            {
                var (u, s, vh) = linalg.svd(w.detach(), fullMatrices: false);
                return (u, s, vh.t());
            });
            Assert.That(injected.Keys, Has.All.StartWith("model.language_model.layers."), "SVF adapts the language model only");
            Assert.That(injected, Has.Count.EqualTo(6));

            var processor = new LlavaImageProcessor(LlavaImageProcessorConfig.Llava15 with { ShortestEdge = 8, CropSize = 8 });
            var inputs = new CountingInputs(new LlavaItemInputs(llava, processor));
            var options = new ReinforceOptions
            {
                BatchSize = 8,
                MicroBatchSize = 4,
                Iterations = 40,
                LearningRate = 0.3,
                MaxGradNorm = null,
                Temperature = 1.0,
                MaxNewTokens = 1,
                NormalizeRewards = true,
                ValidationInterval = 0,
                Seed = 11,
            };
            using var trainer = new ReinforceTrainer(llava.LanguageModel, new ImageCharTokenizer(), new PlainTemplate(), task, options) { ItemInputs = inputs };
            var result = await trainer.TrainAsync();
            var rewards = result.History.Where(h => h.Iteration > 0).Select(h => h.RewardMean).ToList();
            double first = rewards.Take(5).Average(), last = rewards.TakeLast(5).Average();
            TestContext.Out.WriteLine($"mean reward first 5: {first:F3}, last 5: {last:F3}");
            Assert.That(last, Is.GreaterThan(first + 0.3), "REINFORCE should make the right colour word more likely");
            Assert.That(inputs.Prepared, Is.GreaterThanOrEqualTo(40 * 8));
            Assert.That(inputs.Embedded, Is.GreaterThanOrEqualTo(40 * 4), "rollouts and updates both see the images");
            Assert.That(llava.model.vision_tower.parameters().All(p => p.grad is null), "the vision tower stays frozen");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
