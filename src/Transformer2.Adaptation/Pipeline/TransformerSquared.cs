using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Transformer2.Adaptation.Dispatch;
using Transformer2.Adaptation.Experts;
using Transformer2.Adaptation.Search;
using Transformer2.Models.Chat;
using Transformer2.Models.Generation;

namespace Transformer2.Adaptation.Pipeline;

/// <summary>
/// A self-adaptive model: the first pass decides which experts fit a prompt, the second answers with them applied.
/// </summary>
/// <remarks>
/// Build one with <see cref="TransformerSquaredBuilder"/> (or through dependency injection). Thread-safe: concurrent
/// requests in factored mode run in parallel with their own experts; in merged mode requests that need different
/// weights take turns. Every answer equals what the same request gives when run alone. On a LLaVA backbone messages may
/// carry images (<see cref="ChatMessage.Images"/>); both passes see them (see <see cref="PromptDispatchStrategy"/>).
/// </remarks>
public sealed partial class TransformerSquared : IAsyncDisposable, IDisposable
{
    readonly ExpertApplier _applier;
    readonly DispatchContext _context;
    readonly GenerationOptions _defaults;
    readonly ILogger _logger;
    readonly bool _ownsBackbone;
    readonly RemoteSecondPass? _remote;
    int _disposed;

    internal TransformerSquared(AdaptationBackbone backbone, ExpertRegistry experts, IDispatchStrategy strategy, ExpertApplier applier,
        GenerationOptions defaults, ILogger? logger, bool ownsBackbone, RemoteSecondPass? remote = null)
    {
        Backbone = backbone;
        Experts = experts;
        Strategy = strategy;
        _applier = applier;
        _defaults = defaults;
        _logger = logger ?? NullLogger.Instance;
        _ownsBackbone = ownsBackbone;
        _context = new DispatchContext(backbone, experts, applier);
        strategy.Validate(_context);
        remote?.Validate(experts);
        _remote = remote;
    }

    /// <summary>True when the second pass is sent to a remote <c>IChatClient</c> (see <see cref="TransformerSquaredBuilder.UseRemoteSecondPass"/>).</summary>
    public bool HasRemoteSecondPass => _remote is not null;

    /// <summary>The model, tokenizer and template.</summary>
    public AdaptationBackbone Backbone { get; }

    /// <summary>The registered experts.</summary>
    public ExpertRegistry Experts { get; }

    /// <summary>The first-pass strategy.</summary>
    public IDispatchStrategy Strategy { get; }

    /// <summary>How experts are applied.</summary>
    public ExpertApplicationMode Mode => _applier.Mode;

    /// <summary>Generation settings used when a request does not override them.</summary>
    public GenerationOptions GenerationDefaults => _defaults;

    /// <summary>Runs only the first pass.</summary>
    public async Task<DispatchDecision> DecideAsync(IReadOnlyList<ChatMessage> messages, AnswerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(messages);
        options ??= new AnswerOptions();
        if (options.Plan is { } fixedPlan) return new DispatchDecision("fixed", null, fixedPlan);
        return await Strategy.DecideAsync(_context, messages, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Answers <paramref name="messages"/> in two passes.</summary>
    public async Task<TwoPassResult> AnswerAsync(IReadOnlyList<ChatMessage> messages, AnswerOptions? options = null, CancellationToken cancellationToken = default)
    {
        var text = new System.Text.StringBuilder();
        TwoPassResult? result = null;
        await foreach (var update in StreamAsync(messages, options, cancellationToken).ConfigureAwait(false))
        {
            text.Append(update.Text);
            if (update.Result is not null) result = update.Result;
        }
        return result!;
    }

    /// <summary>
    /// Answers in two passes, streaming the second: the first update carries the decision (no text), then text pieces,
    /// and the last update carries the full <see cref="TwoPassResult"/>.
    /// </summary>
    public async IAsyncEnumerable<TwoPassUpdate> StreamAsync(IReadOnlyList<ChatMessage> messages, AnswerOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0) throw new ArgumentException("A request needs at least one message.", nameof(messages));
        options ??= new AnswerOptions();
        var generation = Merge(options);
        generation.Validate();

        // Prepared before the first pass, so a bad image fails the request at once; both passes share the preprocessing.
        var prompt = Backbone.Prepare(messages);

        using var activity = AdaptationTelemetry.ActivitySource.StartActivity("transformer2.answer");
        var clock = Stopwatch.StartNew();
        DispatchDecision decision;
        using (AdaptationTelemetry.ActivitySource.StartActivity("transformer2.first_pass"))
            decision = await DecideAsync(messages, options, cancellationToken).ConfigureAwait(false);
        var firstPass = clock.Elapsed;
        int firstPassTokens = decision.FirstPassText is null ? 0 : Backbone.Tokenizer.Encode(decision.FirstPassText).Length;
        activity?.SetTag("transformer2.strategy", decision.Strategy);
        activity?.SetTag("transformer2.label", decision.Label);
        activity?.SetTag("transformer2.plan", decision.Plan.Key);
        LogDecision(decision.Strategy, decision.Label ?? "-", decision.Plan.Key, firstPass.TotalMilliseconds);
        yield return new TwoPassUpdate(decision, "", null);

        clock.Restart();
        if (_remote is not null)
        {
            var outcome = new RemoteSecondPass.Outcome();
            using (AdaptationTelemetry.ActivitySource.StartActivity("transformer2.remote_second_pass"))
            {
                await foreach (var text in _remote.StreamAsync(messages, decision.Plan, generation, outcome, cancellationToken).ConfigureAwait(false))
                    yield return new TwoPassUpdate(decision, text, null);
            }
            Record(decision, firstPass, clock.Elapsed, outcome.CompletionTokens);
            yield return new TwoPassUpdate(decision, "", new TwoPassResult(outcome.Text.ToString(), decision, firstPass, clock.Elapsed,
                outcome.PromptTokens, outcome.CompletionTokens, firstPassTokens, outcome.Finish));
            yield break;
        }
        var tokens = new List<int>();
        var emitted = 0;
        FinishReason finish = FinishReason.MaxNewTokens;
        // Hold back text that may turn out to be the start of a stop string: the answer never contains one.
        int holdBack = generation.StopStrings.Count == 0 ? 0 : generation.StopStrings.Max(x => x.Length) - 1;
        using (AdaptationTelemetry.ActivitySource.StartActivity("transformer2.second_pass"))
        using (var lease = await _applier.AcquireAsync(decision.Plan, cancellationToken).ConfigureAwait(false))
        using (var session = new GenerationSession(Backbone.Model, [prompt.Ids], generation, Decode, Backbone.Embedder([prompt])))
        {
            bool stopped = false;
            while (!session.Done && !stopped)
            {
                cancellationToken.ThrowIfCancellationRequested();
                // The plan is entered around each step: an async iterator does not keep ambient (AsyncLocal) state across yields.
                var step = await Task.Run(() =>
                {
                    using (lease.Enter()) return session.Step();
                }, cancellationToken).ConfigureAwait(false);
                foreach (var token in step)
                {
                    if (token.Finish is { } f) finish = f;
                    if (token.Finish == FinishReason.StopToken)
                    {
                        stopped = true;
                        break;
                    }
                    tokens.Add(token.TokenId);
                }
                string text = Answer(Decode(tokens), generation);
                int safe = session.Done || stopped ? text.Length : text.Length - holdBack;
                // A partial UTF-8 sequence decodes to U+FFFD: wait for the rest of the character.
                if (safe > emitted && !text.EndsWith('\uFFFD'))
                {
                    yield return new TwoPassUpdate(decision, text[emitted..safe], null);
                    emitted = safe;
                }
            }
        }
        var secondPass = clock.Elapsed;
        string answer = Answer(Decode(tokens), generation);
        if (answer.Length > emitted) yield return new TwoPassUpdate(decision, answer[emitted..], null);

        Record(decision, firstPass, secondPass, tokens.Count);
        yield return new TwoPassUpdate(decision, "", new TwoPassResult(answer, decision, firstPass, secondPass, prompt.Ids.Length, tokens.Count, firstPassTokens, finish));
    }

    static void Record(DispatchDecision decision, TimeSpan firstPass, TimeSpan secondPass, int generatedTokens)
    {
        var tags = new KeyValuePair<string, object?>[] { new("strategy", decision.Strategy), new("label", decision.Label ?? "-") };
        AdaptationTelemetry.Requests.Add(1, tags);
        AdaptationTelemetry.FirstPassSeconds.Record(firstPass.TotalSeconds, tags);
        AdaptationTelemetry.SecondPassSeconds.Record(secondPass.TotalSeconds, tags);
        AdaptationTelemetry.GeneratedTokens.Add(generatedTokens, tags);
    }

    /// <summary>
    /// Few-shot adaptation now: searches the mixing weights for a task registered with the <see cref="FewShotStrategy"/>
    /// and caches the result for later requests carrying that task key.
    /// </summary>
    public Task<SearchResult?> AdaptToTaskAsync(string taskKey, IProgress<SearchProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        if (Strategy is not FewShotStrategy fewShot)
            throw new InvalidOperationException($"The pipeline's strategy is '{Strategy.Name}'; few-shot adaptation needs UseFewShotDispatch.");
        return fewShot.AdaptAsync(_context, taskKey, progress, cancellationToken);
    }

    GenerationOptions Merge(AnswerOptions options) => _defaults with
    {
        MaxNewTokens = options.MaxNewTokens ?? _defaults.MaxNewTokens,
        Temperature = options.Temperature ?? _defaults.Temperature,
        TopP = options.TopP ?? _defaults.TopP,
        TopK = options.TopK ?? _defaults.TopK,
        Seed = options.Seed ?? _defaults.Seed,
        StopStrings = options.StopStrings is null ? _defaults.StopStrings : _defaults.StopStrings.Concat(options.StopStrings).ToList(),
        StopTokenIds = _defaults.StopTokenIds ?? Backbone.Tokenizer.EosIds.ToList(),
    };

    /// <summary>The text before the first stop string.</summary>
    static string Answer(string text, GenerationOptions generation)
    {
        int cut = text.Length;
        foreach (var stop in generation.StopStrings)
        {
            int at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && at < cut) cut = at;
        }
        return text[..cut];
    }

    string Decode(IReadOnlyList<int> ids) => Backbone.Tokenizer.Decode(ids, skipSpecialTokens: true);

    void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    [LoggerMessage(Level = LogLevel.Information, Message = "Dispatch {Strategy}: label {Label}, plan {Plan}, first pass {Milliseconds:F0} ms")]
    partial void LogDecision(string strategy, string label, string plan, double milliseconds);

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _applier.Dispose();
        Experts.Dispose();
        if (_ownsBackbone)
        {
            if (Backbone.Llava is { } llava) llava.Dispose();
            else Backbone.Model.Dispose();
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
