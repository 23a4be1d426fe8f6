namespace Theory.Interop;

/// <summary>
/// Invalid user input. <see cref="Option"/> names the command-line option (for example <c>--size</c>) and the
/// message states the allowed range; the CLI prints it as one line and exits with code 2.
/// </summary>
public sealed class SpecException(string option, string message) : Exception($"{option}: {message}")
{
    public string Option { get; } = option;
}

/// <summary>
/// A run that started but could not finish (for example, it diverged). The CLI exits with code 1 after
/// everything measured so far has been written.
/// </summary>
public sealed class RunFailedException(string message, long step = -1, Exception? inner = null)
    : Exception(message, inner)
{
    /// <summary>SGD step (or ODE evaluation) at which the run failed, or -1 when not applicable.</summary>
    public long Step { get; } = step;
}

/// <summary>Small helpers that throw <see cref="SpecException"/> with uniform wording.</summary>
public static class Check
{
    public static void Finite(string option, double value)
    {
        if (!double.IsFinite(value)) throw new SpecException(option, $"must be a finite number (got {Fmt(value)})");
    }

    public static void Positive(string option, double value)
    {
        Finite(option, value);
        if (value <= 0) throw new SpecException(option, $"must be > 0 (got {Fmt(value)})");
    }

    public static void NonNegative(string option, double value)
    {
        Finite(option, value);
        if (value < 0) throw new SpecException(option, $"must be >= 0 (got {Fmt(value)})");
    }

    public static void InRange(string option, double value, double lo, double hi)
    {
        Finite(option, value);
        if (value < lo || value > hi)
            throw new SpecException(option, $"must be in [{Fmt(lo)}, {Fmt(hi)}] (got {Fmt(value)})");
    }

    public static void InRange(string option, long value, long lo, long hi)
    {
        if (value < lo || value > hi) throw new SpecException(option, $"must be an integer in [{lo}, {hi}] (got {value})");
    }

    public static string Fmt(double x) => x.ToString("G6", System.Globalization.CultureInfo.InvariantCulture);
}
