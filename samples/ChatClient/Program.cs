using Transformer2.Samples.ChatClient;

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};
return await ChatClientSample.RunAsync(args, Console.Out, cancel.Token);
