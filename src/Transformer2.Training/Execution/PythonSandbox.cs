using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Transformer2.Training.Execution;

/// <summary>
/// Runs untrusted Python (model-generated code) in a separate <c>python3</c> process, only after the user opts in
/// (<see cref="PythonSandboxOptions.AllowUntrustedCodeExecution"/>).
/// </summary>
/// <remarks>
/// <para>Every run gets a fresh working folder (deleted afterwards), an empty environment, stdin at end of file, and:</para>
/// <list type="bullet">
/// <item>a wall-clock limit after which all its processes are killed (a PID namespace when available, else its process group),
/// plus RLIMIT_CPU as a backstop;</item>
/// <item>RLIMIT_AS (memory), RLIMIT_FSIZE (file size), RLIMIT_NPROC (processes; when the host runs as root the run switches to
/// an unused user id first, because root ignores RLIMIT_NPROC), and a cap on stdout+stderr (the run is killed past it);</item>
/// <item>a network namespace with no interfaces up when <c>unshare</c> works here (root, or unprivileged user namespaces);</item>
/// <item>an audit hook installed before the program starts that refuses writes, renames and deletions outside the working folder,
/// socket connect/bind/DNS, starting other programs, loading native libraries through ctypes and the gc introspection that could
/// reach the hook.</item>
/// </list>
/// <para>What is guaranteed: with namespaces and root, the program cannot reach the network, cannot outlive its time limit, cannot
/// create more than the process limit, and runs as an unprivileged user, so the kernel refuses writes to files the host owns.
/// What is not: the audit hook is a Python-level policy (PEP 578 says hooks are not a security boundary; memory tricks through
/// ctypes could disable it). Without namespaces (<see cref="SandboxIsolation.ProcessOnly"/>, or no <c>unshare</c>) network and
/// file-write blocking rest on that hook alone, and a non-root host user's own files are writable by the kernel's rules. Reading
/// world-readable host files is always possible. For hostile workloads run the host process itself in a container or VM.</para>
/// </remarks>
public sealed class PythonSandbox
{
    private const string MainFile = "main.py";
    private static int s_runCounter;
    private readonly PythonSandboxOptions _options;
    private readonly ILogger _logger;
    private readonly bool _isRoot;

    /// <summary>Creates a sandbox; probes the interpreter and which isolation works on this machine.</summary>
    /// <exception cref="CodeExecutionNotEnabledException"><see cref="PythonSandboxOptions.AllowUntrustedCodeExecution"/> is not set.</exception>
    /// <exception cref="ArgumentException">A limit is not positive.</exception>
    /// <exception cref="InvalidOperationException">The interpreter cannot be started, or namespaces are required but unavailable.</exception>
    public PythonSandbox(PythonSandboxOptions options, ILogger<PythonSandbox>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!options.AllowUntrustedCodeExecution)
        {
            throw new CodeExecutionNotEnabledException();
        }

        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("PythonSandbox needs Linux (rlimits, namespaces, process groups).");
        }

        if (options.TimeLimit <= TimeSpan.Zero || options.MemoryLimitBytes <= 0 || options.MaxProcesses <= 0 || options.MaxOutputBytes <= 0 || options.MaxFileSizeBytes <= 0)
        {
            throw new ArgumentException("PythonSandboxOptions: TimeLimit, MemoryLimitBytes, MaxProcesses, MaxOutputBytes and MaxFileSizeBytes must be positive.", nameof(options));
        }

        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _isRoot = NativeMethods.GetEffectiveUserId() == 0;
        InterpreterPath = ResolveInterpreter(options.PythonExecutable);
        if (_isRoot)
        {
            DropsPrivileges = CanRunUnprivileged(InterpreterPath);
            if (!DropsPrivileges && options.PythonExecutable == "python3" && File.Exists("/usr/bin/python3") && CanRunUnprivileged("/usr/bin/python3"))
            {
                // A per-user install under /root is unreadable once privileges are dropped; the system interpreter is not.
                InterpreterPath = "/usr/bin/python3";
                DropsPrivileges = true;
            }

            if (!DropsPrivileges)
            {
                _logger.LogWarning("PythonSandbox: {Interpreter} cannot run as an unprivileged user; runs stay root and RLIMIT_NPROC does not apply to root.", InterpreterPath);
            }
        }

        UsesNamespaces = options.Isolation != SandboxIsolation.ProcessOnly && NamespacesWork();
        if (options.Isolation == SandboxIsolation.Namespaces && !UsesNamespaces)
        {
            throw new InvalidOperationException("PythonSandbox: namespace isolation was required but 'unshare --net --pid' does not work on this machine.");
        }

        _logger.LogInformation("PythonSandbox ready: interpreter {Interpreter}, namespaces {Namespaces}, unprivileged user {Drop}.", InterpreterPath, UsesNamespaces, DropsPrivileges);
    }

    /// <summary>The interpreter runs use.</summary>
    public string InterpreterPath { get; }

    /// <summary>Whether runs get their own network and PID namespaces.</summary>
    public bool UsesNamespaces { get; }

    /// <summary>Whether runs switch from root to an unprivileged user id.</summary>
    public bool DropsPrivileges { get; }

    /// <summary>The options in force.</summary>
    public PythonSandboxOptions Options => _options;

    /// <summary>Runs <paramref name="code"/> as <c>main.py</c> in a fresh working folder that also holds <paramref name="files"/>.</summary>
    /// <param name="code">The Python program.</param>
    /// <param name="files">Extra files (relative name → UTF-8 text) written next to it, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the run (its processes are killed and its folder deleted).</param>
    public async Task<SandboxResult> RunAsync(string code, IReadOnlyDictionary<string, string>? files = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(code);
        var root = _options.WorkingRoot ?? Path.GetTempPath();
        var workDir = Path.Combine(Path.GetFullPath(root), "t2-sandbox-" + Guid.NewGuid().ToString("N"));
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("PythonSandbox needs Linux.");
        }

        Directory.CreateDirectory(workDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            await File.WriteAllTextAsync(Path.Combine(workDir, MainFile), code, cancellationToken).ConfigureAwait(false);
            await File.WriteAllTextAsync(Path.Combine(workDir, SandboxBoot.FileName), SandboxBoot.Source, cancellationToken).ConfigureAwait(false);
            foreach (var (name, content) in files ?? new Dictionary<string, string>())
            {
                var target = Path.GetFullPath(Path.Combine(workDir, name));
                if (!target.StartsWith(workDir + Path.DirectorySeparatorChar, StringComparison.Ordinal) || name == SandboxBoot.FileName || name == MainFile)
                {
                    throw new ArgumentException($"Sandbox file name '{name}' must be a plain relative path other than {MainFile} and {SandboxBoot.FileName}.", nameof(files));
                }

                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                await File.WriteAllTextAsync(target, content, cancellationToken).ConfigureAwait(false);
            }

            int? userId = null;
            if (_isRoot && DropsPrivileges)
            {
                userId = _options.UnprivilegedUserIdBase + (Interlocked.Increment(ref s_runCounter) % 1000);
                ChownTree(workDir, userId.Value);
            }

            return await RunProcessAsync(workDir, userId, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            DeleteTree(workDir);
        }
    }

    private async Task<SandboxResult> RunProcessAsync(string workDir, int? userId, CancellationToken cancellationToken)
    {
        // RLIMIT_NPROC counts the tasks of the real user id. A fresh unprivileged user id, or (Linux 5.14+) a fresh user
        // namespace, starts from zero; otherwise the run's allowance comes on top of what the host user already runs.
        var freshCount = userId is not null || (UsesNamespaces && !_isRoot);
        var processLimit = freshCount ? _options.MaxProcesses : CountTasksOfRealUser() + _options.MaxProcesses;
        var config = JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["dir"] = workDir,
            ["mem"] = _options.MemoryLimitBytes,
            ["fsize"] = _options.MaxFileSizeBytes,
            ["cpu"] = (long)Math.Ceiling(_options.TimeLimit.TotalSeconds) + 1,
            ["nproc"] = processLimit,
            ["uid"] = userId,
            ["setsid"] = true,
        });
        var psi = new ProcessStartInfo
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workDir,
        };
        if (UsesNamespaces)
        {
            psi.FileName = "unshare";
            foreach (var arg in NamespaceArguments())
            {
                psi.ArgumentList.Add(arg);
            }

            psi.ArgumentList.Add(InterpreterPath);
        }
        else
        {
            psi.FileName = InterpreterPath;
        }

        foreach (var arg in new[] { "-I", "-B", Path.Combine(workDir, SandboxBoot.FileName), config })
        {
            psi.ArgumentList.Add(arg);
        }

        psi.Environment.Clear();
        psi.Environment["PATH"] = "/usr/local/bin:/usr/bin:/bin";
        psi.Environment["HOME"] = workDir;
        psi.Environment["TMPDIR"] = workDir;
        psi.Environment["LANG"] = "C.UTF-8";
        psi.Environment["OPENBLAS_NUM_THREADS"] = "1";
        psi.Environment["OMP_NUM_THREADS"] = "1";
        psi.Environment["MKL_NUM_THREADS"] = "1";

        var stopwatch = Stopwatch.StartNew();
        using var process = new Process { StartInfo = psi };
        if (!process.Start())
        {
            throw new InvalidOperationException($"PythonSandbox: could not start '{psi.FileName}'.");
        }

        process.StandardInput.Close();
        var budget = new OutputBudget(_options.MaxOutputBytes);
        using var readCts = new CancellationTokenSource();
        var stdout = new MemoryStream();
        var stderr = new MemoryStream();
        var readOut = PumpAsync(process.StandardOutput.BaseStream, stdout, budget, readCts.Token);
        var readErr = PumpAsync(process.StandardError.BaseStream, stderr, budget, readCts.Token);

        var exited = process.WaitForExitAsync(CancellationToken.None);
        var timeout = Task.Delay(_options.TimeLimit, CancellationToken.None);
        var cancelled = Task.Delay(Timeout.Infinite, cancellationToken);
        var first = await Task.WhenAny(exited, timeout, budget.Exceeded, cancelled).ConfigureAwait(false);
        var status = SandboxStatus.Completed;
        if (first != exited)
        {
            status = first == budget.Exceeded ? SandboxStatus.OutputLimitExceeded : SandboxStatus.TimedOut;
            KillAll(process);
            await Task.WhenAny(exited, Task.Delay(TimeSpan.FromSeconds(5), CancellationToken.None)).ConfigureAwait(false);
        }
        else if (!UsesNamespaces)
        {
            // The program is gone; children it left in its process group go with it.
            NativeMethods.Kill(-process.Id, NativeMethods.SigKill);
        }

        stopwatch.Stop();

        // Pipes close when the last holder dies; don't wait on a stray holder forever.
        var drained = Task.WhenAll(readOut, readErr);
        if (await Task.WhenAny(drained, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)).ConfigureAwait(false) != drained)
        {
            await readCts.CancelAsync().ConfigureAwait(false);
        }

        if (budget.Overflowed && status == SandboxStatus.Completed && !process.HasExited)
        {
            status = SandboxStatus.OutputLimitExceeded;
        }

        cancellationToken.ThrowIfCancellationRequested();
        int? exitCode = status == SandboxStatus.Completed && process.HasExited ? process.ExitCode : null;
        return new SandboxResult(status, exitCode, Decode(stdout), Decode(stderr), budget.Overflowed, stopwatch.Elapsed, workDir);
    }

    private IEnumerable<string> NamespaceArguments()
    {
        if (!_isRoot)
        {
            yield return "--user";
            yield return "--map-root-user";
        }

        yield return "--net";
        yield return "--pid";
        yield return "--fork";
        yield return "--kill-child";
        yield return "--";
    }

    private void KillAll(Process process)
    {
        if (!UsesNamespaces)
        {
            NativeMethods.Kill(-process.Id, NativeMethods.SigKill);
        }

        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            _logger.LogWarning(e, "PythonSandbox: killing process {Pid} failed.", process.Id);
        }
    }

    private static async Task PumpAsync(Stream source, MemoryStream sink, OutputBudget budget, CancellationToken cancellationToken)
    {
        var buffer = new byte[8192];
        try
        {
            int n;
            while ((n = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                var keep = budget.Take(n);
                sink.Write(buffer, 0, keep);
                if (keep < n)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (IOException)
        {
        }
    }

    private static string Decode(MemoryStream stream) => Encoding.UTF8.GetString(stream.GetBuffer(), 0, (int)stream.Length);

    private static string ResolveInterpreter(string executable)
    {
        var result = RunQuick(executable, ["-c", "import sys; print(sys.executable)"]);
        if (result is not { ExitCode: 0 } || string.IsNullOrWhiteSpace(result.Value.Output))
        {
            throw new InvalidOperationException($"PythonSandbox: the interpreter '{executable}' could not be started.");
        }

        return result.Value.Output.Trim();
    }

    private bool CanRunUnprivileged(string interpreter)
    {
        var uid = _options.UnprivilegedUserIdBase.ToString(CultureInfo.InvariantCulture);
        var probe = $"import os; os.setgroups([]); os.setgid({uid}); os.setuid({uid}); import json, re, math, collections, itertools, functools, heapq";
        return RunQuick(interpreter, ["-I", "-B", "-c", probe]) is { ExitCode: 0 };
    }

    private bool NamespacesWork()
    {
        var args = NamespaceArguments().Append(InterpreterPath).Concat(["-I", "-c", "pass"]).ToArray();
        return RunQuick("unshare", args) is { ExitCode: 0 };
    }

    private static (int ExitCode, string Output)? RunQuick(string fileName, IReadOnlyList<string> arguments)
    {
        try
        {
            var psi = new ProcessStartInfo(fileName) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in arguments)
            {
                psi.ArgumentList.Add(a);
            }

            using var p = Process.Start(psi);
            if (p is null)
            {
                return null;
            }

            var output = p.StandardOutput.ReadToEndAsync();
            _ = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(TimeSpan.FromSeconds(20)))
            {
                p.Kill(entireProcessTree: true);
                return null;
            }

            return (p.ExitCode, output.GetAwaiter().GetResult());
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    // RLIMIT_NPROC counts every task of the real user id, so a non-root run's limit is today's count plus the allowance.
    private static int CountTasksOfRealUser()
    {
        var uid = NativeMethods.GetRealUserId().ToString(CultureInfo.InvariantCulture);
        var total = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(dir);
            if (name.Length == 0 || !char.IsAsciiDigit(name[0]))
            {
                continue;
            }

            try
            {
                string? uidLine = null, threadsLine = null;
                foreach (var line in File.ReadLines(Path.Combine(dir, "status")))
                {
                    if (line.StartsWith("Uid:", StringComparison.Ordinal))
                    {
                        uidLine = line;
                    }
                    else if (line.StartsWith("Threads:", StringComparison.Ordinal))
                    {
                        threadsLine = line;
                    }
                }

                if (uidLine?.Split('\t', StringSplitOptions.RemoveEmptyEntries) is [_, var real, ..] && real == uid
                    && threadsLine?.Split('\t', StringSplitOptions.RemoveEmptyEntries) is [_, var threads, ..])
                {
                    total += int.Parse(threads, CultureInfo.InvariantCulture);
                }
            }
            catch (IOException)
            {
                // The process ended while we looked.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return total;
    }

    private static void ChownTree(string dir, int userId)
    {
        foreach (var path in Directory.EnumerateFileSystemEntries(dir, "*", SearchOption.AllDirectories).Prepend(dir))
        {
            if (Path.GetFileName(path) == SandboxBoot.FileName)
            {
                continue;
            }

            if (NativeMethods.Chown(path, userId, userId) != 0)
            {
                throw new IOException($"PythonSandbox: chown of '{path}' to {userId} failed (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}).");
            }
        }
    }

    private void DeleteTree(string dir)
    {
        for (var attempt = 0; attempt < 3 && Directory.Exists(dir); attempt++)
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The program may have left folders without permissions; give them back and retry.
                foreach (var sub in Directory.EnumerateDirectories(dir, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true }).Prepend(dir))
                {
                    try
                    {
                        if (OperatingSystem.IsWindows())
                        {
                            break;
                        }

                        File.SetUnixFileMode(sub, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                    }
                    catch (Exception inner) when (inner is IOException or UnauthorizedAccessException)
                    {
                    }
                }

                if (attempt == 2)
                {
                    _logger.LogWarning(e, "PythonSandbox: could not delete working folder {Dir}.", dir);
                }
            }
        }
    }

    private sealed class OutputBudget(int limit)
    {
        private readonly TaskCompletionSource _exceeded = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _used;

        public Task Exceeded => _exceeded.Task;

        public bool Overflowed => _exceeded.Task.IsCompleted;

        public int Take(int requested)
        {
            lock (_exceeded)
            {
                var granted = Math.Min(requested, limit - _used);
                _used += granted;
                if (granted < requested)
                {
                    _exceeded.TrySetResult();
                }

                return granted;
            }
        }
    }
}
