using Transformer2.Samples.ChatClient;

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};
try
{
    return await ChatClientSample.RunAsync(args, Console.Out, cancel.Token);
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    return 130;   // the shell's code for "interrupted"
}
