using System.Numerics.Tensors;
using Theory.Interop;
using Theory.Simulation.Data;
using Theory.Simulation.Training;

namespace Theory.Simulation.Analysis;

/// <summary>Test error, accuracy and pre-activation statistics of a network on a <see cref="TestSet"/>.</summary>
/// <param name="EpsG">Generalisation error <c>(1/2) mean (y - phi)^2</c>, matching the ODE's eps_g.</param>
/// <param name="Mse">Plain mean squared error <c>mean (y - phi)^2</c> (= 2 eps_g).</param>
/// <param name="Accuracy">Fraction of test samples with <c>sign(phi) = y</c>.</param>
/// <param name="EpsGByClass">eps_g over the samples of class 0 and of class 1.</param>
/// <param name="Kurtosis">Per class a, per unit k: excess kurtosis of <c>lambda_k - b_k</c> on the class-a test
/// inputs (0 for Gaussian inputs up to sampling error sqrt(24 / n_a)).</param>
public sealed record TestEvaluation(double EpsG, double Mse, double Accuracy, double[] EpsGByClass, double[][] Kurtosis);

/// <summary>The output phi(x) of a trained model, for <see cref="TestSet.Evaluate(NetworkOutput)"/>.</summary>
public delegate double NetworkOutput(ReadOnlySpan<double> x);

/// <summary>
/// A fixed held-out set of the two-class task: the first half of the samples of class 0, the rest of class 1,
/// drawn from the <see cref="RngStream.TestSet"/> stream of the seed (so it is the same whatever the training
/// does). Inputs are stored row-major, N x D.
/// </summary>
public sealed class TestSet
{
    private TestSet(int d, double[] x, int[] classes)
    {
        D = d;
        X = x;
        Classes = classes;
    }

    public int D { get; }
    public int Count => Classes.Length;
    public double[] X { get; }
    public int[] Classes { get; }

    public ReadOnlySpan<double> Input(int i) => X.AsSpan(i * D, D);

    /// <summary>Draws <paramref name="size"/> samples (size / 2 of class 0, the rest of class 1).</summary>
    public static TestSet Draw(NlgpTask task, InputKind kind, int seed, int size) =>
        Draw(task.CreateSource(kind, new Rng(seed, RngStream.TestSet)), size);

    /// <summary>Draws <paramref name="size"/> samples from a source (size / 2 of class 0, the rest of class 1).</summary>
    public static TestSet Draw(ISampleSource source, int size)
    {
        int d = source.D, n0 = size / 2;
        var x = new double[(long)size * d];
        var classes = new int[size];
        for (int i = 0; i < size; i++)
        {
            classes[i] = i < n0 ? 0 : 1;
            source.NextOfClass(classes[i], x.AsSpan(i * d, d));
        }
        return new TestSet(d, x, classes);
    }

    /// <summary>Test error and accuracy of any model (no pre-activation statistics: <c>Kurtosis</c> is empty).</summary>
    public TestEvaluation Evaluate(NetworkOutput output)
    {
        int n = Count;
        double se = 0, correct = 0;
        Span<double> seClass = stackalloc double[2];
        Span<int> nClass = stackalloc int[2];
        for (int i = 0; i < n; i++)
        {
            double phi = output(Input(i));
            double y = DataSpec.Label(Classes[i]), e = (y - phi) * (y - phi);
            se += e;
            seClass[Classes[i]] += e;
            nClass[Classes[i]]++;
            if (phi * y > 0) correct++;
        }
        return new TestEvaluation(0.5 * se / n, se / n, correct / n,
            [0.5 * seClass[0] / Math.Max(1, nClass[0]), 0.5 * seClass[1] / Math.Max(1, nClass[1])], []);
    }

    /// <summary>Evaluates a network on every test sample.</summary>
    public TestEvaluation Evaluate(TwoLayerNetwork net)
    {
        int n = Count, k = net.K, d = D;
        double invSqrtD = 1.0 / Math.Sqrt(d);
        var h = new double[k * n];           // lambda_k - b_k, unit-major so that each unit's values are contiguous
        var lambda = new double[k];
        var g = new double[k];
        var gp = new double[k];
        double se = 0, correct = 0;
        Span<double> seClass = stackalloc double[2];
        Span<int> nClass = stackalloc int[2];
        for (int i = 0; i < n; i++)
        {
            var x = Input(i);
            for (int u = 0; u < k; u++)
            {
                double hu = TensorPrimitives.Dot(net.W.AsSpan(u * d, d), x) * invSqrtD;
                h[u * n + i] = hu;
                lambda[u] = hu + net.B[u];
            }
            net.Activation.Evaluate(lambda, g, gp);
            double phi = TensorPrimitives.Dot<double>(net.V, g);
            double y = DataSpec.Label(Classes[i]), e = (y - phi) * (y - phi);
            se += e;
            seClass[Classes[i]] += e;
            nClass[Classes[i]]++;
            if (phi * y > 0) correct++;
        }
        var kurt = new double[2][];
        int n0 = nClass[0];
        for (int a = 0; a < 2; a++)
        {
            kurt[a] = new double[k];
            for (int u = 0; u < k; u++)
            {
                var values = a == 0 ? h.AsSpan(u * n, n0) : h.AsSpan(u * n + n0, n - n0);
                kurt[a][u] = Moments.ExcessKurtosis(values);
            }
        }
        return new TestEvaluation(0.5 * se / n, se / n, correct / n,
            [0.5 * seClass[0] / Math.Max(1, nClass[0]), 0.5 * seClass[1] / Math.Max(1, nClass[1])], kurt);
    }
}
