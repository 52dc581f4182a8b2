namespace GpuPs.Core.Data;

/// <summary>How big a data set is, before any split: what a job needs to size its model and its steps.</summary>
public readonly record struct DatasetShape(int Rows, int Features, int Classes);
