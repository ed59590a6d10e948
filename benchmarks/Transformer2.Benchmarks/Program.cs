using BenchmarkDotNet.Running;
using Transformer2.Core;

// TorchSharp's native library must be usable before any benchmark touches torch (see docs/native-libtorch.md).
TorchRuntime.Initialize();
BenchmarkSwitcher.FromAssembly(typeof(Transformer2.Benchmarks.BenchmarkSetup).Assembly).Run(args);
