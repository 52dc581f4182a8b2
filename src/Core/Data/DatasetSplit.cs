namespace GpuPs.Core.Data;

/// <summary>A data set divided into disjoint training and held-out test rows.</summary>
public readonly record struct DatasetSplit(Dataset Train, Dataset Test);
