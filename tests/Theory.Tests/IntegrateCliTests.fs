/// `theory integrate`: outputs, reproducibility, bad input (exit 2) and divergence (exit 1, partial trajectory).
module Theory.Tests.IntegrateCliTests

open System
open System.IO
open Xunit
open Theory.Interop.Io
open Theory.Tests.CliTests

let private tempDir () = scratchDir "theory-integrate-"

/// A small, fast configuration: a ring of 16 pixels, K = 2, T = 5.
let private small (out: string) =
    [| "integrate"; "--dim"; "1"; "--size"; "16"; "-K"; "2"; "--time"; "5"; "--log-points"; "5"; "--log-start"; "0.5"
       "--out"; out |]

[<Fact>]
let ``integrate writes the trajectory with the simulator's column names and a completed manifest`` () =
    Theory.Cli.Progress.quiet <- true
    let out = tempDir ()
    let code, err, stdout = runCli (small out)
    Assert.True((code = 0), err)
    let csv = CsvData.Read(Path.Combine(out, "trajectory.csv"))
    Assert.Equal<string[]>(
        [| "t"; "eps_g"; "mse"; "accuracy"; "eps_g_0"; "eps_g_1"; "q0_0_0"; "q0_0_1"; "q0_1_1"; "q1_0_0"; "q1_0_1"; "q1_1_1"
           "v_0"; "v_1"; "b_0"; "b_1" |],
        csv.Columns
    )
    Assert.Equal(6, csv.Rows.Count)
    Assert.Equal<float[]>(Theory.Interop.TimeGrid.LogSpaced(0.5, 5.0, 5), csv.Numbers "t")
    let eps = csv.Numbers "eps_g"
    Assert.True(eps |> Array.forall (fun e -> e > 0.0 && e < 1.0))
    Assert.Equal<float[]>(eps |> Array.map (fun e -> 2.0 * e), csv.Numbers "mse")
    let manifest = File.ReadAllText(Path.Combine(out, "manifest.json"))
    Assert.Contains("\"status\": \"completed\"", manifest)
    Assert.Contains("rhs_evaluations", manifest)
    Assert.Contains("eps_g", stdout)
    Assert.Contains("merged Fourier modes", stdout)

[<Fact>]
let ``the same seed and configuration give a bitwise-identical trajectory`` () =
    Theory.Cli.Progress.quiet <- true
    let a, b = tempDir (), tempDir ()
    Assert.Equal(0, (let c, _, _ = runCli (small a) in c))
    Assert.Equal(0, (let c, _, _ = runCli (small b) in c))
    Assert.Equal<byte[]>(File.ReadAllBytes(Path.Combine(a, "trajectory.csv")), File.ReadAllBytes(Path.Combine(b, "trajectory.csv")))
    // another seed gives other initial weights, hence another trajectory
    let c = tempDir ()
    Assert.Equal(0, (let code, _, _ = runCli (Array.append (small c) [| "--seed"; "3" |]) in code))
    Assert.NotEqual<byte[]>(File.ReadAllBytes(Path.Combine(a, "trajectory.csv")), File.ReadAllBytes(Path.Combine(c, "trajectory.csv")))

[<Theory>]
[<InlineData("--open", "--open")>]
[<InlineData("--solver rk45", "--solver")>]
[<InlineData("--rtol 0", "--rtol")>]
[<InlineData("--atol -1", "--atol")>]
[<InlineData("--dt 0.1", "--dt")>]
[<InlineData("--solver euler --dt 0", "--dt")>]
[<InlineData("--solver euler --dt 100", "--dt")>]
[<InlineData("--reference /nonexistent/trajectory.csv", "--reference")>]
[<InlineData("--activation tanh", "--activation")>]
[<InlineData("--bias trained", "--bias")>]
[<InlineData("-K 0", "-K")>]
[<InlineData("--lr -1", "--lr")>]
[<InlineData("--time 0", "--time")>]
let ``bad integrate input exits 2 with one line naming the option`` (extra: string, option: string) =
    let out = tempDir ()
    let code, err, _ = runCli (Array.append (small out) (extra.Split ' '))
    Assert.Equal(2, code)
    let lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries)
    Assert.Equal(1, lines.Length)
    Assert.Contains(option, lines[0])
    Assert.False(File.Exists(Path.Combine(out, "trajectory.csv")))

[<Fact>]
let ``a diverging ODE exits 1, names the time reached and keeps the trajectory so far`` () =
    Theory.Cli.Progress.quiet <- true
    let out = tempDir ()
    // A linear network with a huge rate: the overlaps grow exponentially.
    let args =
        [| "integrate"; "--dim"; "1"; "--size"; "8"; "-K"; "2"; "--activation"; "linear"; "--lr"; "200"; "--convention"
           "half-mse"; "--time"; "50"; "--log-points"; "30"; "--log-start"; "0.01"; "--bias"; "none"; "--out"; out |]
    let code, err, _ = runCli args
    Assert.Equal(1, code)
    Assert.Contains("diverged", err)
    Assert.Contains("t = ", err)
    let csv = CsvData.Read(Path.Combine(out, "trajectory.csv"))
    Assert.True(csv.Rows.Count >= 1 && csv.Rows.Count < 31)
    Assert.Contains("\"status\": \"failed\"", File.ReadAllText(Path.Combine(out, "manifest.json")))

[<Fact>]
let ``explicit Euler runs and --reference reports the deviation from another trajectory`` () =
    Theory.Cli.Progress.quiet <- true
    let adaptive = tempDir ()
    Assert.Equal(0, (let c, _, _ = runCli (small adaptive) in c))
    let euler = tempDir ()
    let reference = Path.Combine(adaptive, "trajectory.csv")
    let code, err, stdout =
        runCli (Array.append (small euler) [| "--solver"; "euler"; "--dt"; "0.001"; "--reference"; reference |])
    Assert.True((code = 0), err)
    Assert.Contains("max |eps_g - eps_ref| / eps_ref", stdout)
    let a = (CsvData.Read reference).Numbers "eps_g"
    let b = (CsvData.Read(Path.Combine(euler, "trajectory.csv"))).Numbers "eps_g"
    Array.iter2 (fun (x: float) y -> Assert.True(abs (x - y) < 1e-4 * x, sprintf "%g vs %g" x y)) a b

[<Fact>]
let ``--no-class-error drops the accuracy column`` () =
    Theory.Cli.Progress.quiet <- true
    let out = tempDir ()
    let code, err, _ = runCli (Array.append (small out) [| "--no-class-error" |])
    Assert.True((code = 0), err)
    let csv = CsvData.Read(Path.Combine(out, "trajectory.csv"))
    Assert.DoesNotContain("accuracy", csv.Columns)

[<Fact>]
let ``--config sets integrate options and flags win`` () =
    Theory.Cli.Progress.quiet <- true
    let out = tempDir ()
    let config = Path.Combine(out, "config.json")
    File.WriteAllText(config, """{ "dim": 1, "size": 16, "K": 2, "time": 5, "log-points": 3, "solver": "dp5", "rtol": 1e-7 }""")
    let code, err, stdout = runCli [| "integrate"; "--config"; config; "--time"; "2"; "--out"; out |]
    Assert.True((code = 0), err)
    Assert.Contains("rtol 1e-07", stdout)
    let t = (CsvData.Read(Path.Combine(out, "trajectory.csv"))).Numbers "t"
    Assert.Equal(2.0, t[t.Length - 1])
    Assert.Equal(4, t.Length)

[<Theory>]
[<InlineData("stiff")>]
[<InlineData("bdf")>]
[<InlineData("auto")>]
[<InlineData("rodas5p")>]
[<InlineData("rosw")>]
let ``the stiff solvers follow the Dormand-Prince trajectory`` (solver: string) =
    Theory.Cli.Progress.quiet <- true
    let reference = tempDir ()
    Assert.Equal(0, (let c, _, _ = runCli (Array.append (small reference) [| "--rtol"; "1e-10"; "--atol"; "1e-10" |]) in c))
    let out = tempDir ()
    let code, err, stdout = runCli (Array.append (small out) [| "--solver"; solver; "--rtol"; "1e-8"; "--atol"; "1e-8" |])
    Assert.True((code = 0), err)
    Assert.Contains(sprintf "solver %s" solver, stdout)
    let a = (CsvData.Read(Path.Combine(reference, "trajectory.csv"))).Numbers "eps_g"
    let b = (CsvData.Read(Path.Combine(out, "trajectory.csv"))).Numbers "eps_g"
    // BDF's global error runs 10-100 x its tolerance (README, the ODE solvers).
    Array.iter2 (fun (x: float) y -> Assert.True(abs (x - y) < 1e-5 * x, sprintf "%s: %g vs %g" solver x y)) a b
    Assert.Contains(sprintf "\"solver\": \"%s\"" solver, File.ReadAllText(Path.Combine(out, "manifest.json")))

[<Fact>]
let ``the stiff methods get the block-diagonal Jacobian of the ODE layout, one block per mode`` () =
    let data = Theory.Interop.DataSpec(Dim = 1, Size = 16)
    let net = Theory.Interop.NetworkSpec(K = 3)
    let problem = Theory.Get.Engine.nlgpProblem data net (Theory.Interop.TrainingSpec()) Theory.Gaussian.QuadratureSettings.defaults true
    let layout = Theory.Get.Layout problem.System
    for m in [ Theory.Ode.Stiff; Theory.Ode.Bdf; Theory.Ode.Auto ] do
        match (Theory.Get.Engine.odeOptionsFor layout true { Theory.Ode.Options.defaults with Method = m }).Jacobian with
        | Theory.Ode.BlockDiagonal sizes ->
            // 9 merged modes of a ring of 16 with 6 densities each, then the 3 biases (the mf readout is fixed)
            Assert.Equal<int[]>(Array.append (Array.create 9 6) [| 3 |], sizes)
        | other -> failwithf "%A: %A" m other
    // Dormand-Prince, an explicit choice, or BlockJacobian = false keep the options as given.
    Assert.Equal(Theory.Ode.Options.defaults, Theory.Get.Engine.odeOptionsFor layout true Theory.Ode.Options.defaults)
    let stiff = { Theory.Ode.Options.defaults with Method = Theory.Ode.Stiff }
    Assert.Equal(stiff, Theory.Get.Engine.odeOptionsFor layout false stiff)
    let chosen = { stiff with Jacobian = Theory.Ode.BlockDiagonal [| layout.Size |] }
    Assert.Equal(chosen, Theory.Get.Engine.odeOptionsFor layout true chosen)
