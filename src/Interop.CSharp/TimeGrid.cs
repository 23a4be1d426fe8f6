namespace Theory.Interop;

/// <summary>The logging times shared by simulator and theory, so that their trajectories align row by row.</summary>
public static class TimeGrid
{
    /// <summary>
    /// t = 0 followed by <paramref name="points"/> log-spaced times from <paramref name="start"/> to
    /// <paramref name="end"/> inclusive (just <paramref name="end"/> when start &gt;= end or points = 1).
    /// </summary>
    public static double[] LogSpaced(double start, double end, int points)
    {
        if (points < 1) throw new ArgumentOutOfRangeException(nameof(points));
        if (points == 1 || start >= end) return [0.0, end];
        var t = new double[points + 1];
        double l0 = Math.Log(start), l1 = Math.Log(end);
        for (int i = 0; i < points; i++) t[i + 1] = Math.Exp(l0 + (l1 - l0) * i / (points - 1));
        t[points] = end; // exactly, not exp(log(end))
        return t;
    }

    /// <summary>The logging grid of a training specification.</summary>
    public static double[] Of(TrainingSpec t) => LogSpaced(t.LogStart, t.Time, t.LogPoints);

    /// <summary>
    /// The SGD step at which time t is logged: round(t D). Logged times are then steps / D exactly, and repeated
    /// steps (log-spacing finer than 1/D at early times) are dropped by the simulator.
    /// </summary>
    public static long Step(double t, int d) => (long)Math.Round(t * d);
}
