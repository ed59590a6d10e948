using System.Globalization;
using Transformer2.Adaptation.Experts;
using Transformer2.Adaptation.Export;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Core.Svf;
using Transformer2.Demo.Tasks;
using Transformer2.Models.Llama;
using Transformer2.Training.Lora;
using static TorchSharp.torch;

namespace Transformer2.Demo;

/// <summary>
/// What the LoRA export's rank costs: for each training family's expert and each rank r, the relative error of the
/// exported change ‖B·A − (W' − W)‖_F / ‖W' − W‖_F over all its matrices, and the held-out accuracy of the base model
/// with the exported PEFT adapter loaded by our LoRA path and merged (deterministic: greedy decoding, the suite's fixed seed).
/// </summary>
internal static class DemoLoraRanks
{
    static readonly int[] Ranks = [1, 2, 4, 8, 16, 32, 64, 96];

    public static async Task RunAsync(string modelFolder, string expertsFolder, DemoConsole console, CancellationToken cancellationToken)
    {
        var suite = new DemoSuite();
        var (svfModel, tokenizer) = DemoStages.LoadWithSvf(modelFolder);
        using var model = svfModel;
        var layers = SvfInjector.Find(model);
        using var experts = new ExpertRegistry(layers.ToDictionary(l => l.Key, l => l.Value.Rank));
        experts.RegisterFolder(expertsFolder);
        var exporter = new AdaptedModelExporter(model, experts, modelFolder);

        var reference = new Dictionary<string, (EvaluationResult Base, EvaluationResult Svf)>();
        await using (var t2 = DemoPipeline.Build(modelFolder, expertsFolder, DispatchMode.Fixed, suite))
        {
            foreach (var task in suite.Training)
            {
                var plain = await DemoReport.EvaluateAsync(console, t2, task, "base", new AnswerOptions { Plan = AdaptationPlan.Base }, cancellationToken);
                var svf = await DemoReport.EvaluateAsync(console, t2, task, "svf", new AnswerOptions { Plan = AdaptationPlan.Single(task.Name) }, cancellationToken);
                reference[task.Name] = (plain, svf);
            }
        }

        var rows = new List<string>();
        string work = Path.Combine(Path.GetTempPath(), "t2-lora-ranks-" + Guid.NewGuid().ToString("N"));
        try
        {
            foreach (var task in suite.Training)
            {
                var plan = AdaptationPlan.Single(task.Name);
                using var full = exporter.ComputeLora(plan, cancellationToken: cancellationToken);
                foreach (int rank in Ranks.Where(r => r <= full.Rank))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    double error = RelativeError(exporter, plan, full, rank, cancellationToken);
                    string adapterFolder = Path.Combine(work, $"{task.Name}-r{rank}");
                    exporter.ExportLora(plan, adapterFolder, new LoraExportOptions { Rank = rank }, cancellationToken: cancellationToken);
                    using var merged = LlamaForCausalLM.FromPretrained(modelFolder);
                    LoraAdapterFile.Load(merged, adapterFolder);
                    LoraInjector.MergeAndRemove(merged);
                    merged.eval();
                    var result = await DemoReport.EvaluateMergedAsync(console, merged, tokenizer, task, $"LoRA r={rank}", cancellationToken);
                    rows.Add(string.Create(CultureInfo.InvariantCulture,
                        $"| {task.Name} | {rank} | {error:F4} | {DemoReport.Pct(result)} | {DemoReport.Pct(reference[task.Name].Svf)} | {DemoReport.Pct(reference[task.Name].Base)} |"));
                }
            }
        }
        finally
        {
            if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        }
        console.Text($"{modelFolder} with {expertsFolder}, {suite.Scale.Test} held-out items per family, greedy decoding, suite seed {suite.Seed}");
        console.Text("| expert | rank r | relative weight error | accuracy, LoRA export | accuracy, SVF expert | accuracy, base |");
        console.Text("|---|---|---|---|---|---|");
        foreach (var row in rows) console.Text(row);
    }

    /// <summary>√(Σ‖B_r·A_r − ΔW‖²) / √(Σ‖ΔW‖²) over the expert's matrices, ΔW the full-rank change.</summary>
    static double RelativeError(AdaptedModelExporter exporter, AdaptationPlan plan, SvfLoraAdapter full, int rank, CancellationToken cancellationToken)
    {
        using var truncated = exporter.ComputeLora(plan, rank, cancellationToken);
        double residual = 0, total = 0;
        foreach (var (target, (a, b)) in full.Factors)
        {
            using var scope = NewDisposeScope();
            var exact = b.matmul(a).to_type(ScalarType.Float64);
            var approximate = truncated.Factors[target].B.matmul(truncated.Factors[target].A).to_type(ScalarType.Float64);
            residual += (approximate - exact).square().sum().item<double>();
            total += exact.square().sum().item<double>();
        }
        return Math.Sqrt(residual / total);
    }
}
