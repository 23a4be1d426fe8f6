/// `theory overlay` end to end, in-process: the files, bitwise reproducibility (also of each gain inside a sweep),
/// the ODE column against `theory integrate` from the same init seed, `--init-seed` in `simulate`, and bad input.
namespace Theory.Tests

[<Xunit.Collection("simulate-console")>]
module OverlayCliTests =

    open System
    open System.IO
    open Xunit
    open Theory.Interop.Io
    open Theory.Tests.CliTests

    let private small = "--dim 1 --size 16 --time 30 --test-size 200 --log-points 12 --snapshots 2 --seeds 2"

    let private tempDir () = scratchDir "theory-overlay"

    let private cli (args: string) = runCliLine args

    let private text (dir: string) (file: string) = File.ReadAllText(Path.Combine(dir, file))

    [<Fact>]
    let ``overlay writes its files and the same options give bitwise-identical files`` () =
        let a, b = tempDir (), tempDir ()
        for dir in [ a; b ] do
            let code, err, out = cli (sprintf "overlay %s --gain 3 --out %s" small dir)
            Assert.True((code = 0), err)
            Assert.Contains("breakdown", out)
        let files =
            [ "overlay.csv"; "runs.csv"; "breakdown.json"; "summary.csv"; Path.Combine("ode", "trajectory.csv")
              Path.Combine("nlgp", "trajectory.csv"); Path.Combine("clone", "rf.csv"); Path.Combine("nlgp", "weights", "seed_1.csv")
              Path.Combine("clone", "weights", "seed_2.csv"); Path.Combine("clone", "weights", "seed_3.csv") ]
        for f in files do
            Assert.Equal(text a f, text b f)
        // NLGP seeds 0, 1 and clone seeds 2, 3, every run with the initial weights of seed 0.
        let runs = CsvData.Read(Path.Combine(a, "runs.csv"))
        let seeds = runs.Rows |> Seq.map (fun r -> r[0], r[1]) |> Seq.distinct |> List.ofSeq
        Assert.Equal<(string * string) list>([ "nlgp", "0"; "nlgp", "1"; "clone", "2"; "clone", "3" ], seeds)
        let overlay = CsvData.Read(Path.Combine(a, "overlay.csv"))
        for column in [ "t"; "eps_g_ode"; "eps_g_clone_sd"; "eps_g_nlgp_max"; "z_nlgp_clone"; "z_gap"; "ipr_pos_nlgp"; "kurtosis_neg_clone"; "q1_pos_ode"; "b_neg_nlgp" ] do
            Assert.All(overlay.Numbers column, fun x -> Assert.False(Double.IsNaN x, column))
        // At t = 0 the ODE and every run share the initial state: the same order parameters.
        let first (c: string) = (overlay.Numbers c)[0]
        Assert.Equal(first "q0_pos_ode", first "q0_pos_nlgp", 12)
        Assert.Equal(first "q0_pos_ode", first "q0_pos_clone", 12)
        let manifest = text a "manifest.json"
        Assert.Contains("\"status\": \"completed\"", manifest)
        Assert.Contains("\"breakdown_time\"", text a "breakdown.json")

    [<Fact>]
    let ``a gain sweep writes one folder per gain, each as a single-gain run, and a summary`` () =
        let sweep, single = tempDir (), tempDir ()
        let code, err, out = cli (sprintf "overlay %s --gain 0.01 3 --out %s" small sweep)
        Assert.True((code = 0), err)
        Assert.Contains("gain sweep", out)
        let code1, err1, _ = cli (sprintf "overlay %s --gain 3 --out %s" small single)
        Assert.True((code1 = 0), err1)
        Assert.Equal(text single "overlay.csv", text (Path.Combine(sweep, "gain_3")) "overlay.csv")
        Assert.Equal(text single "runs.csv", text (Path.Combine(sweep, "gain_3")) "runs.csv")
        Assert.True(File.Exists(Path.Combine(sweep, "gain_0.01", "breakdown.json")))
        let summary = CsvData.Read(Path.Combine(sweep, "summary.csv"))
        Assert.Equal<float[]>([| 0.01; 3.0 |], summary.Numbers "gain")

    [<Fact>]
    let ``the overlay's ODE is theory integrate from the same init seed`` () =
        let ov, integ = tempDir (), tempDir ()
        let code, err, _ = cli (sprintf "overlay %s --seed 4 --init-seed 9 --out %s" small ov)
        Assert.True((code = 0), err)
        // integrate: another --seed, the same --init-seed, the same logging grid.
        let code2, err2, _ =
            cli (sprintf "integrate --dim 1 --size 16 --time 30 --log-points 12 --seed 77 --init-seed 9 --no-class-error --out %s" integ)
        Assert.True((code2 = 0), err2)
        let o = CsvData.Read(Path.Combine(ov, "overlay.csv"))
        let i = CsvData.Read(Path.Combine(integ, "trajectory.csv"))
        let eo, ei = o.Numbers "eps_g_ode", i.Numbers "eps_g"
        Assert.Equal(ei[0], eo[0], 14)
        Assert.Equal(ei[ei.Length - 1], eo[eo.Length - 1], 6)
        // A different init seed is a different initial state.
        let other = tempDir ()
        let code3, err3, _ = cli (sprintf "integrate --dim 1 --size 16 --time 30 --log-points 12 --init-seed 8 --no-class-error --out %s" other)
        Assert.True((code3 = 0), err3)
        Assert.NotEqual(ei[ei.Length - 1], (CsvData.Read(Path.Combine(other, "trajectory.csv")).Numbers "eps_g")[ei.Length - 1])

    [<Fact>]
    let ``simulate --init-seed starts every seed from the same weights`` () =
        let dir = tempDir ()
        let code, err, _ = cli (sprintf "simulate --dim 1 --size 16 --time 5 --test-size 100 --log-points 4 --snapshots 1 --seeds 2 --init-seed 5 --out %s" dir)
        Assert.True((code = 0), err)
        let initial (seed: int) =
            let w = CsvData.Read(Path.Combine(dir, "weights", sprintf "seed_%d.csv" seed))
            let step, value = w.Index "step", w.Index "w"
            w.Rows |> Seq.filter (fun r -> r[step] = "0") |> Seq.map (fun r -> r[value]) |> List.ofSeq
        Assert.NotEmpty(initial 0)
        Assert.Equal<string list>(initial 0, initial 1)
        let final (seed: int) =
            let w = CsvData.Read(Path.Combine(dir, "weights", sprintf "seed_%d.csv" seed))
            let step, value = w.Index "step", w.Index "w"
            w.Rows |> Seq.filter (fun r -> r[step] <> "0") |> Seq.map (fun r -> r[value]) |> List.ofSeq
        Assert.NotEqual<string list>(final 0, final 1)

    [<Fact>]
    let ``overlay help lists its options`` () =
        let code, _, out = cli "overlay --help"
        Assert.Equal(0, code)
        for flag in [ "--gain"; "--seeds"; "--init-seed"; "--breakdown-z"; "--breakdown-points"; "--ipr-factor" ] do
            Assert.Contains(flag, out)

    [<Theory>]
    [<InlineData("overlay --seeds 1", "--seeds")>]
    [<InlineData("overlay --gain -1", "--gain")>]
    [<InlineData("overlay --gain 3 3", "--gain")>]
    [<InlineData("overlay --open", "--open")>]
    [<InlineData("overlay --breakdown-z 0", "--breakdown-z")>]
    [<InlineData("overlay --breakdown-points 0", "--breakdown-points")>]
    [<InlineData("overlay --ipr-factor 0.5", "--ipr-factor")>]
    [<InlineData("overlay --init-seed -1", "--init-seed")>]
    [<InlineData("overlay --solver rk4", "--solver")>]
    [<InlineData("simulate --init-seed -1", "--init-seed")>]
    [<InlineData("integrate --init-seed -2", "--init-seed")>]
    let ``bad overlay input exits 2 naming the option`` (args: string, option: string) =
        let dir = tempDir ()
        let code, err, _ = cli (sprintf "%s --out %s" args dir)
        Assert.Equal(2, code)
        let lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries)
        Assert.Equal(1, lines.Length)
        Assert.Contains(option, lines[0])
        // Nothing half-written: bad input is refused before the run starts.
        Assert.False(File.Exists(Path.Combine(dir, "overlay.csv")))
