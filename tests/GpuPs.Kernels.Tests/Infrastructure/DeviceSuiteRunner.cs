using System.Reflection;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace GpuPs.Kernels.Tests;

/// <summary>
/// Runs this assembly's tests without the .NET SDK: the GPU machine has no dotnet and no network, so
/// <c>benchmarks/gpu/run.sh</c> carries a self-contained publish of this project and starts it as a program.
/// <c>dotnet test</c> never calls this entry point (it runs the assembly through the test host); here xunit's own
/// discovery and execution engine (<see cref="XunitTestFramework"/>) runs the tests, so fixtures, theories and the
/// device skips behave exactly as under <c>dotnet test</c>.
/// </summary>
/// <example>
/// <code>./GpuPs.Kernels.Tests --filter Cuda --results cuda-tests.txt   # exit code 1 if any test failed, 2 if none ran</code>
/// </example>
public static class DeviceSuiteRunner
{
    public static int Main(string[] args)
    {
        string? filter = null, resultsPath = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--filter" when i + 1 < args.Length: filter = args[++i]; break;
                case "--results" when i + 1 < args.Length: resultsPath = args[++i]; break;
                default:
                    Console.Error.WriteLine($"unknown argument '{args[i]}'; usage: GpuPs.Kernels.Tests [--filter SUBSTRING] [--results FILE]");
                    return 64;
            }
        }

        var assembly = typeof(DeviceSuiteRunner).Assembly;
        // Results are written as they come, so a run killed by a time limit still leaves what it had.
        using var results = resultsPath is null ? null : new StreamWriter(resultsPath) { AutoFlush = true };
        var sink = new ResultSink(Console.Out, results);
        using var framework = new XunitTestFramework(sink);
        var cases = Discover(framework, assembly, sink)
            .Where(c => filter is null || $"{c.TestMethod.TestClass.Class.Name}.{c.TestMethod.Method.Name}".Contains(filter, StringComparison.Ordinal))
            .ToList();
        Console.WriteLine($"running {cases.Count} test cases{(filter is null ? "" : $" whose class.method contains '{filter}'")}");
        using (var executor = framework.GetExecutor(assembly.GetName()))
        {
            var options = new FrameworkOptions { ["xunit.execution.DisableParallelization"] = true };
            executor.RunTests(cases, sink, options);
            sink.Finished.Wait();
        }

        string summary = $"{sink.Passed} passed, {sink.Failed} failed, {sink.Skipped} skipped";
        Console.WriteLine(summary);
        results?.WriteLine(summary);
        return sink.Failed > 0 ? 1 : sink.Passed == 0 ? 2 : 0;
    }

    private static List<ITestCase> Discover(XunitTestFramework framework, Assembly assembly, IMessageSink diagnostics)
    {
        var found = new DiscoverySink();
        using var discoverer = framework.GetDiscoverer(Reflector.Wrap(assembly));
        discoverer.Find(includeSourceInformation: false, found, new FrameworkOptions());
        found.Complete.Wait();
        return found.Cases;
    }

    /// <summary>Options as xunit's runners pass them: named values, absent ones read as their default.</summary>
    private sealed class FrameworkOptions : Dictionary<string, object?>, ITestFrameworkDiscoveryOptions, ITestFrameworkExecutionOptions
    {
        public TValue GetValue<TValue>(string name) => TryGetValue(name, out var value) && value is TValue typed ? typed : default!;

        public void SetValue<TValue>(string name, TValue value) => this[name] = value;
    }

    private sealed class DiscoverySink : LongLivedMarshalByRefObject, IMessageSink
    {
        public List<ITestCase> Cases { get; } = [];
        public ManualResetEventSlim Complete { get; } = new();

        public bool OnMessage(IMessageSinkMessage message)
        {
            if (message is ITestCaseDiscoveryMessage discovered) Cases.Add(discovered.TestCase);
            else if (message is IDiscoveryCompleteMessage) Complete.Set();
            return true;
        }
    }

    /// <summary>
    /// Prints each test's outcome as it finishes, failures with their message and stack. Any other failure xunit
    /// reports (a fixture's or class's cleanup, an error outside a test) counts as a failure too.
    /// </summary>
    private sealed class ResultSink(TextWriter output, TextWriter? results) : LongLivedMarshalByRefObject, IMessageSink
    {
        private int _passed, _failed, _skipped;
        public ManualResetEventSlim Finished { get; } = new();
        public int Passed => _passed;
        public int Failed => _failed;
        public int Skipped => _skipped;

        public bool OnMessage(IMessageSinkMessage message)
        {
            switch (message)
            {
                case ITestPassed passed:
                    Interlocked.Increment(ref _passed);
                    Write($"PASS {passed.Test.DisplayName} ({passed.ExecutionTime * 1000m:F1} ms)");
                    break;
                case ITestFailed failed:
                    Interlocked.Increment(ref _failed);
                    Write($"FAIL {failed.Test.DisplayName}\n  {string.Join("\n  ", failed.Messages)}\n{string.Join("\n", failed.StackTraces)}");
                    break;
                case ITestSkipped skipped:
                    Interlocked.Increment(ref _skipped);
                    Write($"SKIP {skipped.Test.DisplayName}: {skipped.Reason}");
                    break;
                case IFailureInformation failure:
                    Interlocked.Increment(ref _failed);
                    Write($"ERROR ({message.GetType().Name}) {string.Join("\n  ", failure.Messages)}\n{string.Join("\n", failure.StackTraces)}");
                    break;
                case ITestAssemblyFinished:
                    Finished.Set();
                    break;
            }
            return true;
        }

        private void Write(string line)
        {
            lock (output)
            {
                output.WriteLine(line);
                results?.WriteLine(line);
            }
        }
    }
}
