/// `theory neuron` and `theory cumulants` on the command line: bad input exits 2 naming the option, small runs
/// write their tidy files, and the same seed gives the same bytes.
namespace Theory.Tests

open Xunit

/// The CLI tests redirect the process-wide Console.Out/Error: these run alone, after the parallel tests, so that
/// their output (progress lines, tables) never lands in another test's captured streams.
[<CollectionDefinition("neuron-cli", DisableParallelization = true)>]
type NeuronCliCollection() = class end

[<Collection("neuron-cli")>]
module SingleNeuronCliTests =

    open System
    open System.IO
    open Theory.Interop.Io
    open Theory.Tests.CliTests

    let private tempDir () = scratchDir "theory-neuron-"

    [<Theory>]
    [<InlineData("neuron --neuron-bias nan", "--neuron-bias")>]
    [<InlineData("neuron --variants full sideways", "--variants")>]
    [<InlineData("neuron --moment-samples 3", "--moment-samples")>]
    [<InlineData("neuron --flow-time -1", "--flow-time")>]
    [<InlineData("neuron --init-std 0", "--init-std")>]
    [<InlineData("neuron --gain 1 3", "--gain")>]
    [<InlineData("neuron --cubic 1", "--cubic")>]
    [<InlineData("neuron --size 1", "--size")>]
    [<InlineData("cumulants --cp-rank 0", "--cp-rank")>]
    [<InlineData("cumulants --cp-sign sideways", "--cp-sign")>]
    [<InlineData("cumulants --cumulant-of class3", "--cumulant-of")>]
    [<InlineData("cumulants --compare /nonexistent/run", "--compare")>]
    [<InlineData("cumulants --gain 1 -3", "--gain")>]
    [<InlineData("cumulants --moment-samples 100000000", "--moment-samples")>]
    let ``bad neuron and cumulants input exits 2 with one line naming the option`` (args: string, option: string) =
        let code, err, _ = runCli (args.Split ' ')
        Assert.Equal(2, code)
        let lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries)
        Assert.Equal(1, lines.Length)
        Assert.Contains(option, lines[0])

    let private neuronArgs (out: string) =
        [| "neuron"; "--dim"; "1"; "--size"; "12"; "--gain"; "3"; "--moment-samples"; "300"; "--flow-time"; "2"
           "--log-points"; "5"; "--snapshots"; "2"; "--seed"; "4"; "--out"; out |]

    [<Fact>]
    let ``theory neuron writes a tidy trajectory and profiles, bitwise reproducibly`` () =
        let a, b = tempDir (), tempDir ()
        let code, err, out = runCli (neuronArgs a)
        Assert.True((code = 0), err)
        Assert.Contains("full", out)
        let t = CsvData.Read(Path.Combine(a, "trajectory.csv"))
        Assert.Equal<string[]>([| "variant"; "t"; "ipr"; "width"; "centre_x"; "centre_y"; "norm_sq"; "field_std"; "loss"; "kurtosis" |], t.Columns)
        // 4 variants x (t = 0 and 5 log-spaced times).
        Assert.Equal(24, t.Rows.Count)
        let variants = t.Rows |> Seq.map (fun r -> r[0]) |> Seq.distinct |> Array.ofSeq
        Assert.Equal<string[]>([| "full"; "gaussian"; "clone"; "exact" |], variants)
        let p = CsvData.Read(Path.Combine(a, "profiles.csv"))
        Assert.Equal<string[]>([| "variant"; "t"; "x"; "y"; "w" |], p.Columns)
        Assert.True(File.Exists(Path.Combine(a, "manifest.json")))
        let code2, _, _ = runCli (neuronArgs b)
        Assert.Equal(0, code2)
        for f in [ "trajectory.csv"; "profiles.csv" ] do
            Assert.Equal<byte[]>(File.ReadAllBytes(Path.Combine(a, f)), File.ReadAllBytes(Path.Combine(b, f)))

    [<Fact>]
    let ``theory cumulants writes factors per gain and joins a simulation's receptive fields`` () =
        let sim = tempDir ()
        // A stand-in for a `theory simulate` run folder: rf.csv (final receptive fields) and the data in its manifest.
        File.WriteAllText(
            Path.Combine(sim, "rf.csv"),
            "seed,unit,population,localised,ipr,width\n0,0,pos,1,0.2,2.5\n0,1,pos,1,0.3,1.5\n0,2,neg,0,0.01,9\n"
        )
        File.WriteAllText(
            Path.Combine(sim, "manifest.json"),
            """{ "config": { "data": { "dim": 1, "size": 16, "xi0": 1, "xi1": 3, "gain": 10 } } }"""
        )
        let out = tempDir ()
        let args =
            [| "cumulants"; "--dim"; "1"; "--size"; "16"; "--gain"; "3"; "10"; "--moment-samples"; "400"; "--cp-rank"; "2"
               "--flow-time"; "1"; "--compare"; sim; "--out"; out |]
        let code, err, stdout = runCli args
        Assert.True((code = 0), err)
        Assert.Contains("factor IPR", stdout)
        let f = CsvData.Read(Path.Combine(out, "factors.csv"))
        Assert.Equal(4, f.Rows.Count)
        Assert.True(f.Numbers "gamma" |> Array.forall (fun g -> g < 0.0))
        let c = CsvData.Read(Path.Combine(out, "comparison.csv"))
        let simRows = c.Rows |> Seq.filter (fun r -> r[c.Index "source"] = "simulation") |> Array.ofSeq
        Assert.Equal(1, simRows.Length)
        Assert.Equal("10", simRows[0][c.Index "gain"])
        // The localised units of the stand-in: IPR (0.2 + 0.3) / 2, width (2.5 + 1.5) / 2.
        Assert.Equal(0.25, CsvData.ParseNumber(simRows.[0].[c.Index "ipr"]), 12)
        Assert.Equal(2.0, CsvData.ParseNumber(simRows.[0].[c.Index "width"]), 12)
        Assert.True(File.Exists(Path.Combine(out, "neuron.csv")))

    [<Fact>]
    let ``without units marked localised, the comparison takes the population with the largest IPR`` () =
        let sim = tempDir ()
        File.WriteAllText(
            Path.Combine(sim, "rf.csv"),
            "seed,unit,population,localised,ipr,width\n0,0,pos,0,0.2,4\n0,1,pos,0,0.24,3\n0,2,neg,0,0.05,2\n0,3,neg,0,0.07,1\n"
        )
        let s = Theory.Cli.Commands.Cumulants.readSimulation sim
        Assert.Equal("population pos", s.Selection)
        Assert.Equal(2, s.Count)
        Assert.Equal(0.22, s.Ipr, 12)
        Assert.Equal(3.5, s.Width, 12)
        Assert.True(s.Data.IsNone)

    [<Fact>]
    let ``the full-vs-exact shape distance ignores translations and the sign`` () =
        let g = Theory.Simulation.Data.ImageGeometry(2, 6, Theory.Interop.Boundary.Periodic)
        let rng = Theory.Simulation.Data.Rng(3UL, 0UL)
        let a = Array.init 36 (fun _ -> rng.NextGaussian())
        // b = -a shifted by (2, 5) on the 6 x 6 torus.
        let b = Array.init 36 (fun i -> -a[((i / 6 + 1) % 6) * 6 + (i % 6 + 4) % 6])
        Assert.True(Theory.Cli.Commands.Neuron.shapeDistance g a b < 1e-12)
        let c = Array.init 36 (fun _ -> rng.NextGaussian())
        Assert.True(Theory.Cli.Commands.Neuron.shapeDistance g a c > 0.5)
