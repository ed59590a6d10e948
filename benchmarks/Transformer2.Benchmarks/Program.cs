using BenchmarkDotNet.Running;
using Transformer2.Core;

// TorchSharp's native library must be usable before any benchmark touches torch (see docs/native-libtorch.md).
TorchRuntime.Initialize();
if (args.Length > 0 && args[0] == "realshape") return Transformer2.Benchmarks.RealShapeRun.Run(args[1..]);
BenchmarkSwitcher.FromAssembly(typeof(Transformer2.Benchmarks.BenchmarkSetup).Assembly).Run(args);
return 0;
