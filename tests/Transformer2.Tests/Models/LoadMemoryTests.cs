using Transformer2.Models.Llama;
using static TorchSharp.torch;

namespace Transformer2.Tests.Models;

/// <summary>Loading streams tensor by tensor: the process's peak resident memory grows by at most 1.25× the model's size.</summary>
public partial class LoadMemoryTests
{
    /// <summary>glibc: hands free heap pages back to the OS, so that memory freed by the warm-up is not silently reused.</summary>
    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    static long StatusKilobytes(string field) =>
        long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);

    [Test]
    [Category("Slow")]
    public void PeakMemoryDuringLoadStaysWithinAQuarterAboveTheModel()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("Peak RSS is read from /proc.");
        var config = TinyModels.Llama() with
        {
            HiddenSize = 1024, IntermediateSize = 2816, NumHiddenLayers = 8, NumAttentionHeads = 16, NumKeyValueHeads = 4, HeadDim = 64, VocabSize = 4096,
        };
        string folder = TinyModels.TempFolder();
        try
        {
            long modelBytes;
            using (var original = TinyModels.Create(config))
            {
                original.SavePretrained(folder, dtype: ScalarType.BFloat16);
                modelBytes = original.StateDictShapes().Sum(s => s.Shape.Aggregate(1L, (a, b) => a * b)) * 4;
            }
            // Warm up once so that one-off costs (JIT, libtorch's thread pools) are not counted against the model.
            LlamaForCausalLM.FromPretrained(folder, ScalarType.Float32).Dispose();
            GC.Collect();
            GC.WaitForPendingFinalizers();
            MallocTrim(0);
            try { File.WriteAllText("/proc/self/clear_refs", "5"); } // resets VmHWM to the current RSS
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { Assert.Ignore("Cannot reset the peak RSS here."); }
            long baseline = StatusKilobytes("VmRSS") * 1024;

            using var loaded = LlamaForCausalLM.FromPretrained(folder, ScalarType.Float32);
            long peak = StatusKilobytes("VmHWM") * 1024;
            long growth = peak - baseline;
            TestContext.Out.WriteLine($"model {modelBytes / 1e6:F1} MB (F32, from BF16 on disk), peak RSS growth {growth / 1e6:F1} MB = {(double)growth / modelBytes:F2}x");
            Assert.That(growth, Is.LessThanOrEqualTo(1.25 * modelBytes));
            Assert.That(growth, Is.GreaterThan(0.5 * modelBytes), "the weights must really have been loaded");
        }
        finally { Directory.Delete(folder, recursive: true); }
    }
}
