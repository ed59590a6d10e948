using Transformer2.Models.Chat;
using Transformer2.Training.Tasks;

namespace Transformer2.Tests.Training.Tasks;

public class DelegateTaskTests
{
    private sealed class TagTemplate : IChatTemplate
    {
        public string Name => "tags";

        public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true)
            => string.Concat(messages.Select(m => $"<{m.Role}>{m.Content}</{m.Role}>")) + (addGenerationPrompt ? "<assistant>" : "");
    }

    [Test]
    public void UsersOwnPromptAndReward()
    {
        var items = new TaskSplits([new TaskItem("1", "Say hello")], [], [new TaskItem("2", "Say bye")], []);
        var task = DelegateTask.WithReward("greet", items, "Be polite.", (item, completion) => completion.Contains("hello", StringComparison.Ordinal) ? 0.5 : -2.0);
        Assert.That(task.Name, Is.EqualTo("greet"));
        Assert.That(task.GetItems(TaskSplit.Train).Single().Id, Is.EqualTo("1"));
        Assert.That(task.BuildMessages(items.Train[0]), Is.EqualTo(new[] { ChatMessage.System("Be polite."), ChatMessage.User("Say hello") }));
        var good = task.Score(items.Train[0], "hello there");
        Assert.That((good.Correct, good.Reward), Is.EqualTo((true, 0.5)));
        var bad = task.Score(items.Train[0], "go away");
        Assert.That((bad.Correct, bad.Reward), Is.EqualTo((false, -2.0)));
    }

    [Test]
    public void FullDelegatesAndPrefillRendering()
    {
        var task = new DelegateTask(
            "echo",
            TaskSplits.Empty,
            item => [ChatMessage.User(item.Prompt), ChatMessage.Assistant("Sure:")],
            (item, completion) => TaskScore.FromCorrect(completion.Trim() == item.Reference, completion.Trim()));
        var item = new TaskItem("1", "repeat x") { References = ["x"] };
        Assert.That(task.Score(item, " x ").Correct, Is.True);
        Assert.That(TaskPrompt.Render(new TagTemplate(), task.BuildMessages(item)), Is.EqualTo("<user>repeat x</user><assistant>Sure:"));
        Assert.That(TaskPrompt.Render(new TagTemplate(), [ChatMessage.User("hi")]), Is.EqualTo("<user>hi</user><assistant>"));
    }

    [Test]
    public async Task DefaultAsyncScoringMatchesSync()
    {
        ITask task = new Gsm8kTask([], []);
        var item = new TaskItem("1", "q") { References = ["#### 3"] };
        Assert.That((await task.ScoreAsync(item, "3")).Correct, Is.True);
    }

    [Test]
    public void NaNRewardIsRejected()
    {
        var task = DelegateTask.WithReward("nan", TaskSplits.Empty, null, (_, _) => double.NaN);
        var e = Assert.Throws<InvalidOperationException>(() => task.Score(new TaskItem("7", "p"), "c"));
        Assert.That(e!.Message, Does.Contain("'7'"));
    }
}
