using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Transformer2.Training.Tasks;

/// <summary>
/// Loaders for the public file formats of the built-in tasks' datasets, from local JSON lines, JSON or Parquet files
/// (<see cref="DatasetRecords.Read"/>). Each returns items in file order; splits are made by the tasks.
/// </summary>
public static partial class TaskDatasets
{
    [GeneratedRegex(@"^\s*def\s+([A-Za-z_]\w*)\s*\(", RegexOptions.Multiline)]
    private static partial Regex DefName();

    [GeneratedRegex(@"([A-Za-z_]\w*)\s*\(")]
    private static partial Regex CallName();

    /// <summary>GSM8K (<c>question</c>, <c>answer</c> ending in <c>#### n</c>): prompt = question, reference = the answer field.</summary>
    public static IReadOnlyList<TaskItem> LoadGsm8k(string path)
        => Rows(path).Select((row, i) =>
        {
            var answer = Text(path, i, row, "answer");
            return new TaskItem(OptionalText(row, "id") ?? i.ToString(CultureInfo.InvariantCulture), Text(path, i, row, "question"))
            {
                References = [answer],
                Metadata = new Dictionary<string, string> { ["solution"] = answer },
            };
        }).ToList();

    /// <summary>
    /// MATH (<c>problem</c>, <c>solution</c>, <c>level</c>, <c>type</c>): prompt = problem, reference = the solution's last
    /// <c>\boxed{}</c> content (none when the solution has no box).
    /// </summary>
    public static IReadOnlyList<TaskItem> LoadMath(string path)
        => Rows(path).Select((row, i) =>
        {
            var solution = Text(path, i, row, "solution");
            var gold = MathAnswer.GoldFromSolution(solution);
            var metadata = new Dictionary<string, string> { ["solution"] = solution };
            foreach (var key in new[] { "level", "type" })
            {
                if (OptionalText(row, key) is { } value)
                {
                    metadata[key] = value;
                }
            }

            return new TaskItem(OptionalText(row, "unique_id") ?? OptionalText(row, "id") ?? i.ToString(CultureInfo.InvariantCulture), Text(path, i, row, "problem"))
            {
                References = gold is null ? [] : [gold],
                Metadata = metadata,
            };
        }).ToList();

    /// <summary>
    /// ARC, in the Hugging Face layout (<c>question</c> string, <c>choices{text[], label[]}</c>, <c>answerKey</c>) or the AI2
    /// JSON lines layout (<c>question{stem, choices[{text, label}]}</c>, <c>answerKey</c>). Prompt = <see cref="ArcTask.FormatQuestion"/>.
    /// </summary>
    public static IReadOnlyList<TaskItem> LoadArc(string path)
        => Rows(path).Select((row, i) =>
        {
            string question;
            List<string> options;
            if (row["question"] is JsonObject q)
            {
                question = Text(path, i, q, "stem");
                options = (q["choices"] as JsonArray ?? throw Missing(path, i, "question.choices"))
                    .Select((c, k) => c is JsonObject co ? Text(path, i, co, "text") : throw Bad(path, i, $"question.choices[{k}]", "is not an object"))
                    .ToList();
            }
            else
            {
                question = Text(path, i, row, "question");
                var choices = row["choices"] as JsonObject ?? throw Missing(path, i, "choices");
                options = StringList(path, i, choices, "text");
            }

            return new TaskItem(OptionalText(row, "id") ?? i.ToString(CultureInfo.InvariantCulture), ArcTask.FormatQuestion(question, options))
            {
                References = [Text(path, i, row, "answerKey")],
                Choices = options,
            };
        }).ToList();

    /// <summary>
    /// MBPP / MBPP+: the evalplus layout (<c>prompt</c> docstring with the first assert, <c>entry_point</c>,
    /// <c>canonical_solution</c>, <c>base_input</c>, <c>atol</c>, or <c>assertion</c>) or the original/Hugging Face layouts
    /// (<c>text</c> or <c>prompt</c>, <c>code</c>, <c>test_list</c>, <c>test_imports</c>/<c>test_setup_code</c>, <c>test</c>).
    /// Prompt = the authors' instruction (<see cref="CodeTask.MbppInstruction"/>); tests = the solution's outputs on
    /// <c>base_input</c> compared with the canonical solution's, else <c>assertion</c>, else <c>test_list</c>, else <c>test</c>.
    /// </summary>
    public static IReadOnlyList<TaskItem> LoadMbpp(string path)
        => Rows(path).Select((row, i) =>
        {
            var id = OptionalText(row, "task_id") ?? i.ToString(CultureInfo.InvariantCulture);
            var testList = row["test_list"] is JsonArray ? StringList(path, i, row, "test_list") : [];
            var setup = string.Join("\n", new[] { OptionalText(row, "test_setup_code") }
                .Concat(row["test_imports"] is JsonArray ? StringList(path, i, row, "test_imports") : [])
                .Where(s => !string.IsNullOrWhiteSpace(s)));
            // Base tests first (the authors score evalplus base tests): evalplus "base_input" checked against the canonical
            // solution's outputs, then "assertion", the original "test_list", and only then "test" (in the Hugging Face MBPP+
            // files it also runs the extra "plus" inputs).
            var entryPointField = OptionalText(row, "entry_point");
            var tests = ReferenceComparisonTests(row, entryPointField)
                ?? OptionalText(row, "assertion")
                ?? (testList.Count > 0 ? string.Join("\n", testList) : null)
                ?? OptionalText(row, "test")
                ?? throw Bad(path, i, "test", "is missing (also no 'base_input', 'assertion' or 'test_list')");
            if (setup.Length > 0)
            {
                tests = setup + "\n" + tests;
            }

            var prompt = OptionalText(row, "prompt");
            string sourcePrompt;
            if (prompt is not null && prompt.IndexOf("\"\"\"", StringComparison.Ordinal) is var first && first >= 0 && prompt.LastIndexOf("\"\"\"", StringComparison.Ordinal) > first)
            {
                sourcePrompt = prompt;
            }
            else
            {
                // The evalplus prompt is a docstring of the description and the first assertion; rebuild it from the plain layouts.
                var description = OptionalText(row, "text") ?? prompt ?? throw Missing(path, i, "prompt");
                var firstAssert = testList.FirstOrDefault() ?? FirstAssertLine(tests) ?? throw Bad(path, i, "test_list", "has no assert statement");
                sourcePrompt = "\"\"\"\n" + description + "\n" + firstAssert + "\n\"\"\"\n";
            }

            var entryPoint = entryPointField ?? DeriveEntryPoint(OptionalText(row, "code") ?? OptionalText(row, "canonical_solution"), tests)
                ?? throw Bad(path, i, "entry_point", "is missing and cannot be derived from 'code' and the tests");
            string instruction;
            try
            {
                instruction = CodeTask.MbppInstruction(sourcePrompt);
            }
            catch (ArgumentException e)
            {
                throw Bad(path, i, "prompt", e.Message);
            }

            return new TaskItem(id, instruction)
            {
                SourcePrompt = sourcePrompt,
                EntryPoint = entryPoint,
                TestCode = tests,
                ResponsePrefix = CodeTask.MbppResponsePrefix,
                Metadata = new Dictionary<string, string> { [CodeTask.DatasetKey] = CodeTask.Mbpp },
            };
        }).ToList();

    /// <summary>
    /// HumanEval / HumanEval+ (<c>task_id</c>, <c>prompt</c>, <c>test</c> defining <c>check(candidate)</c>, <c>entry_point</c>).
    /// Prompt = the authors' instruction; tests = <c>test</c> followed by <c>check(entry_point)</c>.
    /// </summary>
    public static IReadOnlyList<TaskItem> LoadHumanEval(string path)
        => Rows(path).Select((row, i) =>
        {
            var prompt = Text(path, i, row, "prompt");
            var entryPoint = Text(path, i, row, "entry_point");
            return new TaskItem(OptionalText(row, "task_id") ?? i.ToString(CultureInfo.InvariantCulture), CodeTask.HumanEvalInstruction(prompt))
            {
                SourcePrompt = prompt,
                EntryPoint = entryPoint,
                TestCode = Text(path, i, row, "test") + "\n\ncheck(" + entryPoint + ")\n",
                ResponsePrefix = CodeTask.HumanEvalResponsePrefix(prompt),
                Metadata = new Dictionary<string, string> { [CodeTask.DatasetKey] = CodeTask.HumanEval },
            };
        }).ToList();

    private static IReadOnlyList<JsonObject> Rows(string path) => DatasetRecords.Read(path);

    // evalplus rows (MbppPlus-v0.1.0.jsonl) carry base inputs and the canonical solution instead of asserts.
    private static string? ReferenceComparisonTests(JsonObject row, string? entryPoint)
    {
        if (entryPoint is null || row["base_input"] is not JsonArray inputs || OptionalText(row, "canonical_solution") is not { } canonical)
        {
            return null;
        }

        var atol = row["atol"] is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? v.GetValue<double>() : 0.0;
        return CodeTask.ReferenceComparisonTests(OptionalText(row, "prompt") + canonical, entryPoint, inputs.ToJsonString(), atol);
    }

    private static string? FirstAssertLine(string tests)
        => PyStr.SplitLines(tests).Select(PyStr.Strip).FirstOrDefault(l => l.StartsWith("assert", StringComparison.Ordinal));

    // The function the tests call: a name both defined in the reference code and called in the tests, else the first call
    // after "assert" in the tests.
    private static string? DeriveEntryPoint(string? code, string tests)
    {
        var called = FirstAssertLine(tests) is { } line ? CallName().Matches(line[6..]).Select(m => m.Groups[1].Value).ToList() : [];
        if (code is not null)
        {
            var defined = DefName().Matches(code).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
            if (called.FirstOrDefault(defined.Contains) is { } both)
            {
                return both;
            }
        }

        return called.FirstOrDefault(n => n is not ("set" or "sorted" or "list" or "tuple" or "abs" or "round" or "math" or "isclose" or "len" or "str" or "int" or "float"));
    }

    private static string Text(string path, int row, JsonObject obj, string key)
        => OptionalText(obj, key) ?? throw Missing(path, row, key);

    private static string? OptionalText(JsonObject obj, string key) => obj[key] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonValue v => v.ToJsonString(),
        _ => null,
    };

    private static List<string> StringList(string path, int row, JsonObject obj, string key)
    {
        var array = obj[key] as JsonArray ?? throw Missing(path, row, key);
        return array.Select((n, k) => n is JsonValue v && v.GetValueKind() == JsonValueKind.String
            ? v.GetValue<string>()
            : throw Bad(path, row, $"{key}[{k}]", "is not a string")).ToList();
    }

    private static InvalidDataException Missing(string path, int row, string key)
        => new($"Dataset file '{path}', row {row}: key '{key}' is missing or has the wrong type.");

    private static InvalidDataException Bad(string path, int row, string key, string problem)
        => new($"Dataset file '{path}', row {row}: '{key}' {problem}.");
}
