using Spectre.Console;
using Transformer2.Demo.Tasks;

namespace Transformer2.Demo;

/// <summary>
/// Output of the long stages: Spectre.Console progress bars on an interactive terminal, plain timestamped lines when the
/// output is redirected (CI logs, files), where redrawn bars would only add noise.
/// </summary>
internal sealed class DemoConsole
{
    readonly ProgressContext? _bars;

    DemoConsole(ProgressContext? bars) => _bars = bars;

    /// <summary>True when bars are drawn: a terminal that Spectre sees as interactive and ANSI-capable, output not redirected.</summary>
    public static bool Interactive =>
        !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive && AnsiConsole.Profile.Capabilities.Ansi;

    /// <summary>Runs a stage with bars (interactive) or lines (redirected).</summary>
    public static async Task RunAsync(Func<DemoConsole, Task> stage)
    {
        if (!Interactive)
        {
            await stage(new DemoConsole(null));
            return;
        }
        await AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(true)   // a finished bar leaves its final line above the live ones
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(context => stage(new DemoConsole(context)));
    }

    /// <summary>A timestamped log line.</summary>
    public void Line(string text) => Text($"[{DateTime.Now:HH:mm:ss}] {text}");

    /// <summary>A line as is (tables); printed above the bars while they are drawn.</summary>
    public void Text(string text = "")
    {
        if (_bars is null) Console.WriteLine(text);
        else AnsiConsole.WriteLine(text);   // Spectre keeps the live bars below what is written through it
    }

    /// <summary>Log lines as a progress sink.</summary>
    public IProgress<string> Lines => new StepProgress<string>(Line);

    /// <summary>
    /// A bar that fills up to <paramref name="max"/>. Redirected, it writes a line at each tenth of the way when
    /// <paramref name="tenths"/> is set, at each milestone, and when it finishes.
    /// </summary>
    public DemoBar Bar(string description, double max, bool tenths = true) =>
        new(this, _bars?.AddTask(Markup.Escape(description), autoStart: true, maxValue: Math.Max(1, max)), description, Math.Max(1, max), tenths);
}
