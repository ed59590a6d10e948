using System.Text.Json;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Models.Generation;
using Transformer2.Server.Protocol;

namespace Transformer2.Server;

/// <summary>
/// Answers <c>POST /v1/chat/completions</c> and <c>GET /v1/models</c> from one <see cref="TransformerSquared"/>: at most
/// <see cref="OpenAIServerOptions.MaxConcurrentRequests"/> at once, a bounded queue behind them, 429 past it; a client that
/// disconnects cancels its generation (the request's abort token is the pipeline's cancellation token).
/// </summary>
internal sealed partial class ChatCompletionEndpoint : IDisposable
{
    static readonly byte[] DataPrefix = "data: "u8.ToArray();
    static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    readonly TransformerSquared _pipeline;
    readonly OpenAIServerOptions _options;
    readonly ModelCatalog _catalog;
    readonly ConcurrencyLimiter _limiter;
    readonly ILogger _logger;
    readonly long _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public ChatCompletionEndpoint(TransformerSquared pipeline, IOptions<OpenAIServerOptions> options, ILogger<ChatCompletionEndpoint> logger)
    {
        _pipeline = pipeline;
        _options = options.Value;
        _catalog = new ModelCatalog(pipeline, _options);
        _logger = logger;
        _limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = _options.MaxConcurrentRequests,
            QueueLimit = _options.MaxQueuedRequests,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
    }

    /// <summary><c>GET /v1/models</c>.</summary>
    public IResult Models() => Results.Json(new ModelList(_catalog.Models.Select(Model).ToList()), OpenAIJson.Options);

    /// <summary><c>GET /v1/models/{id}</c>.</summary>
    public IResult Model(string id) => _catalog.Contains(id)
        ? Results.Json(Model(_catalog.Models.First(m => m.Id == id)), OpenAIJson.Options)
        : Error(new OpenAIRequestException(StatusCodes.Status404NotFound, $"The model '{id}' does not exist here.", "model", "model_not_found"));

    ModelList.Model Model((string Id, string Kind) model) => new(model.Id, _created, _options.OwnedBy, model.Kind);

    /// <summary><c>POST /v1/chat/completions</c>.</summary>
    public async Task CompleteAsync(HttpContext http)
    {
        var cancellationToken = http.RequestAborted;
        string id = "chatcmpl-" + Guid.NewGuid().ToString("N");
        try
        {
            var request = await ChatRequestReader.ReadAsync(http.Request, _catalog, _options, cancellationToken).ConfigureAwait(false);
            using var lease = await _limiter.AcquireAsync(1, cancellationToken).ConfigureAwait(false);
            if (!lease.IsAcquired)
            {
                LogRejected(id, _options.MaxConcurrentRequests, _options.MaxQueuedRequests);
                http.Response.Headers.RetryAfter = "1";
                throw new OpenAIRequestException(StatusCodes.Status429TooManyRequests,
                    $"The server is busy: {_options.MaxConcurrentRequests} requests are running and {_options.MaxQueuedRequests} waiting; retry later.",
                    null, "rate_limit_exceeded", "requests");
            }
            if (request.Stream) await StreamAsync(http, id, request, cancellationToken).ConfigureAwait(false);
            else await AnswerAsync(http, id, request, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            LogCancelled(id);   // the client is gone: nothing to answer
        }
        catch (OpenAIRequestException e) when (!http.Response.HasStarted)
        {
            await WriteAsync(http, e.Status, e.Error).ConfigureAwait(false);
        }
        catch (ArgumentException e) when (!http.Response.HasStarted)
        {
            // The pipeline refused the request (for example a prompt longer than the model's context).
            await WriteAsync(http, StatusCodes.Status400BadRequest, new OpenAIError(new OpenAIError.Body(e.Message, "invalid_request_error", e.ParamName, null))).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OpenAIRequestException)
        {
            LogFailed(e, id);
            var error = new OpenAIError(new OpenAIError.Body($"The server failed to answer: {e.Message}", "server_error", null, null));
            if (!http.Response.HasStarted) await WriteAsync(http, StatusCodes.Status500InternalServerError, error).ConfigureAwait(false);
            else await WriteEventAsync(http.Response, error, CancellationToken.None).ConfigureAwait(false);   // mid-stream: the status is sent already
        }
    }

    async Task AnswerAsync(HttpContext http, string id, ParsedChatRequest request, CancellationToken cancellationToken)
    {
        var result = await _pipeline.AnswerAsync(request.Messages, request.Options, cancellationToken).ConfigureAwait(false);
        var response = new ChatCompletionResponse(id, "chat.completion", Now(), request.Model,
            [new ChatCompletionResponse.Choice(0) { Message = new("assistant", result.Answer), FinishReason = FinishReason(result.Finish) }])
        {
            Usage = Usage(result),
            Transformer2 = Decision(result.Decision, result),
        };
        LogAnswered(id, request.Model, result.Decision.Plan.Key, result.CompletionTokens);
        await WriteAsync(http, StatusCodes.Status200OK, response).ConfigureAwait(false);
    }

    async Task StreamAsync(HttpContext http, string id, ParsedChatRequest request, CancellationToken cancellationToken)
    {
        var response = http.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        long created = Now();
        ChatCompletionResponse Chunk(ChatCompletionResponse.Choice[] choices) => new(id, "chat.completion.chunk", created, request.Model, choices);

        // The role first, as OpenAI does, before the first pass has decided anything.
        await WriteEventAsync(response, Chunk([new ChatCompletionResponse.Choice(0) { Delta = new("assistant", "") }]), cancellationToken).ConfigureAwait(false);
        await foreach (var update in _pipeline.StreamAsync(request.Messages, request.Options, cancellationToken).ConfigureAwait(false))
        {
            if (update.Result is { } result)
            {
                await WriteEventAsync(response, Chunk([new ChatCompletionResponse.Choice(0) { Delta = new(null, null), FinishReason = FinishReason(result.Finish) }])
                    with { Transformer2 = Decision(result.Decision, result) }, cancellationToken).ConfigureAwait(false);
                if (request.IncludeUsage) await WriteEventAsync(response, Chunk([]) with { Usage = Usage(result) }, cancellationToken).ConfigureAwait(false);
                LogAnswered(id, request.Model, result.Decision.Plan.Key, result.CompletionTokens);
            }
            else if (update.Text.Length > 0)
            {
                await WriteEventAsync(response, Chunk([new ChatCompletionResponse.Choice(0) { Delta = new(null, update.Text) }]), cancellationToken).ConfigureAwait(false);
            }
            else
            {
                // The first pass has decided: say so before the answer starts.
                await WriteEventAsync(response, Chunk([new ChatCompletionResponse.Choice(0) { Delta = new(null, null) }]) with { Transformer2 = Decision(update.Decision, null) },
                    cancellationToken).ConfigureAwait(false);
            }
        }
        await response.Body.WriteAsync(Done, cancellationToken).ConfigureAwait(false);
        await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    static async Task WriteEventAsync<T>(HttpResponse response, T payload, CancellationToken cancellationToken)
    {
        await response.Body.WriteAsync(DataPrefix, cancellationToken).ConfigureAwait(false);
        await response.Body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(payload, OpenAIJson.Options), cancellationToken).ConfigureAwait(false);
        await response.Body.WriteAsync(EventEnd, cancellationToken).ConfigureAwait(false);
        await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    static Task WriteAsync<T>(HttpContext http, int status, T payload)
    {
        http.Response.StatusCode = status;
        return http.Response.WriteAsJsonAsync(payload, OpenAIJson.Options, http.RequestAborted);
    }

    /// <summary>An error as a minimal-API result (for filters and lookups).</summary>
    internal static IResult Error(OpenAIRequestException e) => Results.Json(e.Error, OpenAIJson.Options, statusCode: e.Status);

    static string FinishReason(FinishReason finish) => finish == Transformer2.Models.Generation.FinishReason.MaxNewTokens ? "length" : "stop";

    static Usage Usage(TwoPassResult result) => new(result.PromptTokens, result.CompletionTokens, result.PromptTokens + result.CompletionTokens);

    static DecisionInfo Decision(DispatchDecision decision, TwoPassResult? result) => new(decision.Strategy, decision.Label, decision.Plan.Key, decision.Plan.WeightsByExpert())
    {
        FirstPassMs = result?.FirstPass.TotalMilliseconds,
        SecondPassMs = result?.SecondPass.TotalMilliseconds,
    };

    static long Now() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public void Dispose() => _limiter.Dispose();

    [LoggerMessage(Level = LogLevel.Information, Message = "Chat completion {Id} for model {Model}: plan {Plan}, {Tokens} tokens")]
    partial void LogAnswered(string id, string model, string plan, int tokens);

    [LoggerMessage(Level = LogLevel.Information, Message = "Chat completion {Id} cancelled: the client disconnected")]
    partial void LogCancelled(string id);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Chat completion {Id} refused (429): {Running} running, {Queued} queued")]
    partial void LogRejected(string id, int running, int queued);

    [LoggerMessage(Level = LogLevel.Error, Message = "Chat completion {Id} failed")]
    partial void LogFailed(Exception exception, string id);
}
