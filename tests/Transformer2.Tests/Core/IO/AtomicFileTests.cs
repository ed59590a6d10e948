using Transformer2.Core.IO;

namespace Transformer2.Tests.Core.IO;

public class AtomicFileTests
{
    [Test]
    public void WriteAllText_CreatesFileAndLeavesNoTemporaryFiles()
    {
        using var folder = new TempFolder();
        string path = folder.File("sub/a.txt");
        AtomicFile.WriteAllText(path, "héllo");
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(System.Text.Encoding.UTF8.GetBytes("héllo")), "UTF-8 without BOM");
        Assert.That(Directory.GetFiles(folder.File("sub")), Has.Length.EqualTo(1));
    }

    [Test]
    public void WriteAllBytes_ReplacesExistingContent()
    {
        using var folder = new TempFolder();
        string path = folder.File("a.bin");
        File.WriteAllBytes(path, new byte[100]);
        AtomicFile.WriteAllBytes(path, [1, 2, 3]);
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(new byte[] { 1, 2, 3 }));
        Assert.That(Directory.GetFiles(folder.Path), Has.Length.EqualTo(1));
    }

    [Test]
    public void FailingWrite_LeavesTargetUntouchedAndRemovesTemporaryFile()
    {
        using var folder = new TempFolder();
        string path = folder.File("a.txt");
        File.WriteAllText(path, "original");
        var error = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write(new byte[1000]);
            throw new InvalidOperationException("boom");
        }));
        Assert.That(error!.Message, Is.EqualTo("boom"));
        Assert.That(File.ReadAllText(path), Is.EqualTo("original"));
        Assert.That(Directory.GetFiles(folder.Path), Is.EqualTo(new[] { path }));
    }

    [Test]
    public void PathThatIsAFolder_IsRejected()
    {
        using var folder = new TempFolder();
        Assert.Throws<ArgumentException>(() => AtomicFile.WriteAllText(folder.Path, "x"));
    }
}
