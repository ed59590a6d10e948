using Transformer2.Samples.AdaptationStrategies;

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};
return await AdaptationStrategiesSample.RunAsync(args, Console.Out, cancel.Token);
