using GpuPs.Kernels;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace GpuPs.Kernels.Tests;

/// <summary>
/// Facts and theories of backend suites: an abstract suite declares its tests once with these attributes, and each
/// per-backend subclass marked <see cref="RequiresAcceleratorAttribute"/> has them skipped, with a reason, when the
/// device is missing. xunit 2 has no dynamic skip and an attribute cannot see the class it is inherited into, hence
/// the discoverers, which look at the concrete test class.
/// </summary>
[XunitTestCaseDiscoverer("GpuPs.Kernels.Tests.BackendFactDiscoverer", "GpuPs.Kernels.Tests")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class BackendFactAttribute : FactAttribute;

/// <inheritdoc cref="BackendFactAttribute"/>
[XunitTestCaseDiscoverer("GpuPs.Kernels.Tests.BackendTheoryDiscoverer", "GpuPs.Kernels.Tests")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class BackendTheoryAttribute : TheoryAttribute;

public sealed class BackendFactDiscoverer(IMessageSink diagnosticMessageSink) : FactDiscoverer(diagnosticMessageSink)
{
    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute) =>
        BackendSkip.SkippedCase(DiagnosticMessageSink, discoveryOptions, testMethod) ?? base.Discover(discoveryOptions, testMethod, factAttribute);
}

public sealed class BackendTheoryDiscoverer(IMessageSink diagnosticMessageSink) : TheoryDiscoverer(diagnosticMessageSink)
{
    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo theoryAttribute) =>
        BackendSkip.SkippedCase(DiagnosticMessageSink, discoveryOptions, testMethod) ?? base.Discover(discoveryOptions, testMethod, theoryAttribute);
}

internal static class BackendSkip
{
    /// <summary>One skipped test case when the test's class requires a missing device; otherwise null.</summary>
    public static IXunitTestCase[]? SkippedCase(IMessageSink sink, ITestFrameworkDiscoveryOptions options, ITestMethod testMethod)
    {
        var requirement = testMethod.TestClass.Class.GetCustomAttributes(typeof(RequiresAcceleratorAttribute)).FirstOrDefault();
        if (requirement?.GetConstructorArguments().FirstOrDefault() is not AcceleratorChoice kind
            || DeviceAvailability.SkipReason(kind) is not { } reason)
            return null;
        return [new XunitSkippedDataRowTestCase(sink, options.MethodDisplayOrDefault(), options.MethodDisplayOptionsOrDefault(), testMethod, reason)];
    }
}
