using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Transformer2.Adaptation.DependencyInjection;
using Transformer2.Adaptation.Dispatch;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Demo.Tasks;
using Transformer2.Models.Chat;
using Transformer2.Models.Generation;
using Transformer2.Models.Llava;
using Transformer2.Models.Tokenization;
using Transformer2.Tests.Models.Llava;
using static TorchSharp.torch;
using static Transformer2.Tests.Adaptation.Vision.VisionFixture;
using MeaiChatMessage = Microsoft.Extensions.AI.ChatMessage;

namespace Transformer2.Tests.Adaptation.Vision;

/// <summary>A LLaVA model folder through DI, LLaVA-NeXT's tiled images, and merged experts with images.</summary>
public class LlavaFolderAndVariantTests
{
    [Test]
    public async Task ALlavaFolderThroughDependencyInjectionAnswersAboutAnImage()
    {
        string folder = Path.Combine(Path.GetTempPath(), "t2-llava-folder-" + Guid.NewGuid().ToString("N"));
        try
        {
            // A Llama-3-style byte-level tokenizer (262 tokens) plus "<image>" as token 262, the model's image token.
            ByteLevelBpeBuilder.Build(["what is in the picture?"], 0, folder);
            string tokenizerFile = Path.Combine(folder, "tokenizer.json");
            var tokenizerJson = JsonNode.Parse(File.ReadAllText(tokenizerFile))!;
            tokenizerJson["added_tokens"]!.AsArray().Add(new JsonObject
            {
                ["id"] = 262, ["content"] = "<image>", ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
            });
            File.WriteAllText(tokenizerFile, tokenizerJson.ToJsonString());
            var config = TinyLlava.Config(next: false);
            config = config with { ImageTokenIndex = 262, TextConfig = config.TextConfig with { VocabSize = 263, MaxPositionEmbeddings = 1024, BosTokenId = 256, EosTokenIds = [257] } };
            using (var saved = TinyLlava.Create(config)) saved.SavePretrained(folder);
            File.WriteAllText(Path.Combine(folder, LlavaImageProcessor.ConfigFile),
                """{"image_processor_type": "CLIPImageProcessor", "size": {"shortest_edge": 8}, "crop_size": {"height": 8, "width": 8}}""");

            var services = new ServiceCollection();
            services.AddTransformerSquared(o =>
            {
                o.ModelFolder = folder;
                o.MaxNewTokens = 4;
            });
            await using var provider = services.BuildServiceProvider();
            var pipeline = provider.GetRequiredService<TransformerSquared>();
            Assert.That(pipeline.Backbone.AcceptsImages, Is.True);
            Assert.That(pipeline.Backbone.Template, Is.SameAs(Llama3ChatTemplate.Instruct), "a Llama-3 tokenizer gives the Llama-3 template");
            Assert.That(pipeline.Backbone.Layers.Keys, Has.All.StartWith("model.language_model.layers."));

            byte[] png = Png(7);
            var response = await provider.GetRequiredService<IChatClient>().GetResponseAsync(
                [new MeaiChatMessage(ChatRole.User, [new TextContent("what is in the picture?"), new DataContent(png, "image/png")])]);

            // By hand on the same folder: Llama-3 prompt with the image in front, expanded, greedy.
            using var llava = LlavaForConditionalGeneration.FromPretrained(folder);
            var tokenizer = TokenizerLoader.FromPretrained(folder);
            var processor = LlavaImageProcessor.FromPretrained(folder);
            var image = processor.Process(RgbImage.Decode(png));
            var ids = llava.ExpandImageTokens(tokenizer.EncodePrompt(Llama3ChatTemplate.Instruct.Render([T2("<image>\nwhat is in the picture?")])), [image]);
            GenerationResult byHand;
            using (no_grad())
                byHand = new TextGenerator(llava.LanguageModel).GenerateBatch([ids], new GenerationOptions { MaxNewTokens = 4, StopTokenIds = tokenizer.EosIds.ToList() }, llava.ImageEmbedder([image]))[0];
            Assert.That(response.Text, Is.EqualTo(tokenizer.Decode(byHand.TokenIds, skipSpecialTokens: true)));
            Assert.That(response.Usage!.InputTokenCount, Is.EqualTo(ids.Length));
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }

    static Transformer2.Models.Chat.ChatMessage T2(string text) => Transformer2.Models.Chat.ChatMessage.User(text);

    [Test]
    public async Task LlavaNextTilesReachBothPasses()
    {
        var config = TinyLlava.Config(next: true);
        config = config with { TextConfig = config.TextConfig with { MaxPositionEmbeddings = 2048, EosTokenIds = [2] } };
        using var llava = TinyLlava.Create(config);
        InjectFrozenMlp(llava);
        var processor = new LlavaImageProcessor(LlavaImageProcessorConfig.LlavaNext with { ShortestEdge = 8, CropSize = 8, ImageGridPinpoints = config.ImageGridPinpoints });
        var expert = Expert(llava, "e", seed: 8);
        await using var t2 = new TransformerSquaredBuilder().UseLlava(llava, processor, Tokenizer, Template).AddExpert(expert)
            .UseClassificationExpert("e", c => c.Add("even", "e", "Even things.").Add("odd", "e", "Odd things."), maxFirstPassTokens: 2)
            .ConfigureGeneration(g => g with { MaxNewTokens = 5 })
            .Build();

        byte[] png = Png(9, width: 13, height: 21);   // tiled: base image + a grid, unpadded, with newlines
        var image = processor.Process(RgbImage.Decode(png));
        Assert.That(image.Patches, Is.GreaterThan(1));
        var result = await t2.AnswerAsync([Transformer2.Models.Chat.ChatMessage.User("what?", ChatImage.FromBytes(png))]);

        string system = ClassificationPromptBuilder.SystemPrompt(((PromptDispatchStrategy)t2.Strategy).Categories);
        var firstPass = Generate(llava, $"system: {system}\nuser: <image>\nwhat?\nassistant: ", [image], Multipliers(expert), 2);
        Assert.That(result.Decision.FirstPassText, Is.EqualTo(Decode(firstPass.Tokens)));
        Assert.That(result.Decision.FirstPassPromptTokens, Is.EqualTo(firstPass.PromptLength));
        Assert.That(result.Decision.Plan.Experts, Is.EqualTo(new[] { "e" }));
        var answer = Generate(llava, "user: <image>\nwhat?\nassistant: ", [image], Multipliers(expert), 5);
        Assert.That(result.Answer, Is.EqualTo(Decode(answer.Tokens)));
        Assert.That(result.PromptTokens, Is.EqualTo(answer.PromptLength));
        Assert.That(answer.PromptLength, Is.GreaterThan(Tokenizer.Encode("user: <image>\nwhat?\nassistant: ").Length + 1 + 16), "more than one tile of tokens");
    }

    [Test]
    public async Task MergedExpertsAnswerAboutImagesAsFactoredOnes()
    {
        using var llava = Model();
        var expert = Expert(llava, "e", seed: 9);
        var request = new[] { Transformer2.Models.Chat.ChatMessage.User("what?", ChatImage.FromBytes(Png(11))) };
        var plan = new AnswerOptions { Plan = AdaptationPlan.Single("e") };
        // By hand first: the pipelines own (and dispose) the experts they are given.
        string byHand = Decode(Generate(llava, "user: <image>\nwhat?\nassistant: ", [Pixels(Png(11))], Multipliers(expert), 6).Tokens);
        string factored, merged;
        await using (var t2 = new TransformerSquaredBuilder().UseLlava(llava, Processor, Tokenizer, Template).AddExpert(expert).ConfigureGeneration(g => g with { MaxNewTokens = 6 }).Build())
            factored = (await t2.AnswerAsync(request, plan)).Answer;
        await using (var t2 = new TransformerSquaredBuilder().UseLlava(llava, Processor, Tokenizer, Template).AddExpert(Expert(llava, "e", seed: 9)).UseMergedExperts()
                         .ConfigureGeneration(g => g with { MaxNewTokens = 6 }).Build())
            merged = (await t2.AnswerAsync(request, plan)).Answer;
        Assert.That(merged, Is.EqualTo(factored));
        Assert.That(factored, Is.EqualTo(byHand));
    }

}
