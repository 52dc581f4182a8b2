using System.Text.Json;
using GpuPs.Cli.Commands;
using GpuPs.Cli.Settings;
using GpuPs.Kernels;

namespace GpuPs.Integration.Tests.Cli;

/// <summary><c>--accelerator</c>: one device for every worker, or one per worker id joined by <c>+</c>.</summary>
public class WorkerAcceleratorsTests
{
    [Fact]
    public void One_choice_is_every_workers_and_a_list_gives_worker_i_item_i()
    {
        var one = WorkerAccelerators.Parse("CUDA");
        Assert.False(one.IsPerWorker);
        Assert.Equal(AcceleratorChoice.Cuda, one.For(0));
        Assert.Equal(AcceleratorChoice.Cuda, one.For(7));
        one.Validate(8);

        var list = WorkerAccelerators.Parse("cuda+simd+ simd +cpu");
        Assert.True(list.IsPerWorker);
        Assert.Equal([AcceleratorChoice.Cuda, AcceleratorChoice.Simd, AcceleratorChoice.Simd, AcceleratorChoice.Cpu], Enumerable.Range(0, 4).Select(list.For));
        list.Validate(4);
        Assert.Equal("cuda+simd+simd+cpu", list.ToString());
        Assert.Equal(list, WorkerAccelerators.Parse(list.ToString()));
        Assert.NotEqual(list, WorkerAccelerators.Parse("cuda+simd+simd+simd"));
        Assert.Equal(WorkerAccelerators.Parse("simd"), (WorkerAccelerators)AcceleratorChoice.Simd);
    }

    [Theory]
    [InlineData("cuda+simd", 3, "--accelerator cuda+simd names 2 devices for 3 workers")]
    [InlineData("cuda+simd+simd+simd", 3, "names 4 devices for 3 workers")]
    public void A_list_of_another_length_than_the_workers_is_refused(string text, int workers, string message)
    {
        var e = Assert.Throws<SettingsException>(() => WorkerAccelerators.Parse(text).Validate(workers));
        Assert.Contains(message, e.Message);
        Assert.Throws<SettingsException>(() => WorkerAccelerators.Parse(text).For(workers + 1));
    }

    [Theory]
    [InlineData("gpu", "--accelerator: 'gpu' is not one of auto, cuda, opencl, cpu, simd")]
    [InlineData("cuda+gpu+simd", "item 2 ('gpu') of 'cuda+gpu+simd' is not one of")]
    [InlineData("cuda++simd", "item 2 ('') of 'cuda++simd'")]
    [InlineData("", "'' is not one of")]
    public void A_bad_item_is_named_with_its_position(string text, string message)
    {
        var e = Assert.Throws<SettingsException>(() => WorkerAccelerators.Parse(text));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void The_result_json_records_the_option_as_given()
    {
        var settings = new TrainSettings { Workers = 2, Accelerator = WorkerAccelerators.Parse("cpu+simd") };
        string json = JsonSerializer.Serialize(settings, ResultJson.Options);
        Assert.Equal("cpu+simd", JsonDocument.Parse(json).RootElement.GetProperty("accelerator").GetString());
        Assert.Equal(settings.Accelerator, JsonSerializer.Deserialize<WorkerAccelerators>("\"cpu+simd\"", ResultJson.Options));
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<WorkerAccelerators>("\"cpu+tpu\"", ResultJson.Options));
    }
}
