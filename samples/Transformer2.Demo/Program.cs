using Transformer2.Core;
using Transformer2.Demo;

TorchRuntime.Initialize();
return await DemoCommands.RunAsync(args);
