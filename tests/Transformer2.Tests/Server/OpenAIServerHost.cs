using System.ClientModel;
using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenAI;
using Transformer2.Adaptation.DependencyInjection;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Server;

namespace Transformer2.Tests.Server;

/// <summary>
/// The OpenAI-compatible server on Kestrel at 127.0.0.1 (a free port), over the bundled model t2-tiny and its experts
/// (prompt dispatch: math → arith, code → code, reasoning → choice), with the server's logs captured.
/// </summary>
internal sealed class OpenAIServerHost : IAsyncDisposable
{
    readonly WebApplication _app;

    OpenAIServerHost(WebApplication app, Uri address, LogCapture logs)
    {
        _app = app;
        Address = address;
        Logs = logs;
    }

    /// <summary>The server's root (http://127.0.0.1:PORT/).</summary>
    public Uri Address { get; }

    /// <summary>What the server logged.</summary>
    public LogCapture Logs { get; }

    /// <summary>The pipeline behind the server, to answer the same requests in process.</summary>
    public TransformerSquared Pipeline => _app.Services.GetRequiredService<TransformerSquared>();

    /// <summary>Questions the bundled model routes to different experts (arith, code, choice, none): the remote-pass tests' inputs.</summary>
    public static readonly string[] RemoteQuestions =
    [
        "Ann has 12 pens and gets 5 more. How many pens does Ann have?",
        "What does this Python code print?\nprint(max(3, 8))",
        "Which is heavier? A) a feather B) a brick\nAnswer:",
        "Say hello.",
    ];

    /// <summary>The bundled model with prompt dispatch over its experts; <paramref name="configure"/> may change any of it.</summary>
    public static TransformerSquaredBuilder ConfigureTiny(TransformerSquaredBuilder builder)
    {
        string model = Tests.BundledModel.Folder();
        return builder.UseModelFolder(model)
            .AddExpertsFromFolder(Path.Combine(model, "experts"))
            .UsePromptDispatch(c => c.Add("math", "arith").Add("code", "code").Add("reasoning", "choice"), maxFirstPassTokens: 16)
            .ConfigureGeneration(g => g with { MaxNewTokens = 24 });
    }

    public static async Task<OpenAIServerHost> StartAsync(Action<OpenAIServerOptions>? options = null, Action<TransformerSquaredBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var logs = new LogCapture();
        builder.Logging.ClearProviders().AddProvider(logs).SetMinimumLevel(LogLevel.Information);
        builder.Services.AddTransformerSquared((_, b) =>
        {
            ConfigureTiny(b);
            configure?.Invoke(b);
        });
        builder.Services.AddTransformerSquaredOpenAI(options);
        var app = builder.Build();
        app.MapTransformerSquaredOpenAI();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new OpenAIServerHost(app, new Uri(address + "/"), logs);
    }

    /// <summary>An OpenAI chat client on a port nothing listens on: for checks that must fail before any request.</summary>
    public static Microsoft.Extensions.AI.IChatClient UnreachableChatClient() => new OpenAIClient(new ApiKeyCredential("x"),
        new OpenAIClientOptions { Endpoint = new Uri("http://127.0.0.1:9/v1") }).GetChatClient("base").AsIChatClient();

    /// <summary>The official OpenAI client pointed here, without retries (a 429 must reach the test).</summary>
    public OpenAIClient OpenAIClient(string apiKey = "unused") => new(new ApiKeyCredential(apiKey), new OpenAIClientOptions
    {
        Endpoint = new Uri(Address, "v1"),
        RetryPolicy = new ClientRetryPolicy(0),
        NetworkTimeout = TimeSpan.FromMinutes(5),
    });

    /// <summary>A plain HTTP client on the server's root, for raw requests.</summary>
    public HttpClient HttpClient() => new() { BaseAddress = Address, Timeout = TimeSpan.FromMinutes(5) };

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>Collects formatted log messages.</summary>
    internal sealed class LogCapture : ILoggerProvider
    {
        public ConcurrentQueue<string> Messages { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose()
        {
        }

        sealed class Logger(LogCapture owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner.Messages.Enqueue(formatter(state, exception));
        }
    }
}
