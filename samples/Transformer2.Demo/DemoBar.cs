using Spectre.Console;

namespace Transformer2.Demo;

/// <summary>One progress bar of a <see cref="DemoConsole"/> (or its plain-line stand-in).</summary>
internal sealed class DemoBar
{
    readonly DemoConsole _console;
    readonly ProgressTask? _task;
    readonly string _description;
    readonly double _max;
    readonly bool _tenths;
    int _lastTenth;

    internal DemoBar(DemoConsole console, ProgressTask? task, string description, double max, bool tenths)
    {
        (_console, _task, _description, _max, _tenths) = (console, task, description, max, tenths);
    }

    /// <summary>Moves the bar to <paramref name="value"/> with a short status (loss, accuracy...); a milestone is always logged when redirected.</summary>
    public void Report(double value, string? status = null, bool milestone = false)
    {
        if (_task is not null)
        {
            _task.Value = Math.Min(value, _max);
            if (status is not null) _task.Description = Markup.Escape($"{_description}  {status}");
            return;
        }
        int tenth = (int)(10 * Math.Min(value, _max) / _max);
        if (milestone || (_tenths && tenth > _lastTenth && value < _max))
            _console.Line($"{_description} {value:0}/{_max:0}" + (status is null ? "" : $"  {status}"));
        _lastTenth = Math.Max(_lastTenth, tenth);
    }

    /// <summary>Fills the bar (which then disappears from the live display) and logs its final status as a line.</summary>
    public void Finish(string? status = null)
    {
        if (_task is not null)
        {
            _task.Value = _max;
            _task.StopTask();
        }
        if (status is not null) _console.Line($"{_description}: {status}");
    }
}
