using System.Net;
using System.Net.Sockets;
using Transformer2.Training.Execution;

namespace Transformer2.Tests.Training.Execution;

[NonParallelizable]
[TestFixture(SandboxIsolation.Auto)]
[TestFixture(SandboxIsolation.ProcessOnly)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class PythonSandboxTests(SandboxIsolation isolation)
{
    private PythonSandbox _sandbox = null!;

    [OneTimeSetUp]
    public void CreateSandbox()
    {
        IgnoreUnlessPythonRuns();
        var options = Options();
        options.Isolation = isolation;
        _sandbox = new PythonSandbox(options);
        TestContext.Progress.WriteLine($"sandbox: {_sandbox.InterpreterPath}, namespaces={_sandbox.UsesNamespaces}, unprivileged={_sandbox.DropsPrivileges}");
    }

    // Machines without Linux or python3 cannot run these tests at all; anything else that goes wrong must fail them.
    internal static void IgnoreUnlessPythonRuns()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("The sandbox needs Linux.");
        }

        try
        {
            using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("python3", "-c pass") { UseShellExecute = false });
            if (p is null || !p.WaitForExit(20_000) || p.ExitCode != 0)
            {
                Assert.Ignore("python3 does not run on this machine.");
            }
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Ignore("python3 is not installed on this machine.");
        }
    }

    internal static PythonSandboxOptions Options() => new()
    {
        AllowUntrustedCodeExecution = true,
        TimeLimit = TimeSpan.FromSeconds(1.5),
        MemoryLimitBytes = 256L << 20,
        MaxProcesses = 8,
        MaxOutputBytes = 16 * 1024,
    };

    [Test]
    public void RefusesToRunWithoutTheOptIn()
    {
        var e = Assert.Throws<CodeExecutionNotEnabledException>(() => new PythonSandbox(new PythonSandboxOptions()));
        Assert.That(e!.Message, Does.Contain("AllowUntrustedCodeExecution = true"));
    }

    [Test]
    public async Task CorrectProgramRunsAndItsFolderIsDeleted()
    {
        var result = await _sandbox.RunAsync("import os\nprint('hello', 6 * 7)\nopen('inside.txt', 'w').write('ok')\nprint(open('inside.txt').read())\n");
        Assert.That(result.Succeeded, Is.True, result.Stderr);
        Assert.That(result.Stdout, Is.EqualTo("hello 42\nok\n"));
        Assert.That(Directory.Exists(result.WorkingDirectory), Is.False);
    }

    [Test]
    public async Task ExceptionsGiveNonZeroExit()
    {
        var result = await _sandbox.RunAsync("raise ValueError('boom')\n");
        Assert.That(result.Status, Is.EqualTo(SandboxStatus.Completed));
        Assert.That(result.ExitCode, Is.Not.EqualTo(0));
        Assert.That(result.Stderr, Does.Contain("ValueError: boom"));
    }

    [Test]
    public async Task InfiniteLoopIsKilledWithinTheLimit()
    {
        var result = await _sandbox.RunAsync("while True:\n    pass\n");
        Assert.That(result.Status, Is.EqualTo(SandboxStatus.TimedOut));
        Assert.That(result.Succeeded, Is.False);
        Assert.That(result.Elapsed, Is.LessThan(TimeSpan.FromSeconds(4)));
        Assert.That(LeftoverProcesses(result.WorkingDirectory), Is.Empty);
    }

    [Test]
    public async Task ProcessCountIsLimited()
    {
        const string code = """
import os, time
made = 0
for i in range(50):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    made += 1
print(made)
""";
        var result = await _sandbox.RunAsync(code);
        Assert.That(result.Succeeded, Is.True, result.Stderr);
        var made = int.Parse(result.Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(made, Is.LessThan(8), "children beyond MaxProcesses were created");
        Assert.That(LeftoverProcesses(result.WorkingDirectory), Is.Empty, "sleeping children outlived the run");
    }

    [Test]
    public async Task ForkBombIsContained()
    {
        const string code = """
import os, time
while True:
    try:
        os.fork()
    except OSError:
        time.sleep(0.01)
""";
        var result = await _sandbox.RunAsync(code);
        Assert.That(result.Status, Is.EqualTo(SandboxStatus.TimedOut));
        Assert.That(result.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
        Assert.That(LeftoverProcesses(result.WorkingDirectory), Is.Empty);
    }

    [Test]
    public async Task HugeOutputIsTruncatedAndTheRunStopped()
    {
        var result = await _sandbox.RunAsync("while True:\n    print('x' * 1000)\n");
        Assert.That(result.Status, Is.EqualTo(SandboxStatus.OutputLimitExceeded));
        Assert.That(result.OutputTruncated, Is.True);
        Assert.That(result.Stdout.Length + result.Stderr.Length, Is.LessThanOrEqualTo(16 * 1024));
        Assert.That(result.Stdout.Length, Is.GreaterThan(1000));
        Assert.That(result.Elapsed, Is.LessThan(TimeSpan.FromSeconds(4)));
    }

    [Test]
    public async Task WritesOutsideTheFolderFailAndHostFilesStayUntouched()
    {
        var hostDir = Path.Combine(Path.GetTempPath(), "t2-host-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(hostDir);
        try
        {
            // World-writable on purpose: only the sandbox, not file permissions, may stop the writes.
            File.SetUnixFileMode(hostDir, (UnixFileMode)0x1FF);
            var hostFile = Path.Combine(hostDir, "host.txt");
            File.WriteAllText(hostFile, "original");
            File.SetUnixFileMode(hostFile, (UnixFileMode)0x1B6);
            var newFile = Path.Combine(hostDir, "created.txt");
            var code = $$"""
import os, shutil
attempts = {
    "open": lambda: open({{Py(hostFile)}}, "w").write("pwned"),
    "append": lambda: open({{Py(hostFile)}}, "a").write("pwned"),
    "os.open": lambda: os.write(os.open({{Py(hostFile)}}, os.O_WRONLY | os.O_TRUNC), b"pwned"),
    "create": lambda: open({{Py(newFile)}}, "x").write("new"),
    "remove": lambda: os.remove({{Py(hostFile)}}),
    "rename": lambda: os.rename({{Py(hostFile)}}, "stolen.txt"),
    "symlink": lambda: os.symlink({{Py(hostFile)}}, "link.txt"),
    "subprocess": lambda: __import__("subprocess").run(["sh", "-c", "echo pwned > " + {{Py(hostFile)}}]),
    "os.system": lambda: os.system("echo pwned > " + {{Py(hostFile)}}),
}
for name, attempt in attempts.items():
    try:
        attempt()
        print(name, "WROTE")
    except OSError as e:
        print(name, "blocked")
open("inside.txt", "w").write("fine")
print("inside ok")
""";
            var result = await _sandbox.RunAsync(code);
            Assert.That(result.Succeeded, Is.True, result.Stderr);
            Assert.That(result.Stdout, Does.Not.Contain("WROTE"));
            Assert.That(result.Stdout, Does.Contain("inside ok"));
            Assert.That(File.ReadAllText(hostFile), Is.EqualTo("original"));
            Assert.That(File.Exists(newFile), Is.False);
        }
        finally
        {
            Directory.Delete(hostDir, recursive: true);
        }
    }

    [Test]
    public async Task NetworkConnectionsFail()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var code = $$"""
import socket
try:
    socket.create_connection(("127.0.0.1", {{port}}), timeout=1)
    print("CONNECTED")
except OSError as e:
    print("blocked")
try:
    socket.getaddrinfo("example.com", 80)
    print("RESOLVED")
except OSError as e:
    print("blocked")
""";
        var result = await _sandbox.RunAsync(code);
        Assert.That(result.Succeeded, Is.True, result.Stderr);
        Assert.That(result.Stdout, Is.EqualTo("blocked\nblocked\n"));
        Assert.That(listener.Pending(), Is.False);
    }

    [Test]
    public async Task MemoryHogIsStopped()
    {
        var result = await _sandbox.RunAsync("x = bytearray(2 * 1024 * 1024 * 1024)\nprint('ALLOCATED')\n");
        Assert.That(result.Succeeded, Is.False);
        Assert.That(result.Stdout, Does.Not.Contain("ALLOCATED"));
        Assert.That(result.Stderr, Does.Contain("MemoryError"));
        Assert.That(result.Elapsed, Is.LessThan(TimeSpan.FromSeconds(4)));
    }

    [Test]
    public void CancellationKillsTheRunAndDeletesItsFolder()
    {
        var root = Path.Combine(Path.GetTempPath(), "t2-cancel-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        try
        {
            var options = Options();
            options.Isolation = isolation;
            options.WorkingRoot = root;
            options.TimeLimit = TimeSpan.FromSeconds(20);
            var sandbox = new PythonSandbox(options);
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
            var started = System.Diagnostics.Stopwatch.StartNew();
            Assert.CatchAsync<OperationCanceledException>(() => sandbox.RunAsync("import time\ntime.sleep(30)\n", cancellationToken: cts.Token));
            Assert.That(started.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
            Assert.That(Directory.EnumerateFileSystemEntries(root), Is.Empty);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static string Py(string s) => "'" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";

    // Processes whose command line mentions the run's folder (the boot script lives there), i.e. survivors of the run.
    internal static List<int> LeftoverProcesses(string workDir)
    {
        Thread.Sleep(200);
        var survivors = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
                if (cmdline.Contains(workDir, StringComparison.Ordinal))
                {
                    survivors.Add(pid);
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return survivors;
    }
}
