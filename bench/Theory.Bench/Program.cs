using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace Theory.Bench;

public static class Program
{
    /// <summary>
    /// Runs in-process (no generated project to restore, so it works offline), one thread, and reports ratios
    /// against each class's [Benchmark(Baseline = true)] measured in the same process.
    /// </summary>
    public static void Main(string[] args)
    {
        if (args.Length == 1 && args[0] == "--large-ode")
        {
            BlockStiffSystem.RunLarge();
            return;
        }
        var config = DefaultConfig.Instance
            .AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithId("inproc"))
            .WithOptions(ConfigOptions.DisableOptimizationsValidator);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
    }
}
