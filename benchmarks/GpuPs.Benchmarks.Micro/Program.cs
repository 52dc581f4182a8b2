using BenchmarkDotNet.Running;

// Micro-benchmarks of the hot paths, one class beside each (BenchmarkDotNet, [MemoryDiagnoser]); each class has a
// baseline (a method, or for GradientStepBenchmarks the SIMD backend) so that results read as ratios of one run. Run all of them:
//   dotnet run -c Release --project benchmarks/GpuPs.Benchmarks.Micro -- --filter '*'
// or one class: --filter '*PushPath*'. Results land in BenchmarkDotNet.Artifacts/ (CSV, Markdown, plots with --exporters rplot).
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
