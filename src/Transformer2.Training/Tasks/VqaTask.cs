using System.Globalization;
using Transformer2.Models.Chat;
using Transformer2.Models.Llava;

namespace Transformer2.Training.Tasks;

/// <summary>
/// Visual question answering (TextVQA, OKVQA): the user message is the image placeholder, the question and a short-answer
/// instruction; the score is the standard VQA accuracy (<see cref="VqaAccuracy"/>) of the completion's first line.
/// </summary>
/// <remarks>
/// The reward interpolates the task's reward scheme by the accuracy (±1 scheme: <c>2·acc − 1</c>); an answer counts as
/// correct when it earns full credit (at least three humans gave it). The image itself reaches the model through the
/// trainer's item inputs (<c>LlavaItemInputs</c>), from <see cref="TaskItem.ImageBytes"/> or <see cref="TaskItem.ImagePath"/>.
/// </remarks>
public sealed class VqaTask : TaskBase
{
    /// <summary>LLaVA-1.5's instruction for short VQA answers.</summary>
    public const string ShortAnswerInstruction = "Answer the question using a single word or phrase.";

    readonly string _instruction;

    /// <summary>Creates a VQA task.</summary>
    /// <param name="name">The task name (for example <c>textvqa</c>).</param>
    /// <param name="splits">Items with questions, human answers and image paths.</param>
    /// <param name="instruction">Appended on its own line after the question (empty for none).</param>
    /// <param name="generation">Generation settings (32 new tokens, greedy, by default).</param>
    /// <param name="rewards">Rewards for no and full credit (±1 by default).</param>
    public VqaTask(string name, TaskSplits splits, string instruction = ShortAnswerInstruction, GenerationSettings? generation = null, RewardScheme? rewards = null)
        : base(name, splits, generation ?? new GenerationSettings(32, 4096, []), rewards)
    {
        ArgumentNullException.ThrowIfNull(instruction);
        _instruction = instruction;
    }

    /// <summary>TextVQA with LLaVA's short-answer prompt.</summary>
    public static VqaTask TextVqa(TaskSplits splits) => new("textvqa", splits);

    /// <summary>OKVQA with LLaVA's short-answer prompt.</summary>
    public static VqaTask OkVqa(TaskSplits splits) => new("okvqa", splits);

    /// <inheritdoc />
    public override IReadOnlyList<ChatMessage> BuildMessages(TaskItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        string text = LlavaPrompt.ImagePlaceholder + "\n" + item.Prompt + (_instruction.Length > 0 ? "\n" + _instruction : "");
        return [ChatMessage.User(text)];
    }

    /// <inheritdoc />
    public override TaskScore Score(TaskItem item, string completion)
    {
        ArgumentNullException.ThrowIfNull(item);
        ArgumentNullException.ThrowIfNull(completion);
        if (item.References.Count == 0) throw new ArgumentException($"VQA item '{item.Id}' has no human answers to score against.", nameof(item));
        string answer = completion.Split('\n')[0].Trim();
        double accuracy = VqaAccuracy.Score(answer, item.References);
        double reward = Rewards.Wrong + accuracy * (Rewards.Correct - Rewards.Wrong);
        return new TaskScore(accuracy >= 1.0, reward, answer) { Detail = "vqa_accuracy=" + accuracy.ToString("R", CultureInfo.InvariantCulture) };
    }
}
