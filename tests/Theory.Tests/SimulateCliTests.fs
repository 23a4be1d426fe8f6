/// `theory simulate` end to end, in-process: bitwise reproducibility per seed (alone and with --seeds in
/// parallel), the divergence guard (exit 1, message, files kept) and bad input (exit 2).
namespace Theory.Tests

/// In-process CLI runs swap Console.Out and Console.Error, so they must not overlap with other tests that do: this
/// collection runs on its own, after the parallel ones.
[<Xunit.CollectionDefinition("simulate-console", DisableParallelization = true)>]
type SimulateConsoleCollection() = class end

[<Xunit.Collection("simulate-console")>]
module SimulateCliTests =

    open System
    open System.IO
    open Xunit
    open Theory.Interop.Io
    open Theory.Tests.CliTests

    let private small = "simulate --dim 1 --size 16 --time 30 --test-size 200 --log-points 10 --snapshots 3"

    let private tempDir () = scratchDir "theory-simulate"

    let private simulate (args: string) = runCliLine args

    /// Rows of a CSV (header excluded) whose `seed` column equals `seed`, as text.
    let private rowsOf (path: string) (seed: int) =
        let data = CsvData.Read path
        let i = data.Index "seed"
        data.Rows |> Seq.filter (fun r -> r[i] = string seed) |> Seq.map (String.concat ",") |> List.ofSeq

    [<Fact>]
    let ``same seed gives bitwise-identical files, alone and with --seeds in parallel`` () =
        let a, b, many = tempDir (), tempDir (), tempDir ()
        for dir, extra in [ a, "--seed 4"; b, "--seed 4"; many, "--seed 3 --seeds 3" ] do
            let code, err, _ = simulate (sprintf "%s %s --out %s" small extra dir)
            Assert.True((code = 0), err)
        for file in [ "trajectory.csv"; "units.csv"; "rf.csv"; Path.Combine("weights", "seed_4.csv") ] do
            Assert.Equal(File.ReadAllText(Path.Combine(a, file)), File.ReadAllText(Path.Combine(b, file)))
        Assert.Equal(File.ReadAllText(Path.Combine(a, "weights", "seed_4.csv")), File.ReadAllText(Path.Combine(many, "weights", "seed_4.csv")))
        for file in [ "trajectory.csv"; "units.csv"; "rf.csv" ] do
            let alone = rowsOf (Path.Combine(a, file)) 4
            Assert.NotEmpty alone
            Assert.Equal<string list>(alone, rowsOf (Path.Combine(many, file)) 4)
        // The three seeds are different runs, in seed order.
        let seeds = (CsvData.Read(Path.Combine(many, "trajectory.csv"))).Numbers "seed" |> Array.distinct
        Assert.Equal<float[]>([| 3.0; 4.0; 5.0 |], seeds)
        Assert.NotEqual<string list>(rowsOf (Path.Combine(many, "units.csv")) 3, rowsOf (Path.Combine(many, "units.csv")) 4)
        let manifest = File.ReadAllText(Path.Combine(many, "manifest.json"))
        Assert.Contains("\"status\": \"completed\"", manifest)

    [<Fact>]
    let ``a huge learning rate exits 1 with the step and the cause and keeps what was measured`` () =
        let dir = tempDir ()
        let code, err, _ =
            simulate (sprintf "simulate --dim 1 --size 16 --time 40 --test-size 100 --activation relu --readout committee --lr 50 --out %s" dir)
        Assert.Equal(1, code)
        Assert.Contains("diverged at step", err)
        Assert.Contains("learning rate", err)
        let trajectory = CsvData.Read(Path.Combine(dir, "trajectory.csv"))
        Assert.NotEmpty trajectory.Rows
        Assert.Equal(0.0, (trajectory.Numbers "t")[0])
        Assert.True(File.Exists(Path.Combine(dir, "units.csv")))
        Assert.Contains("\"status\": \"failed\"", File.ReadAllText(Path.Combine(dir, "manifest.json")))

    [<Theory>]
    [<InlineData("simulate --seeds 0", "--seeds")>]
    [<InlineData("simulate --inputs gauss", "--inputs")>]
    [<InlineData("simulate --activation tanh", "--activation")>]
    [<InlineData("simulate --readout soft", "--readout")>]
    [<InlineData("simulate --bias trained", "--bias")>]
    [<InlineData("simulate --lr -1", "--lr")>]
    [<InlineData("simulate --time 0", "--time")>]
    [<InlineData("simulate --convention sgd", "--convention")>]
    [<InlineData("simulate -K 0", "-K")>]
    let ``bad simulate input exits 2 naming the option`` (args: string, option: string) =
        let code, err, _ = simulate args
        Assert.Equal(2, code)
        let lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries)
        Assert.Equal(1, lines.Length)
        Assert.Contains(option, lines[0])

    [<Theory>]
    [<InlineData("simulate --kernel 3", "--kernel")>]
    [<InlineData("simulate --compare runs/x", "--compare")>]
    [<InlineData("simulate --model conv --kernel 0", "--kernel")>]
    [<InlineData("simulate --model conv --dim 1 --size 10 --kernel 11", "--kernel")>]
    [<InlineData("simulate --model conv --compare /nonexistent-run", "--compare")>]
    [<InlineData("simulate --model mlp", "--model")>]
    let ``bad convolutional options exit 2 naming the option`` (args: string, option: string) =
        let code, err, _ = simulate args
        Assert.Equal(2, code)
        Assert.Contains(option, err)

    [<Fact>]
    let ``the convolutional baseline trains, saves its filters and compares with a fully-connected run`` () =
        let fc, conv = tempDir (), tempDir ()
        let code, err, _ = simulate (sprintf "%s --out %s" small fc)
        Assert.True((code = 0), err)
        // Mark every unit localised so that the comparison has fields to work on whatever this short run learned.
        let rf = Path.Combine(fc, "rf.csv")
        let lines = File.ReadAllLines rf
        let col = Array.IndexOf(lines[0].Split(','), "localised")
        File.WriteAllLines(rf, lines |> Array.mapi (fun i l -> if i = 0 then l else l.Split(',') |> Array.mapi (fun j c -> if j = col then "1" else c) |> String.concat ","))
        let code, err, out = simulate (sprintf "%s --model conv --kernel 3 --out %s --compare %s" small conv fc)
        Assert.True((code = 0), err)
        let filters = CsvData.Read(Path.Combine(conv, "weights", "seed_0.csv"))
        Assert.Equal<float[]>([| -1.0; 0.0; 1.0 |], filters.Numbers "x" |> Array.distinct |> Array.sort)
        let compare = CsvData.Read(Path.Combine(conv, "compare.csv"))
        Assert.Equal(8, compare.Rows.Count)
        Assert.All(compare.Numbers "ncc", fun v -> Assert.InRange(abs v, 0.0, 1.0 + 1e-12))
        Assert.Contains("normalised cross-correlation", out)

    [<Fact>]
    let ``theory bench measures every configuration and names the machine`` () =
        let dir = tempDir ()
        Theory.Cli.Progress.quiet <- true
        let code, err, out = runCli [| "bench"; "--seconds"; "0.03"; "--out"; dir |]
        Assert.True((code = 0), err)
        Assert.Contains("machine:", out)
        let table = CsvData.Read(Path.Combine(dir, "bench.csv"))
        Assert.Equal(8, table.Rows.Count)
        for column in [ "whole_steps_per_s"; "sgd_steps_per_s"; "samples_per_s" ] do
            Assert.All(table.Numbers column, fun v -> Assert.True(v > 0.0, column))

    [<Fact>]
    let ``bench rejects a non-positive measuring time`` () =
        let code, err, _ = runCli [| "bench"; "--seconds"; "0" |]
        Assert.Equal(2, code)
        Assert.Contains("--seconds", err)
