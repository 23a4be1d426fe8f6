using Theory.Interop;
using Theory.Interop.Io;

namespace Theory.Simulation.Tests;

public class InteropTests
{
    [Fact]
    public void CsvRoundTripsDoublesExactly()
    {
        var rng = new Theory.Simulation.Data.Rng(7, 0);
        var xs = Enumerable.Range(0, 200).Select(_ => rng.NextGaussian() * Math.Pow(10, rng.NextInt(40) - 20)).ToArray();
        var table = new CsvTable(["x", "label"]);
        foreach (var x in xs) table.Add(x).Add("a,\"b\"").EndRow();
        var back = CsvData.Parse(table.ToString());
        Assert.Equal(xs, back.Numbers("x"));
        Assert.All(back.Rows, r => Assert.Equal("a,\"b\"", r[1]));
    }

    [Fact]
    public void CsvRejectsShortRows()
    {
        var table = new CsvTable(["a", "b"]);
        table.Add(1.0);
        Assert.Throws<InvalidOperationException>(() => table.EndRow());
    }

    [Fact]
    public void AtomicWriteLeavesNoTemporaryFileOnFailure()
    {
        var dir = Directory.CreateTempSubdirectory("theory-atomic").FullName;
        try
        {
            var path = Path.Combine(dir, "out.csv");
            File.WriteAllText(path, "old");
            Assert.Throws<InvalidOperationException>(() =>
                AtomicFile.Write(path, s => { s.WriteByte(1); throw new InvalidOperationException("boom"); }));
            Assert.Equal("old", File.ReadAllText(path));
            Assert.Single(Directory.GetFiles(dir));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void ReferenceConventionMapsToHalfMseRates()
    {
        // Reference code: w += 2 lr (y - phi) g' x / sqrt D. Half-MSE: w += (W / sqrt D) v g' (y - phi) x, v = 1/K.
        var net = new NetworkSpec { K = 8 };
        var rates = LearningRates.Resolve(new TrainingSpec { Lr = 0.05 }, net);
        Assert.Equal(2 * 0.05, rates.W * net.ReadoutValue, 12);
        Assert.Equal(2 * 0.05, rates.B * net.ReadoutValue, 12);
        var half = LearningRates.Resolve(new TrainingSpec { Lr = 0.3, Convention = LrConvention.HalfMse, LrBias = 0.1 }, net);
        Assert.Equal(new LearningRates(0.3, 0.3, 0.1), half);
    }

    [Theory]
    [InlineData(3, 20, "--dim")]
    [InlineData(2, 0, "--size")]
    [InlineData(1, -5, "--size")]
    public void InvalidDataSpecNamesTheOption(int dim, int size, string option)
    {
        var e = Assert.Throws<SpecException>(() => new DataSpec { Dim = dim, Size = size }.Validate());
        Assert.Equal(option, e.Option);
    }

    [Theory]
    [InlineData(2.0, 1.0)]
    [InlineData(1.0, 1.0)]
    [InlineData(0.0, 1.0)]
    [InlineData(double.NaN, 1.0)]
    public void CorrelationLengthsMustBePositiveAndOrdered(double xi0, double xi1)
    {
        var e = Assert.Throws<SpecException>(() => new DataSpec { Xi0 = xi0, Xi1 = xi1 }.Validate());
        Assert.Equal("--xi", e.Option);
    }
}
