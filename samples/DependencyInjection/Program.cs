using Transformer2.Samples.DependencyInjection;

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};
return await DependencyInjectionSample.RunAsync(args, Console.Out, cancel.Token);
