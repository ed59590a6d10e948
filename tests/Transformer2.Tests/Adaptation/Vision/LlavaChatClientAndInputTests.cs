using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Transformer2.Adaptation.ChatClient;
using Transformer2.Adaptation.DependencyInjection;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Models.Llava;
using Transformer2.Tests.Models.Llava;
using static Transformer2.Tests.Adaptation.Vision.VisionFixture;
using T2Chat = Transformer2.Models.Chat;

namespace Transformer2.Tests.Adaptation.Vision;

/// <summary>Images through <see cref="IChatClient"/> and DI, and clear errors for inputs the pipeline cannot take.</summary>
public class LlavaChatClientAndInputTests
{
    const int AnswerTokens = 5;

    static TransformerSquaredBuilder Builder(LlavaForConditionalGeneration llava) => new TransformerSquaredBuilder()
        .UseLlava(llava, Processor, Tokenizer, Template)
        .ConfigureGeneration(g => g with { MaxNewTokens = AnswerTokens });

    [Test]
    public async Task AChatClientFromDependencyInjectionTakesDataContentImages()
    {
        using var llava = Model();
        var services = new ServiceCollection();
        services.AddTransformerSquared((_, builder) => builder.UseLlava(llava, Processor, Tokenizer, Template).ConfigureGeneration(g => g with { MaxNewTokens = AnswerTokens }));
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IChatClient>();

        byte[] one = Png(40), two = Png(41);
        var first = await client.GetResponseAsync([new ChatMessage(ChatRole.User, [new TextContent("what?"), new DataContent(one, "image/png")])]);
        var second = await client.GetResponseAsync([new ChatMessage(ChatRole.User, [new TextContent("what?"), new DataContent(two, "image/png")])]);
        var byHand = Generate(llava, "user: <image>\nwhat?\nassistant: ", [Pixels(one)], null, AnswerTokens);
        Assert.That(first.Text, Is.EqualTo(Decode(byHand.Tokens)));
        Assert.That(first.Usage!.InputTokenCount, Is.EqualTo(byHand.PromptLength), "the prompt holds the image's 16 tokens");
        Assert.That(second.Text, Is.Not.EqualTo(first.Text));

        // A data: URI is DataContent too; streaming gives the same text.
        string uri = "data:image/png;base64," + Convert.ToBase64String(one);
        var pieces = new List<string>();
        await foreach (var update in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, [new TextContent("what?"), new DataContent(uri)])]))
            pieces.Add(update.Text);
        Assert.That(string.Concat(pieces), Is.EqualTo(first.Text));
    }

    [Test]
    public async Task UnsupportedContentIsRefusedByTheChatClient()
    {
        using var llava = Model();
        using var client = new TransformerSquaredChatClient(Builder(llava).Build(), ownsPipeline: false);
        var audio = Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync([new ChatMessage(ChatRole.User, [new TextContent("hi"), new DataContent(new byte[] { 1, 2 }, "audio/wav")])]));
        Assert.That(audio!.Message, Does.Contain("audio/wav").And.Contain("Message 0"));
        var remote = Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync([new ChatMessage(ChatRole.User, [new TextContent("hi"), new UriContent("https://example.com/cat.png", "image/png")])]));
        Assert.That(remote!.Message, Does.Contain("https://example.com/cat.png").And.Contain("DataContent"));
        await Task.CompletedTask;
    }

    [Test]
    public async Task BadImagesGiveClearErrorsBeforeAnythingRuns()
    {
        using var llava = Model();
        await using var t2 = Builder(llava).Build();

        var corrupt = Assert.ThrowsAsync<InvalidDataException>(() => t2.AnswerAsync([T2Chat.ChatMessage.User("what?", T2Chat.ChatImage.FromBytes([1, 2, 3, 4], "upload.png"))]));
        Assert.That(corrupt!.Message, Does.Contain("upload.png"));

        var tooMany = Assert.ThrowsAsync<ArgumentException>(() => t2.AnswerAsync([T2Chat.ChatMessage.User("<image> what?", T2Chat.ChatImage.FromBytes(Png(1)), T2Chat.ChatImage.FromBytes(Png(2)))]));
        Assert.That(tooMany!.Message, Does.Contain("1 '<image>' placeholder").And.Contain("2 image"));

        var orphan = Assert.ThrowsAsync<ArgumentException>(() => t2.AnswerAsync([T2Chat.ChatMessage.User("<image> what?")]));
        Assert.That(orphan!.Message, Does.Contain("image tokens"));

        var wrongSize = new LlavaImage(new float[3 * 4 * 4], 1, 4, 8, 8);
        var side = Assert.ThrowsAsync<ArgumentException>(() => t2.AnswerAsync([T2Chat.ChatMessage.User("what?", T2Chat.ChatImage.FromProcessed(wrongSize, "tiny"))]));
        Assert.That(side!.Message, Does.Contain("'tiny'").And.Contain("4×4"));

        var missing = Assert.ThrowsAsync<FileNotFoundException>(() => t2.AnswerAsync([T2Chat.ChatMessage.User("what?", T2Chat.ChatImage.FromFile("/no/such/picture.png"))]));
        Assert.That(missing!.Message, Does.Contain("/no/such/picture.png"));
    }

    [Test]
    public async Task ATextBackboneRefusesImages()
    {
        var model = BigramFixture.Model(new Dictionary<char, char?> { ['>'] = 'a', ['a'] = null });
        await using var t2 = new TransformerSquaredBuilder().UseModel(model, BigramFixture.Tokenizer, BigramFixture.Template)
            .AddExpert(BigramFixture.Expert(model, "e", "a", 0.5, 1.0)).Build();
        Assert.That(t2.Backbone.AcceptsImages, Is.False);
        var e = Assert.ThrowsAsync<ArgumentException>(() => t2.AnswerAsync([T2Chat.ChatMessage.User("a", T2Chat.ChatImage.FromBytes(Png(1)))]));
        Assert.That(e!.Message, Does.Contain("text-only").And.Contain("UseLlava"));
        Assert.That((await t2.AnswerAsync([T2Chat.ChatMessage.User("a")])).Answer, Is.EqualTo("a"), "text requests are unchanged");
    }

    [Test]
    public void TheBuilderChecksTheLlavaParts()
    {
        using var llava = Model();
        var next = Assert.Throws<ArgumentException>(() => new TransformerSquaredBuilder()
            .UseLlava(llava, new LlavaImageProcessor(LlavaImageProcessorConfig.LlavaNext with { ShortestEdge = 8, CropSize = 8 }), Tokenizer, Template).Build());
        Assert.That(next!.Message, Does.Contain("LlavaNextImageProcessor").And.Contain("llava"));

        var size = Assert.Throws<ArgumentException>(() => new TransformerSquaredBuilder()
            .UseLlava(llava, new LlavaImageProcessor(LlavaImageProcessorConfig.Llava15 with { ShortestEdge = 16, CropSize = 16 }), Tokenizer, Template).Build());
        Assert.That(size!.Message, Does.Contain("16×16").And.Contain("8×8"));

        var tokenizer = Assert.Throws<ArgumentException>(() => new TransformerSquaredBuilder()
            .UseLlava(llava, Processor, BigramFixture.Tokenizer, Template).Build());
        Assert.That(tokenizer!.Message, Does.Contain("'<image>'").And.Contain("100"));

        using (var vicuna = new TransformerSquaredBuilder().UseLlava(llava, Processor, Tokenizer).Build())
            Assert.That(vicuna.Backbone.Template, Is.SameAs(T2Chat.LlavaVicunaChatTemplate.Instance), "LLaVA-1.5 without a Llama-3 tokenizer: its Vicuna prompt");
        var nextConfig = TinyLlava.Config(next: true);
        using var next15 = TinyLlava.Create(nextConfig);
        var nextProcessor = new LlavaImageProcessor(LlavaImageProcessorConfig.LlavaNext with { ShortestEdge = 8, CropSize = 8, ImageGridPinpoints = nextConfig.ImageGridPinpoints });
        var template = Assert.Throws<InvalidOperationException>(() => new TransformerSquaredBuilder().UseLlava(next15, nextProcessor, Tokenizer).Build());
        Assert.That(template!.Message, Does.Contain("UseChatTemplate"));
    }

    [Test]
    public void TheOptionsValidatorWantsTheProcessorConfigOfALlavaFolder()
    {
        string folder = Path.Combine(Path.GetTempPath(), "t2-llava-options-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            File.WriteAllText(Path.Combine(folder, "config.json"), """{"model_type": "llava_next"}""");
            var options = new TransformerSquaredOptions { ModelFolder = folder };
            var result = new TransformerSquaredOptionsValidator().Validate(null, options);
            Assert.That(result.Failed, Is.True);
            Assert.That(result.FailureMessage, Does.Contain("llava_next").And.Contain(LlavaImageProcessor.ConfigFile));
            File.WriteAllText(Path.Combine(folder, LlavaImageProcessor.ConfigFile), "{}");
            Assert.That(new TransformerSquaredOptionsValidator().Validate(null, options).Succeeded, Is.True);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
