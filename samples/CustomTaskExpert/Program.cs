using Transformer2.Samples.CustomTaskExpert;

using var cancel = new CancellationTokenSource();
// Ctrl+C cancels the token instead of killing the process: the trainer stops between iterations, its state saved.
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};
try
{
    return await CustomTaskExpertSample.RunAsync(args, Console.Out, cancel.Token);
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    return 130;   // the shell's code for "interrupted"
}
