using System.Diagnostics;
using System.Text.RegularExpressions;
using TorchSharp;
using Transformer2.Adaptation.Experts;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Core.Experts;
using Transformer2.Core.Svd;
using Transformer2.Core.Svf;
using Transformer2.Models.Chat;
using Transformer2.Models.Llama;
using Transformer2.Training.Reinforce;
using Transformer2.Training.Tasks;
using static TorchSharp.torch;

namespace Transformer2.Benchmarks;

/// <summary>
/// Not a BenchmarkDotNet benchmark: one pass through the library at a real checkpoint shape (random bf16 weights written
/// by the library as a sharded HF folder), printing wall time and the process's peak RSS for every step.
/// </summary>
/// <remarks>
/// <c>dotnet run -c Release --project benchmarks/Transformer2.Benchmarks -- realshape &lt;llama3.2-1b|llama3-8b&gt; &lt;work folder&gt; [layers] [steps]</c>,
/// steps a comma list of <c>write, dense, decompose, factored, merged, reinforce</c> (default all), plus <c>tile</c>: when fewer
/// layers were decomposed, inject factored-only layers into every layer anyway, reusing the decomposed layers' factors, to
/// measure the whole model's factored-only memory and decode. Needs ~1.3× the
/// checkpoint in free RAM. Peak RSS per step: VmHWM, reset before each step through <c>/proc/self/clear_refs</c>.
/// </remarks>
internal static class RealShapeRun
{
    static readonly string[] Projections = ["gate_proj", "up_proj", "down_proj"];

    public static int Run(string[] args)
    {
        if (args.Length < 2)
        {
            Console.Error.WriteLine("usage: realshape <llama3.2-1b|llama3-8b> <work folder> [layers to decompose, default all] [steps, default write,dense,decompose,factored,merged,reinforce]");
            return 2;
        }
        var config = args[0] switch
        {
            "llama3.2-1b" => LlamaPresets.Llama32_1B,
            "llama3-8b" => LlamaPresets.Llama3_8BInstruct,
            _ => throw new ArgumentException($"Unknown preset '{args[0]}'; use llama3.2-1b or llama3-8b."),
        };
        string work = Path.GetFullPath(args[1]);
        int layers = args.Length > 2 && args[2] != "all" ? int.Parse(args[2]) : config.NumHiddenLayers;
        var steps = (args.Length > 3 ? args[3] : "write,dense,decompose,factored,merged,reinforce").Split(',').ToHashSet();
        string checkpoint = Path.Combine(work, "checkpoint"), cachePath = Path.Combine(work, $"mlp-{layers}layers.svd.safetensors");
        Directory.CreateDirectory(work);
        Console.WriteLine($"realshape {args[0]}: {config.NumHiddenLayers} layers, hidden {config.HiddenSize}, MLP {config.IntermediateSize}; decomposing {layers} layer(s); load {File.ReadAllText("/proc/loadavg").Trim()}");
        Console.WriteLine("| step | wall s | peak RSS GiB (step) | RSS after GiB | note |");
        Console.WriteLine("|---|---|---|---|---|");

        if (steps.Contains("write") && !File.Exists(Path.Combine(checkpoint, "config.json")))
        {
            Step("write random bf16 checkpoint (sharded)", () =>
            {
                manual_seed(1);
                using var fresh = new LlamaForCausalLM(config, ScalarType.BFloat16);
                fresh.SavePretrained(checkpoint, maxShardBytes: config.HiddenSize >= 4096 ? 5L << 30 : 1L << 30);
                return $"{Directory.GetFiles(checkpoint, "*.safetensors").Length} shards + index";
            });
        }

        var model = Step("load (FromPretrained, bf16)", () => (LlamaForCausalLM.FromPretrained(checkpoint, ScalarType.BFloat16), ""));
        model.eval();
        foreach (var p in model.parameters()) p.requires_grad = false;
        var ids = Prompt(config, 32);
        double denseMs = 0;
        if (steps.Contains("dense")) Step("decode, dense (16 tokens after a 32-token prompt)", () => { denseMs = DecodeMs(model, ids); return $"{denseMs:F0} ms/token"; });

        var selector = TargetSelector.FromPatterns($@"^model\.layers\.({string.Join("|", Enumerable.Range(0, layers))})\.mlp\.(gate_proj|up_proj|down_proj)\.weight$");
        if (steps.Contains("decompose") || !File.Exists(cachePath))
        {
            Step($"decompose {3 * layers} MLP matrices into a bf16 cache", () =>
            {
                var perMatrix = new List<double>();
                using var cache = DecompositionCache.Build(WeightSource.FromModule(model), selector, cachePath, "realshape-" + args[0],
                    new InlineProgress(p => { if (!p.Resumed) perMatrix.Add(p.Elapsed.TotalSeconds); }), storage: FactorStorage.WeightDType);
                double mean = perMatrix.Count == 0 ? 0 : perMatrix.Average();
                return $"{mean:F1} s/matrix over {perMatrix.Count}; all {3 * config.NumHiddenLayers} ≈ {mean * 3 * config.NumHiddenLayers / 60:F1} min (extrapolated); cache {new FileInfo(cachePath).Length / 1e9:F2} GB";
            });
        }

        // The factored-only steps need the first model; a run of only "merged" frees it at once, because a second 8B model
        // in the same process after factored-only steps did not fit in 24 GB (the allocator keeps freed pages).
        if (steps.Overlaps(["factored", "reinforce"]))
        {
            bool tile = steps.Contains("tile") && layers < config.NumHiddenLayers;
            IReadOnlyDictionary<string, SvfLinear> svf = Step(tile
                ? $"inject factored-only layers into all {config.NumHiddenLayers} layers (layer i uses layer i mod {layers}'s factors: real shapes and bytes, other values)"
                : "inject factored-only layers from the cache", () =>
            {
                using var cache = DecompositionCache.Open(cachePath);
                if (!tile) return (SvfInjector.InjectFromCache(model, cache, SvfWeightStorage.FactoredOnly), "");
                // Memory and decode cost depend only on the factors' shapes, so reusing decomposed layers measures the whole
                // model's factored-only footprint without decomposing every layer (the values are not that model's SVD).
                var mlp = new Regex(@"^model\.layers\.(\d+)\.mlp\.(gate_proj|up_proj|down_proj)\.weight$");
                var injected = SvfInjector.Inject(model, name => mlp.IsMatch(name), (name, _) =>
                {
                    var match = mlp.Match(name);
                    using var factors = cache.GetFactors($"model.layers.{int.Parse(match.Groups[1].Value) % layers}.mlp.{match.Groups[2].Value}.weight");
                    return (factors.U.alias(), factors.S.alias(), factors.V.alias());
                }, SvfWeightStorage.FactoredOnly);
                return (injected, $"{injected.Count} matrices");
            });
            var experts = Experts(svf, 3);
            if (steps.Contains("factored"))
            {
                Step($"expert switch, factored-only ({svf.Count} matrices; what the pipeline does: cached z per expert)", () =>
                {
                    // The pipeline's registry computes an expert's z = sigmoid(p) once, then a switch makes its cached
                    // dictionary ambient (ExpertApplier, factored mode).
                    using var registry = new ExpertRegistry(svf.ToDictionary(l => l.Key, l => l.Value.Rank));
                    foreach (var e in experts) registry.Register(new Expert(e.Metadata, e.Vectors.Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.clone().DetachFromDisposeScope()))));
                    var clock = Stopwatch.StartNew();
                    foreach (var e in experts) registry.Multipliers(e.Name);
                    double first = clock.Elapsed.TotalMilliseconds / experts.Count;
                    clock.Restart();
                    for (int i = 0; i < 1000; i++)
                        using (SvfContext.Use(registry.Multipliers(experts[i % 3].Name))) { }
                    return $"{clock.Elapsed.TotalMilliseconds / 1000:F4} ms/switch to a cached expert; {first:F2} ms the first time an expert is used (z for every matrix)";
                });
                Step("decode, factored-only with an expert", () =>
                {
                    var z = Multipliers(experts[0]);
                    double ms;
                    using (SvfContext.Use(z)) ms = DecodeMs(model, ids);
                    foreach (var t in z.Values) t.Dispose();
                    return $"{ms:F0} ms/token" + (denseMs > 0 ? $" ({ms / denseMs:F2}× dense)" : "");
                });
                Step("two-pass T², factored-only, 3 experts (prompt dispatch 8 tokens + 3 answers of 8 tokens)", () => TwoPass(model, experts, b => b.UseFactoredOnlyLayers()));
            }
            if (steps.Contains("reinforce"))
                Step("REINFORCE, 5 iterations at batch 4 (8-token rollouts), factored-only", () => Reinforce(model));
            Dispose(experts);
        }
        model.Dispose();

        if (steps.Contains("merged"))
        {
            var dense = Step("merged mode: reload and inject dense SVF layers", () =>
            {
                var m = LlamaForCausalLM.FromPretrained(checkpoint, ScalarType.BFloat16);
                m.eval();
                foreach (var p in m.parameters()) p.requires_grad = false;
                using var cache = DecompositionCache.Open(cachePath);
                SvfInjector.InjectFromCache(m, cache);
                return (m, "");
            });
            var layersDense = SvfInjector.Find(dense);
            var mergedExperts = Experts(layersDense, 3);
            Step($"expert switch, merged (compose + write {layersDense.Count} matrices, restore)", () =>
            {
                var clock = Stopwatch.StartNew();
                using (no_grad())
                {
                    var z = Multipliers(mergedExperts[1]);
                    foreach (var (target, layer) in layersDense) layer.Merge(z[target]);
                    double merge = clock.Elapsed.TotalSeconds;
                    foreach (var layer in layersDense.Values) layer.Unmerge();
                    foreach (var t in z.Values) t.Dispose();
                    return $"{merge:F2} s to merge, {clock.Elapsed.TotalSeconds - merge:F2} s to restore; composed weights of one plan {layersDense.Values.Sum(l => l.OutFeatures * l.InFeatures * 2) / 1e9:F2} GB";
                }
            });
            Step("two-pass T², merged, 3 experts (budget 0: every switch recomposes)", () => TwoPass(dense, mergedExperts, b => b.UseMergedExperts(budgetBytes: 0)));
            Dispose(mergedExperts);
            dense.Dispose();
        }
        return 0;
    }

    static T Step<T>(string name, Func<(T Result, string Note)> run)
    {
        File.WriteAllText("/proc/self/clear_refs", "5");   // resets VmHWM to the current RSS
        var clock = Stopwatch.StartNew();
        var (result, note) = run();
        Console.WriteLine($"| {name} | {clock.Elapsed.TotalSeconds:F1} | {Status("VmHWM"):F2} | {Status("VmRSS"):F2} | {note} |");
        return result;
    }

    static void Step(string name, Func<string> run) => Step(name, () => (0, run()));

    static double Status(string field)
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return long.Parse(Regex.Match(line, @"\d+").Value) / (1024.0 * 1024.0);   // kB → GiB
    }

    static Tensor Prompt(LlamaConfig config, int length) =>
        randint(3, 259, [1, length], ScalarType.Int64, generator: new Generator(3)).DetachFromDisposeScope();

    /// <summary>Milliseconds per greedy decode step after prefilling <paramref name="ids"/>.</summary>
    static double DecodeMs(LlamaForCausalLM model, Tensor ids)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var cache = model.CreateCache(1, (int)ids.shape[1] + 17);
        var next = model.Forward(ids, cache: cache, lastPositionOnly: true).argmax(-1).view(1, 1);
        next = model.Forward(next, cache: cache, lastPositionOnly: true).argmax(-1).view(1, 1);   // warm-up step
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < 16; i++) next = model.Forward(next, cache: cache, lastPositionOnly: true).argmax(-1).view(1, 1);
        return clock.Elapsed.TotalMilliseconds / 16;
    }

    static List<Expert> Experts(IReadOnlyDictionary<string, SvfLinear> layers, int count)
    {
        var generator = new Generator(9);
        var targets = layers.Keys.ToList();
        return Enumerable.Range(0, count).Select(e => new Expert(new ExpertMetadata { Name = $"expert{e}", Targets = targets },
            targets.Select(t => new KeyValuePair<string, Tensor>(t, (randn([layers[t].Rank], generator: generator) * 0.5 + 1).DetachFromDisposeScope())))).ToList();
    }

    static Dictionary<string, Tensor> Multipliers(Expert expert)
    {
        var parameterization = expert.Metadata.Parameterization;
        return expert.Vectors.ToDictionary(kv => kv.Key, kv => parameterization.Multiplier(kv.Value).DetachFromDisposeScope(), StringComparer.Ordinal);
    }

    static void Dispose(List<Expert> experts)
    {
        foreach (var e in experts) e.Dispose();
    }

    /// <summary>Prompt dispatch over three experts, then one answer with each expert; the pipeline gets copies of the experts.</summary>
    static string TwoPass(LlamaForCausalLM model, List<Expert> experts, Func<TransformerSquaredBuilder, TransformerSquaredBuilder> mode)
    {
        var builder = new TransformerSquaredBuilder().UseModel(model, new ByteTokenizer(), Llama3ChatTemplate.Instruct)
            .ConfigureGeneration(g => g with { MaxNewTokens = 8, StopTokenIds = [] })
            .UsePromptDispatch(c => c.Add("math", "expert0").Add("code", "expert1").Add("reasoning", "expert2"), maxFirstPassTokens: 8);
        foreach (var e in experts)
            builder.AddExpert(new Expert(e.Metadata, e.Vectors.Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.clone().DetachFromDisposeScope()))));
        using var t2 = mode(builder).Build();
        IReadOnlyList<ChatMessage> question = [ChatMessage.User("Natalia sold 48 clips in April and half as many in May. How many?")];
        var clock = Stopwatch.StartNew();
        var routed = t2.AnswerAsync(question).GetAwaiter().GetResult();
        double twoPass = clock.Elapsed.TotalSeconds;
        var perExpert = new List<double>();
        foreach (var e in experts)
        {
            clock.Restart();
            t2.AnswerAsync(question, new AnswerOptions { Plan = AdaptationPlan.Single(e.Name) }).GetAwaiter().GetResult();
            perExpert.Add(clock.Elapsed.TotalSeconds);
        }
        return $"two-pass (dispatch → {routed.Decision.Plan}) {twoPass:F1} s; answers with expert0/1/2: {string.Join(" / ", perExpert.Select(s => s.ToString("F1")))} s";
    }

    static string Reinforce(LlamaForCausalLM model)
    {
        var items = Enumerable.Range(0, 8).Select(i => new TaskItem($"t{i}", $"What is {i} + {i}?") { References = [(2 * i).ToString()] }).ToList();
        var task = DelegateTask.WithReward("sums", new TaskSplits(items, [], [], []), null,
            (item, answer) => answer.Contains(item.References[0], StringComparison.Ordinal) ? 1 : -1, new GenerationSettings(8, 256, []));
        var options = new ReinforceOptions { Iterations = 5, BatchSize = 4, MicroBatchSize = 4, MaxNewTokens = 8, ValidationInterval = 0, Seed = 1, LearningRate = 1e-2 };
        using var trainer = new ReinforceTrainer(model, new ByteTokenizer(), Llama3ChatTemplate.Instruct, task, options);
        var clock = Stopwatch.StartNew();
        var result = trainer.TrainAsync().GetAwaiter().GetResult();
        foreach (var (_, v) in result.BestVectors) v.Dispose();
        return $"{clock.Elapsed.TotalSeconds / 5:F1} s/iteration";
    }

    sealed class InlineProgress(Action<DecompositionProgress> report) : IProgress<DecompositionProgress>
    {
        public void Report(DecompositionProgress value) => report(value);
    }
}
