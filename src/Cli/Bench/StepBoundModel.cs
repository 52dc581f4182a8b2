namespace GpuPs.Cli.Bench;

/// <summary>How <see cref="StepTimeBound"/> models a scheme's step under the straggler time model.</summary>
public enum StepBoundModel
{
    /// <summary>The step closes at the k-th fastest worker (BSP: k = n; backup: k = n − s): an order statistic.</summary>
    FastestK,

    /// <summary>The step closes at the first responder set the code decodes.</summary>
    FirstDecodable,

    /// <summary>The step closes when the partial messages cover every partition (multi-message), by Monte Carlo.</summary>
    Coverage,

    /// <summary>Every worker runs its own steps (ASP, SSP): the slowest worker's mean step.</summary>
    SlowestWorker,
}
