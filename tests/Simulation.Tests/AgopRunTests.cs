using Theory.Interop;
using Theory.Interop.Io;
using Theory.Simulation.Analysis;
using Theory.Simulation.Data;
using Theory.Simulation.Training;

namespace Theory.Simulation.Tests;

/// <summary>
/// Reading a simulation folder back for <c>theory agop</c>: the snapshots equal what the simulator held, the readout
/// and biases come from the right place, and the analysis of a snapshot equals the AGOP computed directly.
/// </summary>
public class AgopRunTests
{
    private static readonly DataSpec Ring = new() { Dim = 1, Size = 12, Xi0 = 1, Xi1 = 3, Gain = 3 };

    private static string WriteFolder(RunManifest manifest, Action<string> write)
    {
        string dir = Directory.CreateTempSubdirectory("theory-agop-run").FullName;
        Directory.CreateDirectory(Path.Combine(dir, "weights"));
        manifest.Command = "simulate";
        write(dir);
        manifest.Finish("completed");
        Json.Save(Path.Combine(dir, "manifest.json"), manifest);
        return dir;
    }

    private static RunManifest Manifest(DataSpec data, NetworkSpec network, TrainingSpec training, string model, int kernel = 0)
    {
        var m = new RunManifest { Seed = training.Seed };
        m.Config["data"] = Json.ToNode(data);
        m.Config["network"] = Json.ToNode(network);
        m.Config["training"] = Json.ToNode(training);
        m.Config["seeds"] = 1;
        m.Config["model"] = model;
        if (kernel > 0) m.Config["kernel"] = kernel;
        return m;
    }

    [Fact]
    public void SnapshotFilesCarryTheReadoutAndBiasesOfTheirStep()
    {
        var network = new NetworkSpec { K = 4, Readout = Readout.Trained };
        var training = new TrainingSpec { Time = 3, Seed = 2, TestSize = 20, LogPoints = 4, LogStart = 0.1, Snapshots = 3 };
        var run = SimulationRun.Run(new NlgpTask(Ring), network, training);
        string dir = WriteFolder(Manifest(Ring, network, training, "fc"),
            d => SimulationTables.Weights(run).Save(Path.Combine(d, "weights", "seed_2.csv")));
        try
        {
            // No units.csv: v and b can only come from the snapshot file.
            var snaps = SimulationFolder.Load(dir).Snapshots(2);
            Assert.Equal(run.Snapshots.Count, snaps.Count);
            for (int i = 0; i < snaps.Count; i++)
            {
                Assert.Equal(ParameterSource.Snapshot, snaps[i].Source);
                Assert.Equal(run.Snapshots[i].W, snaps[i].W);
                Assert.Equal(run.Snapshots[i].V, snaps[i].V);
                Assert.Equal(run.Snapshots[i].B, snaps[i].B);
            }
            // The trained readout moved: the file holds each step's own values, not the initial ones.
            Assert.NotEqual(run.Snapshots[0].V, run.Snapshots[^1].V);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>Drops the v and b columns of a snapshot file (files written before they were added).</summary>
    private static void DropReadoutColumns(string path)
    {
        var lines = File.ReadAllLines(path);
        Assert.EndsWith(",v,b", lines[0]);
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].Length == 0) continue;
            int cut = lines[i].LastIndexOf(',', lines[i].LastIndexOf(',') - 1);
            lines[i] = lines[i][..cut];
        }
        File.WriteAllLines(path, lines);
    }

    [Theory]
    [InlineData(4)]  // log points 4 and snapshots 3 do not share the middle snapshot time: interpolation
    [InlineData(5)]  // 4 intervals are a multiple of 2: every snapshot is a logged time
    public void SnapshotsWithoutReadoutColumnsTakeTheBiasesFromTheLog(int logPoints)
    {
        var network = new NetworkSpec { K = 4 };
        var training = new TrainingSpec { Time = 3, Seed = 2, TestSize = 20, LogPoints = logPoints, LogStart = 0.1, Snapshots = 3 };
        var task = new NlgpTask(Ring);
        var run = SimulationRun.Run(task, network, training);
        string dir = WriteFolder(Manifest(Ring, network, training, "fc"), d =>
        {
            SimulationTables.Weights(run).Save(Path.Combine(d, "weights", "seed_2.csv"));
            DropReadoutColumns(Path.Combine(d, "weights", "seed_2.csv"));
            SimulationTables.Units([run]).Save(Path.Combine(d, "units.csv"));
        });
        try
        {
            var folder = SimulationFolder.Load(dir);
            Assert.False(folder.Convolutional);
            Assert.Equal([2], folder.Seeds);
            Assert.Equal(Ring, folder.Data);
            var snaps = folder.Snapshots(2);
            Assert.Equal(run.Snapshots.Count, snaps.Count);
            var logged = new HashSet<long>(run.Points.Select(p => p.Step));
            int interpolated = 0;
            for (int i = 0; i < snaps.Count; i++)
            {
                var expected = run.Snapshots[i];
                Assert.Equal(expected.Step, snaps[i].Step);
                Assert.Equal(expected.W, snaps[i].W);
                Assert.Equal(expected.V, snaps[i].V); // mf readout: fixed, exact
                if (logged.Contains(expected.Step))
                {
                    Assert.Equal(ParameterSource.Logged, snaps[i].Source);
                    Assert.Equal(expected.B, snaps[i].B);
                }
                else
                {
                    Assert.Equal(ParameterSource.Interpolated, snaps[i].Source);
                    interpolated++;
                    // Linear in the step between the logged neighbours.
                    var before = run.Points.Last(p => p.Step < expected.Step);
                    var after = run.Points.First(p => p.Step > expected.Step);
                    double f = (double)(expected.Step - before.Step) / (after.Step - before.Step);
                    for (int k = 0; k < network.K; k++)
                    {
                        double b0 = before.OrderParameters.B[k], b1 = after.OrderParameters.B[k];
                        Assert.Equal(b0 + f * (b1 - b0), snaps[i].B[k], 1e-15);
                    }
                }
            }
            Assert.Equal(logPoints == 5 ? 0 : 1, interpolated);

            // The analysis of the last snapshot is the AGOP and W^T W of that network over the analysis sample.
            var sample = AgopAnalysis.Sample(task, InputKind.Nlgp, 0, 50);
            var analysis = AgopAnalysis.Analyse(folder, 2, sample);
            var last = run.Snapshots[^1];
            var net = new TwoLayerNetwork(network, Ring.D, LearningRates.Resolve(training, network), last.W, last.V, last.B);
            var pos = Populations.Members(network, Populations.Positive);
            var agop = Agop.Network(net, sample.X, sample.Count, pos);
            var wtw = Agop.Gram(last.W, Ring.D, pos);
            Assert.Equal(agop, analysis.FinalMatrices[("pos", "agop")]);
            Assert.Equal(wtw, analysis.FinalMatrices[("pos", "wtw")]);
            var row = analysis.Nfa.Single(p => p.Step == last.Step && p.Population == "pos");
            Assert.Equal(MatrixCorrelation.Pearson(wtw, agop), row.AgopCorrelation);
            // Groups: all, pos, neg; three matrices each, per snapshot.
            Assert.Equal(3 * snaps.Count, analysis.Nfa.Count);
            Assert.Equal(9 * snaps.Count, analysis.Bands.Count);
            // At t = 0 the baseline compares W_0^T W_0 with itself.
            Assert.All(analysis.Nfa.Where(p => p.Step == 0), p => Assert.Equal(1.0, p.InitialCorrelation, 1e-12));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void ConvolutionalSnapshotsReadBackAsFilters()
    {
        var data = new DataSpec { Dim = 2, Size = 6, Xi0 = 1, Xi1 = 2, Gain = 3 };
        var network = new NetworkSpec { K = 2, Readout = Readout.Trained };
        var training = new TrainingSpec { Time = 2, Seed = 0, TestSize = 10, LogPoints = 3, LogStart = 0.5, Snapshots = 2 };
        var task = new NlgpTask(data);
        var run = ConvolutionRun.Run(task, network, training, 3);
        string dir = WriteFolder(Manifest(data, network, training, "conv", 3), d =>
        {
            ConvolutionRun.Filters(run).Save(Path.Combine(d, "weights", "seed_0.csv"));
            ConvolutionRun.Units([run]).Save(Path.Combine(d, "units.csv"));
        });
        try
        {
            var folder = SimulationFolder.Load(dir);
            Assert.True(folder.Convolutional);
            Assert.Equal(9, folder.Features);
            var snaps = folder.Snapshots(0);
            Assert.Equal(run.Snapshots.Count, snaps.Count);
            for (int i = 0; i < snaps.Count; i++)
            {
                Assert.Equal(run.Snapshots[i].W, snaps[i].W);
                Assert.Equal(ParameterSource.Snapshot, snaps[i].Source);
                Assert.Equal(run.Snapshots[i].V, snaps[i].V);
                Assert.Equal(run.Snapshots[i].B, snaps[i].B);
            }
            var sample = AgopAnalysis.Sample(task, InputKind.Nlgp, 1, 8);
            var analysis = AgopAnalysis.Analyse(folder, 0, sample);
            var last = snaps[^1];
            var net = new ConvolutionalNetwork(network, data, 3, LearningRates.Resolve(training, network), last.W, last.V, last.B);
            Assert.Equal(Agop.Patch(net, sample.X, sample.Count), analysis.FinalMatrices[("all", "agop")]);
            Assert.Equal(9 * 9, analysis.FinalMatrices[("all", "wtw")].Length);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void FoldersThatAreNotSimulateRunsAreRefusedNamingTheOption()
    {
        string missing = Path.Combine(Path.GetTempPath(), "theory-agop-" + Guid.NewGuid().ToString("N"));
        var e = Assert.Throws<SpecException>(() => SimulationFolder.Load(missing));
        Assert.Contains("--run", e.Message);
        string dir = Directory.CreateTempSubdirectory("theory-agop-bad").FullName;
        try
        {
            Assert.Contains("manifest.json", Assert.Throws<SpecException>(() => SimulationFolder.Load(dir)).Message);
            var other = new RunManifest { Command = "rfm" };
            Json.Save(Path.Combine(dir, "manifest.json"), other);
            Assert.Contains("not a theory simulate run", Assert.Throws<SpecException>(() => SimulationFolder.Load(dir)).Message);
            var sim = Manifest(Ring, new NetworkSpec(), new TrainingSpec(), "fc");
            sim.Command = "simulate";
            Json.Save(Path.Combine(dir, "manifest.json"), sim);
            Assert.Contains("weights/seed_0.csv", Assert.Throws<SpecException>(() => SimulationFolder.Load(dir)).Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
