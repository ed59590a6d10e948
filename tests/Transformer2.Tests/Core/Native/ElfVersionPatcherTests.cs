using Transformer2.Core.Native;

namespace Transformer2.Tests.Core.Native;

public class ElfVersionPatcherTests
{
    static string PristineLibrary()
    {
        string root = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var candidates = Directory.Exists(Path.Combine(root, "torchsharp"))
            ? Directory.GetFiles(Path.Combine(root, "torchsharp"), "libLibTorchSharp.so", SearchOption.AllDirectories)
            : Array.Empty<string>();
        if (candidates.Length == 0) Assert.Ignore($"No TorchSharp package in {root}: nothing to patch.");
        return candidates.OrderBy(c => c).Last();
    }

    static string CopyToTemp(string source)
    {
        string folder = Path.Combine(Path.GetTempPath(), "t2-elf-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        string target = Path.Combine(folder, "libLibTorchSharp.so");
        File.Copy(source, target);
        return target;
    }

    static Dictionary<string, HashSet<string>> Provided(params string[] versions) =>
        new() { ["libstdc++.so.6"] = new HashSet<string>(versions) };

    static readonly string[] Gcc12Versions = Enumerable.Range(0, 31).Select(i => i == 0 ? "GLIBCXX_3.4" : $"GLIBCXX_3.4.{i}")
        .Concat(Enumerable.Range(0, 14).Select(i => i == 0 ? "CXXABI_1.3" : $"CXXABI_1.3.{i}")).ToArray();

    [Test]
    public void WeakensOnlyTheUnusedGlibcxx3432RequirementWhenTheSystemLacksIt()
    {
        string file = CopyToTemp(PristineLibrary());
        var result = ElfVersionPatcher.PatchFile(file, Provided(Gcc12Versions));
        Assert.That(result.Weakened, Is.EqualTo(new[] { "GLIBCXX_3.4.32" }));
        Assert.That(result.LeftRequired, Is.Empty);
        Assert.That(new FileInfo(file).Length, Is.EqualTo(new FileInfo(PristineLibrary()).Length), "only a flag changes");

        var again = ElfVersionPatcher.PatchFile(file, Provided(Gcc12Versions));
        Assert.That(again.Changed, Is.False, "idempotent: already weak");
    }

    [Test]
    public void IsANoOpWhereTheSystemProvidesTheVersion()
    {
        string pristine = PristineLibrary();
        string file = CopyToTemp(pristine);
        var result = ElfVersionPatcher.PatchFile(file, Provided(Gcc12Versions.Append("GLIBCXX_3.4.31").Append("GLIBCXX_3.4.32").ToArray()));
        Assert.That(result.Changed, Is.False);
        Assert.That(File.ReadAllBytes(file), Is.EqualTo(File.ReadAllBytes(pristine)));
    }

    [Test]
    public void NeverWeakensAVersionThatRealSymbolsNeed()
    {
        string file = CopyToTemp(PristineLibrary());
        var withoutGcc12 = Gcc12Versions.Where(v => v != "GLIBCXX_3.4.30").ToArray();
        var result = ElfVersionPatcher.PatchFile(file, Provided(withoutGcc12));
        Assert.That(result.LeftRequired, Does.Contain("GLIBCXX_3.4.30"));
        Assert.That(result.Weakened, Is.EqualTo(new[] { "GLIBCXX_3.4.32" }));
    }

    [Test]
    public void ReadsTheSystemLibstdcxxVersions()
    {
        var provided = ElfVersionPatcher.SystemProvidedVersions();
        Assert.That(provided.ContainsKey("libstdc++.so.6"), Is.True);
        Assert.That(provided["libstdc++.so.6"], Does.Contain("GLIBCXX_3.4.21"));
    }

    [Test]
    public void GarbageAndTruncatedFilesGiveAClearErrorAndAreLeftAlone()
    {
        string folder = Path.GetDirectoryName(CopyToTemp(PristineLibrary()))!;
        string garbage = Path.Combine(folder, "garbage.so");
        File.WriteAllText(garbage, "not an elf file at all, but long enough to have a header of sixty-four bytes....");
        var ex = Assert.Throws<InvalidDataException>(() => ElfVersionPatcher.PatchFile(garbage, Provided(Gcc12Versions)));
        Assert.That(ex!.Message, Does.Contain("garbage.so").And.Contain("not an ELF"));

        string truncated = Path.Combine(folder, "truncated.so");
        var bytes = File.ReadAllBytes(PristineLibrary());
        File.WriteAllBytes(truncated, bytes.AsSpan(0, 4096).ToArray());
        ex = Assert.Throws<InvalidDataException>(() => ElfVersionPatcher.PatchFile(truncated, Provided(Gcc12Versions)));
        Assert.That(ex!.Message, Does.Contain("truncated.so"));
        Assert.That(File.ReadAllBytes(truncated).Length, Is.EqualTo(4096));
    }
}
