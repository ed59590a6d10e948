using System.Text.Json;
using Transformer2.Models.Chat;
using Transformer2.Training.Execution;

namespace Transformer2.Training.Tasks;

/// <summary>
/// MBPP+ with HumanEval+ as transfer, as the authors run it (t2-reference §5.4): the first 300 MBPP problems are shuffled with
/// Python's <c>random.seed(16)</c> into 200 train and 100 valid, the rest is test, HumanEval is transfer. A completion is
/// correct when the generated program passes the item's tests inside <see cref="PythonSandbox"/>.
/// </summary>
/// <remarks>
/// Scoring follows evalplus base tests where the dataset allows: with <c>base_input</c> and <c>canonical_solution</c> (evalplus
/// files) the solution's outputs are compared with the canonical solution's (<see cref="ReferenceComparisonTests"/>); other
/// layouts run the dataset's test code (asserts or <c>check(candidate)</c>). Unlike evalplus, the time limit is the sandbox's
/// (not 4× the canonical time, at least 0.2 s) and evalplus's per-task special oracles are not reproduced. Code runs only with a sandbox the user created with
/// <see cref="PythonSandboxOptions.AllowUntrustedCodeExecution"/>; without one, scoring throws <see cref="CodeExecutionNotEnabledException"/>.
/// </remarks>
public sealed class CodeTask : TaskBase
{
    /// <summary>The authors' system message (sic: two spaces before "consistently").</summary>
    public const string SystemPrompt = "You are an exceptionally intelligent coding assistant that  consistently delivers accurate and reliable responses to user instructions.";

    /// <summary>The <see cref="TaskItem.Metadata"/> key naming an item's dataset (<see cref="Mbpp"/> or <see cref="HumanEval"/>).</summary>
    public const string DatasetKey = "dataset";

    /// <summary>Dataset name of MBPP items: the solution is sanitised from prompt + completion.</summary>
    public const string Mbpp = "mbpp";

    /// <summary>Dataset name of HumanEval items: the solution is prompt + completion, unsanitised.</summary>
    public const string HumanEval = "humaneval";

    /// <summary>The MBPP assistant prefill.</summary>
    public const string MbppResponsePrefix = "```python";

    /// <summary>The line the harness prints after every test passed.</summary>
    internal const string PassedSentinel = "__T2_ALL_TESTS_PASSED__";

    private const string SpecFile = "_t2_solution.json";
    private const int MbppTrainPool = 300;
    private const int MbppTrainCount = 200;
    private const int MbppShuffleSeed = 16;
    private readonly PythonSandbox? _sandbox;

    /// <summary>Creates the task.</summary>
    /// <param name="mbppItems">MBPP+ items in dataset order (399 in the authors' evalplus version).</param>
    /// <param name="humanEvalItems">HumanEval+ items (transfer), or <see langword="null"/>.</param>
    /// <param name="sandbox">The sandbox to run generated code in; <see langword="null"/> makes scoring throw.</param>
    /// <param name="rewards">Rewards (±1 when <see langword="null"/>).</param>
    public CodeTask(IReadOnlyList<TaskItem> mbppItems, IReadOnlyList<TaskItem>? humanEvalItems, PythonSandbox? sandbox, RewardScheme? rewards = null)
        : base("mbpp2", BuildSplits(mbppItems, humanEvalItems), GenerationSettings.Short, rewards)
    {
        _sandbox = sandbox;
    }

    /// <summary>Loads MBPP and (optionally) HumanEval files with <see cref="TaskDatasets"/>.</summary>
    public static CodeTask FromFiles(string mbppPath, string? humanEvalPath, PythonSandbox? sandbox, RewardScheme? rewards = null)
        => new(TaskDatasets.LoadMbpp(mbppPath), humanEvalPath is null ? null : TaskDatasets.LoadHumanEval(humanEvalPath), sandbox, rewards);

    /// <summary>
    /// The authors' MBPP instruction: the text between the first and last <c>"""</c> of the evalplus prompt, cut at the first
    /// <c>assert</c>, ending in a full stop, then <c>" Your code should satisfy the following assertion:\n```python\n{assert}\n```"</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The prompt has no docstring or no <c>assert</c>.</exception>
    public static string MbppInstruction(string evalplusPrompt)
    {
        ArgumentNullException.ThrowIfNull(evalplusPrompt);
        var start = evalplusPrompt.IndexOf("\"\"\"", StringComparison.Ordinal);
        var end = evalplusPrompt.LastIndexOf("\"\"\"", StringComparison.Ordinal);
        if (start < 0 || end < start + 3)
        {
            throw new ArgumentException("MBPP prompt has no \"\"\"-delimited docstring.", nameof(evalplusPrompt));
        }

        var inner = evalplusPrompt[(start + 3)..end];
        var assertAt = inner.IndexOf("assert", StringComparison.Ordinal);
        if (assertAt < 0)
        {
            throw new ArgumentException("MBPP prompt docstring has no 'assert'.", nameof(evalplusPrompt));
        }

        var instruction = PyStr.Strip(inner[..assertAt]);
        if (!instruction.EndsWith('.'))
        {
            instruction += ".";
        }

        var assertion = PyStr.Strip(inner[assertAt..]);
        return $"{instruction} Your code should satisfy the following assertion:\n```python\n{assertion}\n```";
    }

    /// <summary>The authors' HumanEval instruction: <c>"Write a solution to the following problem:\n```python\n{prompt.strip()}\n```"</c>.</summary>
    public static string HumanEvalInstruction(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return $"Write a solution to the following problem:\n```python\n{PyStr.Strip(prompt)}\n```";
    }

    /// <summary>The authors' HumanEval prefill: <c>"```python\n{prompt.strip()}"</c>.</summary>
    public static string HumanEvalResponsePrefix(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return "```python\n" + PyStr.Strip(prompt);
    }

    /// <summary>The completion up to its first <c>```</c> (the authors keep the rest as "explanation").</summary>
    public static string CompletionBody(string completion)
    {
        ArgumentNullException.ThrowIfNull(completion);
        var fence = completion.IndexOf("```", StringComparison.Ordinal);
        return fence >= 0 ? completion[..fence] : completion;
    }

    /// <inheritdoc />
    public override IReadOnlyList<ChatMessage> BuildMessages(TaskItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        var messages = new List<ChatMessage> { ChatMessage.System(SystemPrompt), ChatMessage.User(item.Prompt) };
        if (item.ResponsePrefix is not null)
        {
            messages.Add(ChatMessage.Assistant(item.ResponsePrefix));
        }

        return messages;
    }

    /// <inheritdoc />
    public override TaskScore Score(TaskItem item, string completion)
        => ScoreAsync(item, completion).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc />
    public override async ValueTask<TaskScore> ScoreAsync(TaskItem item, string completion, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(item);
        ArgumentNullException.ThrowIfNull(completion);
        if (_sandbox is null)
        {
            throw new CodeExecutionNotEnabledException();
        }

        var (program, spec) = BuildProgram(item, completion);
        var result = await _sandbox.RunAsync(program, new Dictionary<string, string> { [SpecFile] = spec }, cancellationToken).ConfigureAwait(false);
        var passed = result.Succeeded && result.Stdout.Contains(PassedSentinel, StringComparison.Ordinal);
        var detail = passed ? "passed" : $"{result.Status}, exit {result.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}: {Tail(result.Stderr)}";
        return Verdict(passed, CompletionBody(completion)) with { Detail = detail };
    }

    /// <summary>The harness program and its data file for one completion (MBPP sanitised, HumanEval prompt + completion).</summary>
    internal static (string Program, string Spec) BuildProgram(TaskItem item, string completion)
    {
        var entryPoint = item.EntryPoint ?? throw new ArgumentException($"Code item '{item.Id}' has no entry point.", nameof(item));
        var tests = item.TestCode ?? throw new ArgumentException($"Code item '{item.Id}' has no test code.", nameof(item));
        var source = item.SourcePrompt ?? string.Empty;
        var body = CompletionBody(completion);
        CodeSanitizer.Pieces pieces;
        if (IsHumanEval(item))
        {
            pieces = new CodeSanitizer.Pieces(source + body, []);
        }
        else
        {
            pieces = CodeSanitizer.Sanitize(PyStr.Strip(source + "\n" + body), entryPoint);
        }

        var spec = JsonSerializer.Serialize(new
        {
            head = pieces.Head,
            functions = pieces.Functions.Select(f => new object[] { f.Body, f.AlwaysKeep }).ToArray(),
            tests,
        });
        return (HarnessSource, spec);
    }

    /// <summary>
    /// Test code in the manner of evalplus base tests: runs <paramref name="referenceSource"/> in its own namespace, then for
    /// every input of <paramref name="inputsJson"/> (a JSON array of argument lists) compares the solution's
    /// <paramref name="entryPoint"/> with the reference's output: exact equality, or for floats (and lists/tuples of them)
    /// closeness with relative 1e-7 and absolute <paramref name="atol"/>. evalplus's per-task special oracles and input
    /// deserialisers for a few MBPP tasks are not reproduced.
    /// </summary>
    public static string ReferenceComparisonTests(string referenceSource, string entryPoint, string inputsJson, double atol)
    {
        ArgumentNullException.ThrowIfNull(referenceSource);
        ArgumentException.ThrowIfNullOrWhiteSpace(entryPoint);
        ArgumentNullException.ThrowIfNull(inputsJson);
        if (!System.Text.RegularExpressions.Regex.IsMatch(entryPoint, @"^[A-Za-z_][A-Za-z0-9_]*$"))
        {
            throw new ArgumentException($"Entry point '{entryPoint}' is not a Python identifier.", nameof(entryPoint));
        }

        static string B64(string text) => Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(text));
        var atolText = atol.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        return $$"""
import base64 as _t2_b64, copy as _t2_copy, json as _t2_json, math as _t2_math
def _t2_close(out, exp, atol):
    if isinstance(exp, float) or isinstance(out, float):
        if not isinstance(out, (int, float)) or not isinstance(exp, (int, float)) or isinstance(out, bool) != isinstance(exp, bool):
            return False
        return out == exp or _t2_math.isclose(out, exp, rel_tol=1e-07, abs_tol=atol)
    if isinstance(exp, (list, tuple)) and isinstance(out, (list, tuple)) and type(out) == type(exp):
        return len(out) == len(exp) and all(_t2_close(o, e, atol) for o, e in zip(out, exp))
    return out == exp
_t2_reference = {}
exec(compile(_t2_b64.b64decode("{{B64(referenceSource)}}").decode("utf-8"), "reference.py", "exec"), _t2_reference)
for _t2_input in _t2_json.loads(_t2_b64.b64decode("{{B64(inputsJson)}}").decode("utf-8")):
    _t2_expected = _t2_reference["{{entryPoint}}"](*_t2_copy.deepcopy(_t2_input))
    _t2_output = {{entryPoint}}(*_t2_copy.deepcopy(_t2_input))
    assert _t2_close(_t2_output, _t2_expected, {{atolText}}), "wrong output for input %r" % (_t2_input,)
""";
    }

    // Items say which dataset they come from; without that, HumanEval items are told apart by their signature prefill.
    private static bool IsHumanEval(TaskItem item)
        => item.Metadata.TryGetValue(DatasetKey, out var dataset)
            ? dataset == HumanEval
            : item.ResponsePrefix is { } p && p != MbppResponsePrefix;

    private static string Tail(string text) => text.Length <= 300 ? text.Trim() : text[^300..].Trim();

    private static TaskSplits BuildSplits(IReadOnlyList<TaskItem> mbppItems, IReadOnlyList<TaskItem>? humanEvalItems)
    {
        ArgumentNullException.ThrowIfNull(mbppItems);
        var pool = mbppItems.Take(MbppTrainPool).ToArray();
        var (train, valid) = TaskSplitRules.PythonShuffle(pool, MbppShuffleSeed, MbppTrainCount);
        return new TaskSplits(train, valid, mbppItems.Skip(MbppTrainPool).ToArray(), humanEvalItems ?? []);
    }

    // Joins the sanitised pieces (keeping helpers only when they parse, the authors' syntax_check), runs the solution, then
    // the tests, in a fresh namespace. Exiting early is refused so that exit code 0 means the tests ran to the end.
    private const string HarnessSource = """
import ast as _ast, json as _json, os as _os, sys as _sys

def _t2_main():
    with open("_t2_solution.json", encoding="utf-8") as f:
        spec = _json.load(f)

    def parses(src):
        try:
            _ast.parse(src)
            return True
        except (SyntaxError, MemoryError, ValueError, RecursionError):
            return False

    parts = [spec["head"]] + [body for body, keep in spec["functions"] if keep or parses("\ndef " + body)]
    solution = "\ndef ".join(parts).strip()
    real_exit = _os._exit

    def refused(*args, **kwargs):
        raise RuntimeError("exiting early is not allowed")

    _os._exit = refused
    namespace = {}
    try:
        exec(compile(solution, "solution.py", "exec"), namespace)
        exec(compile(spec["tests"], "tests.py", "exec"), namespace)
    except SystemExit:
        _sys.stderr.write("solution or tests called exit()\n")
        real_exit(3)
    _sys.stdout.flush()
    _sys.stdout.write("\n__T2_ALL_TESTS_PASSED__\n")
    _sys.stdout.flush()

_t2_main()
""";
}
