using System.Globalization;

namespace Transformer2.Models.Generation;

/// <summary>How <see cref="TextGenerator"/> picks tokens and when it stops.</summary>
public sealed record GenerationOptions
{
    /// <summary>Most tokens to generate per row (the stop token, when one is hit, counts). Default 256.</summary>
    public int MaxNewTokens { get; init; } = 256;

    /// <summary>Softmax temperature; 0 (the default) picks the most likely token (greedy) and ignores the sampling options.</summary>
    public double Temperature { get; init; }

    /// <summary>Sample only among the <c>TopK</c> most likely tokens; 0 (the default) keeps all.</summary>
    public int TopK { get; init; }

    /// <summary>Nucleus sampling: keep the smallest set of most likely tokens whose probability reaches <c>TopP</c>; 1 (the default) keeps all.</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>
    /// Penalty on tokens already in the prompt or the output (as Hugging Face's <c>repetition_penalty</c>: positive logits are divided
    /// by it, negative ones multiplied); 1 (the default) is off.
    /// </summary>
    public double RepetitionPenalty { get; init; } = 1.0;

    /// <summary>Seed for sampling; the same seed, prompt and options give the same tokens. <see langword="null"/> uses torch's global generator.</summary>
    public long? Seed { get; init; }

    /// <summary>Token ids that end a row (the id is kept as the row's last token). <see langword="null"/> (the default) uses the model's <c>eos_token_id</c>s; empty disables.</summary>
    public IReadOnlyList<int>? StopTokenIds { get; init; }

    /// <summary>Texts that end a row once the decoded output contains one; needs a decoder (see <see cref="TextGenerator"/>).</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    /// <summary>Greedy decoding of at most <paramref name="maxNewTokens"/> tokens.</summary>
    public static GenerationOptions Greedy(int maxNewTokens = 256) => new() { MaxNewTokens = maxNewTokens };

    /// <summary>Throws if a value is out of range.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the message names the option.</exception>
    public void Validate()
    {
        static void Fail(string name, object? value, string rule) =>
            throw new ArgumentException($"GenerationOptions.{name} {rule} (got {Convert.ToString(value, CultureInfo.InvariantCulture) ?? "null"}).", name);

        if (MaxNewTokens <= 0) Fail(nameof(MaxNewTokens), MaxNewTokens, "must be positive");
        if (!double.IsFinite(Temperature) || Temperature < 0) Fail(nameof(Temperature), Temperature, "must be 0 (greedy) or a positive number");
        if (TopK < 0) Fail(nameof(TopK), TopK, "must be 0 (off) or positive");
        if (!(TopP > 0 && TopP <= 1)) Fail(nameof(TopP), TopP, "must be in (0, 1]");
        if (!double.IsFinite(RepetitionPenalty) || RepetitionPenalty <= 0) Fail(nameof(RepetitionPenalty), RepetitionPenalty, "must be a positive number (1 is off)");
        if (StopStrings is null) Fail(nameof(StopStrings), null, "must not be null");
        foreach (string stop in StopStrings!)
            if (string.IsNullOrEmpty(stop)) Fail(nameof(StopStrings), stop, "must not contain empty strings");
        if (StopTokenIds is not null)
            foreach (int id in StopTokenIds)
                if (id < 0) Fail(nameof(StopTokenIds), id, "must not contain negative ids");
    }
}
