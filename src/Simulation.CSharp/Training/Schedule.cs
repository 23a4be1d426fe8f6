using Theory.Interop;

namespace Theory.Simulation.Training;

/// <summary>
/// When a run measures and when it saves weights, in SGD steps: the logging grid of <see cref="TimeGrid.Of"/>
/// (shared with the ODE engine; duplicate steps at early times dropped) and about
/// <see cref="TrainingSpec.Snapshots"/> log-spaced snapshot times between <see cref="TrainingSpec.LogStart"/>
/// and T, plus t = 0 and the final step.
/// </summary>
public sealed class Schedule
{
    public Schedule(TrainingSpec training, int d)
    {
        FinalStep = TimeGrid.Step(training.Time, d);
        LogSteps = Distinct(TimeGrid.Of(training), d);
        SnapshotSteps = training.Snapshots == 0
            ? [FinalStep]
            : Distinct(TimeGrid.LogSpaced(training.LogStart, training.Time, training.Snapshots), d);
        var all = new SortedSet<long>(LogSteps);
        all.UnionWith(SnapshotSteps);
        EventSteps = all.ToArray();
    }

    public long FinalStep { get; }
    public long[] LogSteps { get; }
    public long[] SnapshotSteps { get; }
    /// <summary>Union of log and snapshot steps, ascending.</summary>
    public long[] EventSteps { get; }

    private static long[] Distinct(double[] times, int d)
    {
        var steps = new SortedSet<long>();
        foreach (var t in times) steps.Add(TimeGrid.Step(t, d));
        return steps.ToArray();
    }
}

/// <summary>
/// Stops a run that diverges: a non-finite or huge output error (checked every step, it costs nothing) and an
/// exploding first-layer norm, readout or bias (checked every <see cref="CheckEvery"/> steps).
/// </summary>
public static class DivergenceGuard
{
    /// <summary>|y - phi| beyond this counts as divergence (the labels are +-1).</summary>
    public const double MaxError = 1e6;

    /// <summary><c>|w_k|^2 / D</c> (mean squared weight) beyond this counts as divergence (pre-activations of order
    /// 10^4).</summary>
    public const double MaxNormSquared = 1e8;

    /// <summary>|v_k| or |b_k| beyond this counts as divergence.</summary>
    public const double MaxParameter = 1e6;

    public const int CheckEvery = 1024;

    /// <summary>The failure message, naming the step, the quantity and the likely cause.</summary>
    public static string Message(long step, int d, string quantity, double value, LearningRates rates, NetworkSpec net) =>
        $"diverged at step {step} (t = {Check.Fmt(step / (double)d)}): {quantity} = {Check.Fmt(value)}; " +
        $"the learning rate is probably too large for this network (half-MSE rates W = {Check.Fmt(rates.W)}, " +
        $"V = {Check.Fmt(rates.V)}, B = {Check.Fmt(rates.B)}; activation {net.Activation.ToString().ToLowerInvariant()}, " +
        $"readout {net.Readout.ToString().ToLowerInvariant()}): try a smaller --lr";

    /// <summary>Checks first-layer norms (per weight), readout and biases; returns a failure message or null.</summary>
    public static string? CheckParameters(IOnlineNetwork net, long step, int d)
    {
        for (int k = 0; k < net.K; k++)
        {
            var w = net.UnitWeights(k);
            double n2 = System.Numerics.Tensors.TensorPrimitives.Dot(w, w) / w.Length;
            if (!double.IsFinite(n2) || n2 > MaxNormSquared)
                return Message(step, d, $"|w_{k}|^2 / {w.Length}", n2, net.Rates, net.Spec);
            if (!double.IsFinite(net.V[k]) || Math.Abs(net.V[k]) > MaxParameter)
                return Message(step, d, $"v_{k}", net.V[k], net.Rates, net.Spec);
            if (!double.IsFinite(net.B[k]) || Math.Abs(net.B[k]) > MaxParameter)
                return Message(step, d, $"b_{k}", net.B[k], net.Rates, net.Spec);
        }
        return null;
    }
}
