using System.Diagnostics;
using Theory.Interop;
using Theory.Simulation.Data;

namespace Theory.Simulation.Training;

/// <summary>A network trained by online SGD with the update rules of SCIENCE.md section 2.</summary>
public interface IOnlineNetwork
{
    NetworkSpec Spec { get; }
    LearningRates Rates { get; }
    /// <summary>Number of hidden units (or filters).</summary>
    int K { get; }
    /// <summary>The first-layer weights of unit (or filter) k.</summary>
    ReadOnlySpan<double> UnitWeights(int k);
    double[] V { get; }
    double[] B { get; }

    /// <summary>One SGD step on (x, y); returns <c>y - phi(x)</c> before the step. Allocates nothing.</summary>
    double Step(ReadOnlySpan<double> x, double y);
}

/// <summary>How a stretch of training ended.</summary>
public readonly record struct LoopState(long Steps, string? Failure, bool Cancelled);

/// <summary>
/// The online SGD loop shared by the fully-connected and the convolutional network: a fresh sample per step,
/// the divergence guard, cancellation and progress polled every <see cref="DivergenceGuard.CheckEvery"/> steps.
/// </summary>
public static class OnlineLoop
{
    /// <summary>Trains from <paramref name="step"/> up to <paramref name="target"/> steps.</summary>
    public static LoopState Advance(IOnlineNetwork net, ISampleSource source, Span<double> x, long step, long target,
        int d, Stopwatch clock, Action<long>? onChunk, CancellationToken cancellation)
    {
        clock.Start();
        try
        {
            while (step < target)
            {
                // Chunks end at absolute multiples of CheckEvery (and at the target), so where a stretch starts never
                // moves the divergence checks and cancellation polls: a run stopped at any of them and resumed
                // polls exactly where an uninterrupted one does.
                long end = Math.Min(target, (step / DivergenceGuard.CheckEvery + 1) * DivergenceGuard.CheckEvery);
                for (; step < end; step++)
                {
                    int a = source.Next(x);
                    double delta = net.Step(x, DataSpec.Label(a));
                    // NaN fails this comparison too.
                    if (!(Math.Abs(delta) <= DivergenceGuard.MaxError))
                        return new LoopState(step + 1,
                            DivergenceGuard.Message(step + 1, d, "the output error y - phi", delta, net.Rates, net.Spec), false);
                }
                if (DivergenceGuard.CheckParameters(net, step, d) is { } failure) return new LoopState(step, failure, false);
                if (cancellation.IsCancellationRequested) return new LoopState(step, null, true);
                onChunk?.Invoke(step);
            }
            return new LoopState(step, null, false);
        }
        finally
        {
            clock.Stop();
        }
    }
}
