namespace Theory.Interop;

/// <summary>Boundary conditions of the image: a ring/torus (circulant covariances) or an open segment/square.</summary>
public enum Boundary { Periodic, Open }

/// <summary>What the network is trained on: NLGP images or their Gaussian clone (same mean and covariance).</summary>
public enum InputKind { Nlgp, Gp }

/// <summary>
/// The two-class NLGP task (SCIENCE.md section 1): images on a ring of <see cref="Size"/> pixels (<c>Dim = 1</c>)
/// or a <c>Size x Size</c> torus (<c>Dim = 2</c>); class 0 has correlation length <see cref="Xi0"/> and label +1,
/// class 1 has <see cref="Xi1"/> and label -1. Pixels are <c>erf(g z / sqrt 2) / sqrt(gamma(g))</c>.
/// </summary>
public sealed record DataSpec
{
    public int Dim { get; init; } = 2;
    public int Size { get; init; } = 20;
    /// <summary>Correlation length of class 0. The defaults xi0 = 1, xi1 = 3 at gain 10 were chosen by experiment:
    /// in the Fig. 1 setting the NLGP run localises and its Gaussian clone does not (README, Results > Localisation).</summary>
    public double Xi0 { get; init; } = 1.0;
    public double Xi1 { get; init; } = 3.0;
    public double Gain { get; init; } = 10.0;
    public Boundary Boundary { get; init; } = Boundary.Periodic;
    /// <summary>Added to the diagonal of the latent covariance so that it is positive definite.</summary>
    public double Jitter { get; init; } = 1e-3;

    /// <summary>Input dimension D = L (1D) or L^2 (2D).</summary>
    public int D => Dim == 1 ? Size : Size * Size;

    /// <summary>Correlation length of class <paramref name="a"/> (0 or 1).</summary>
    public double Xi(int a) => a == 0 ? Xi0 : Xi1;

    /// <summary>This specification with another gain (a copy; for gain sweeps from F#, which cannot use <c>with</c>).</summary>
    public DataSpec WithGain(double gain) => this with { Gain = gain };

    /// <summary>Label of class <paramref name="a"/>: +1 for the short-range class 0, -1 for class 1.</summary>
    public static double Label(int a) => a == 0 ? 1.0 : -1.0;

    /// <summary>Largest input dimension accepted with periodic boundaries (memory stays O(D) per sample).</summary>
    public const int MaxPeriodicD = 1 << 20;

    /// <summary>Largest input dimension accepted with open boundaries (a dense D x D factor is stored).</summary>
    public const int MaxOpenD = 4096;

    /// <summary>Throws <see cref="SpecException"/> naming the option when a value is out of range.</summary>
    public DataSpec Validate()
    {
        if (Dim != 1 && Dim != 2) throw new SpecException("--dim", $"must be 1 or 2 (got {Dim})");
        if (Dim == 1) Check.InRange("--size", Size, 2, MaxPeriodicD);
        else Check.InRange("--size", Size, 2, 1024);
        if (Boundary == Boundary.Open && (long)D > MaxOpenD)
            throw new SpecException("--size", $"with --open the input dimension D must be at most {MaxOpenD} (got D = {D})");
        Check.Positive("--xi", Xi0);
        Check.Positive("--xi", Xi1);
        if (Xi0 >= Xi1)
            throw new SpecException("--xi", $"needs XI0 < XI1 (short-range class first; got {Check.Fmt(Xi0)} {Check.Fmt(Xi1)})");
        Check.InRange("--xi", Xi1, 0, 1e6);
        Check.InRange("--gain", Gain, 0, 1e6);
        Check.InRange("--jitter", Jitter, 0, 1);
        return this;
    }
}

public enum Activation { Erf, Relu, Sigmoid, Linear, Cubic }

/// <summary>Second-layer weights: mf = 1/K fixed, committee = 1 fixed, lazy = 1/sqrt K fixed, trained = learned.</summary>
public enum Readout { MeanField, Committee, Lazy, Trained }

/// <summary>Biases: none; fixed +B on the first K/2 units and -B on the rest; or trained from that start.</summary>
public enum BiasMode { None, Fixed, Trained }

/// <summary>The two-layer network <c>phi(x) = sum_k v_k g(w_k . x / sqrt D + b_k)</c> (SCIENCE.md section 2).</summary>
public sealed record NetworkSpec
{
    public int K { get; init; } = 8;
    public Activation Activation { get; init; } = Activation.Erf;
    public Readout Readout { get; init; } = Readout.MeanField;
    public BiasMode BiasMode { get; init; } = BiasMode.Trained;
    public double Bias { get; init; } = 1.0;
    /// <summary>Standard deviation of the initial first-layer weights (per entry).</summary>
    public double InitStd { get; init; } = 0.1;
    /// <summary>Cubic activation <c>alpha h - (beta/3) h^3</c>.</summary>
    public double CubicAlpha { get; init; } = 1.0;
    public double CubicBeta { get; init; } = 1.0;

    /// <summary>Initial (and, unless trained, fixed) value of every readout weight.</summary>
    public double ReadoutValue => Readout switch
    {
        Readout.Committee => 1.0,
        Readout.Lazy => 1.0 / Math.Sqrt(K),
        _ => 1.0 / K,
    };

    /// <summary>Initial bias of unit k: +B for k &lt; K/2 (integer division), -B otherwise; 0 without biases.</summary>
    public double InitialBias(int k) => BiasMode == BiasMode.None ? 0.0 : (k < K / 2 ? Bias : -Bias);

    public NetworkSpec Validate()
    {
        Check.InRange("-K", K, 1, 4096);
        Check.InRange("--bias", Bias, -1e3, 1e3);
        Check.InRange("--init-std", InitStd, 0, 1e3);
        Check.InRange("--cubic", CubicAlpha, -1e3, 1e3);
        Check.InRange("--cubic", CubicBeta, -1e3, 1e3);
        return this;
    }
}

/// <summary>
/// How the learning rate is read. <c>HalfMse</c>: loss (y - phi)^2 / 2 and the rates are the eta of SCIENCE.md
/// section 2. <c>Reference</c>: the public reference code's convention (MSE without 1/2, first-layer rate
/// multiplied by K); see <see cref="LearningRates.Resolve"/> for the exact mapping.
/// </summary>
public enum LrConvention { HalfMse, Reference }

/// <summary>Online SGD: one fresh sample per step, time t = steps / D.</summary>
public sealed record TrainingSpec
{
    public double Lr { get; init; } = 0.05;
    public LrConvention Convention { get; init; } = LrConvention.Reference;
    /// <summary>Readout learning rate (trained readout only); defaults to <see cref="Lr"/>.</summary>
    public double? LrReadout { get; init; }
    /// <summary>Bias learning rate (trained biases only); defaults to <see cref="Lr"/>.</summary>
    public double? LrBias { get; init; }
    /// <summary>Final time T (in units of D steps).</summary>
    public double Time { get; init; } = 1e4;
    public int Seed { get; init; }
    /// <summary>Seed of the initial weights only (<c>Initialisation.Weights</c>); null = <see cref="Seed"/>. Set it
    /// to start runs of different <see cref="Seed"/>s (sample streams, test sets) from one initial state, e.g. the
    /// ODE's in <c>theory overlay</c>. When null every output is the same as before this option existed.</summary>
    public int? InitSeed { get; init; }
    /// <summary>The seed the initial weights are drawn with: <see cref="InitSeed"/> if given, else <see cref="Seed"/>.</summary>
    public int InitialWeightsSeed => InitSeed ?? Seed;

    /// <summary>A copy for one run of a group that shares its initial weights (seed <paramref name="initSeed"/>) and
    /// differs in its sample seed and input kind (for F#, which cannot use <c>with</c> on C# records).</summary>
    public TrainingSpec ForRun(int seed, InputKind inputs, int initSeed) =>
        this with { Seed = seed, Inputs = inputs, InitSeed = initSeed };
    public InputKind Inputs { get; init; } = InputKind.Nlgp;
    /// <summary>Held-out test set size (half per class).</summary>
    public int TestSize { get; init; } = 10_000;
    /// <summary>Number of log-spaced logging times between <see cref="LogStart"/> and T (t = 0 is always logged).</summary>
    public int LogPoints { get; init; } = 100;
    public double LogStart { get; init; } = 0.01;
    /// <summary>Number of log-spaced weight snapshots (the final weights are always saved).</summary>
    public int Snapshots { get; init; } = 10;

    public TrainingSpec Validate()
    {
        Check.Positive("--lr", Lr);
        Check.InRange("--lr", Lr, 0, 1e3);
        if (LrReadout is double lv) Check.InRange("--lr-readout", lv, 0, 1e3);
        if (LrBias is double lb) Check.InRange("--lr-bias", lb, 0, 1e3);
        Check.Positive("--time", Time);
        Check.InRange("--time", Time, 0, 1e9);
        Check.InRange("--seed", Seed, 0, int.MaxValue);
        if (InitSeed is int initSeed) Check.InRange("--init-seed", initSeed, 0, int.MaxValue);
        Check.InRange("--test-size", TestSize, 2, 10_000_000);
        Check.InRange("--log-points", LogPoints, 1, 100_000);
        Check.Positive("--log-start", LogStart);
        Check.InRange("--snapshots", Snapshots, 0, 10_000);
        return this;
    }
}

/// <summary>
/// Learning rates in the half-MSE form of SCIENCE.md section 2:
/// <c>w_k += (W / sqrt D) v_k g'(lambda_k) (y - phi) x</c>, <c>v_k += (V / D) g(lambda_k) (y - phi)</c>,
/// <c>b_k += (B / D) v_k g'(lambda_k) (y - phi)</c>. The simulator and the ODE engine both read these.
/// </summary>
public readonly record struct LearningRates(double W, double V, double B)
{
    /// <summary>
    /// <c>HalfMse</c>: W = lr, V = lr_readout (default lr), B = lr_bias (default lr).
    /// <c>Reference</c> (public reference code: loss (y - phi)^2 without 1/2, readout 1/K, first-layer rate lr K):
    /// its first-layer step is <c>2 lr (y - phi) g' x / sqrt D</c> = <c>(W/sqrt D) v_k g' (y - phi) x</c> with
    /// v_k = 1/K, hence W = 2 K lr; its bias step <c>2 lr (y - phi) g' / D</c> gives B = 2 K lr; a trained readout
    /// differentiates the loss without 1/2, V = 2 lr_readout.
    /// </summary>
    public static LearningRates Resolve(TrainingSpec t, NetworkSpec n)
    {
        double lv = t.LrReadout ?? t.Lr, lb = t.LrBias ?? t.Lr;
        return t.Convention == LrConvention.HalfMse
            ? new LearningRates(t.Lr, lv, lb)
            : new LearningRates(2.0 * n.K * t.Lr, 2.0 * lv, 2.0 * n.K * lb);
    }
}
