namespace Transformer2.Training.Tasks;

/// <summary>One question of a task, with everything its scorer needs.</summary>
/// <param name="Id">A stable identifier (the dataset's id, or the row index when it has none).</param>
/// <param name="Prompt">The user-message text exactly as the authors build it (question, options, instruction).</param>
public sealed record TaskItem(string Id, string Prompt)
{
    /// <summary>Reference answers; the first is the gold answer. Empty when the dataset has none.</summary>
    public IReadOnlyList<string> References { get; init; } = [];

    /// <summary>The options of a multiple-choice item, in dataset order (position gives the letter).</summary>
    public IReadOnlyList<string>? Choices { get; init; }

    /// <summary>Code tasks: the dataset's original prompt (MBPP docstring or HumanEval signature).</summary>
    public string? SourcePrompt { get; init; }

    /// <summary>Code tasks: the function the tests call.</summary>
    public string? EntryPoint { get; init; }

    /// <summary>Code tasks: Python that runs after the solution and raises (or exits non-zero) when it is wrong.</summary>
    public string? TestCode { get; init; }

    /// <summary>Text the assistant turn starts with (the authors' "assistant prefill"), or <see langword="null"/>.</summary>
    public string? ResponsePrefix { get; init; }

    /// <summary>Vision tasks: the image the question is about (a file path), or <see langword="null"/>.</summary>
    public string? ImagePath { get; init; }

    /// <summary>
    /// Vision tasks: the image as encoded bytes (PNG, JPEG, …) held in memory, as Hugging Face's Parquet exports store it;
    /// used instead of <see cref="ImagePath"/> when set. Not copied: do not change the array afterwards.
    /// </summary>
    public byte[]? ImageBytes { get; init; }

    /// <summary>Other dataset fields kept for reports (MATH level and type, the full GSM8K solution, ...).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    /// <summary>The gold answer, or <see langword="null"/> when there is none.</summary>
    public string? Reference => References.Count > 0 ? References[0] : null;
}
