using Transformer2.Samples.CustomTaskExpert;

using var cancel = new CancellationTokenSource();
// Ctrl+C cancels the token instead of killing the process: the trainer stops between iterations, its state saved.
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};
return await CustomTaskExpertSample.RunAsync(args, Console.Out, cancel.Token);
