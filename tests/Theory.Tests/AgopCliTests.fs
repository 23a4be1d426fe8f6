/// `theory agop` end to end, in-process, on tiny `theory simulate` runs (fully-connected and convolutional): the files,
/// bitwise reproducibility, and bad input (exit 2, one line naming the option, nothing written).
module Theory.Tests.AgopCliTests

open System
open System.IO
open Xunit
open Theory.Interop.Io
open Theory.Tests.CliTests

let private tempDir (name: string) = scratchDir ("theory-agop-" + name)

let private cli (args: string) = runCliLine args

/// A tiny simulate run: 1D ring of 16, two seeds, snapshots at logged times (8 log intervals, 2 snapshot intervals).
let private simulate (extra: string) =
    let dir = tempDir "sim"
    let code, err, _ =
        cli (sprintf "simulate --dim 1 --size 16 --time 20 --test-size 100 --log-points 9 --snapshots 3 --seeds 2 %s --out %s" extra dir)
    Assert.True((code = 0), err)
    dir

[<Fact>]
let ``agop analyses every seed and snapshot of a simulate run, reproducibly`` () =
    let run = simulate ""
    let a, b = tempDir "a", tempDir "b"
    try
        for out in [ a; b ] do
            let code, err, stdout = cli (sprintf "agop --run %s --samples 300 --seed 3 --out %s" run out)
            Assert.True((code = 0), err)
            Assert.Equal("", err)
            Assert.Contains("corr G^1/2", stdout)
        let tables = [ "nfa.csv"; "band.csv"; "band_radial.csv"; "band_width.csv" ]
        let matrices =
            [ for s in [ 0; 1 ] do
                  for m in [ "wtw"; "agop" ] do
                      for p in [ "all"; "pos"; "neg" ] -> Path.Combine("matrices", sprintf "seed_%d_%s_%s.csv" s m p) ]
        for f in tables @ matrices do
            Assert.True(File.Exists(Path.Combine(a, f)), f)
            Assert.Equal<byte[]>(File.ReadAllBytes(Path.Combine(a, f)), File.ReadAllBytes(Path.Combine(b, f)))
        let nfa = CsvData.Read(Path.Combine(a, "nfa.csv"))
        Assert.Equal<string[]>(
            [| "seed"; "step"; "t"; "population"; "units"; "corr_agop"; "corr_agop_sqrt"; "corr_initial"; "corr_random"; "eff_rank_wtw"
               "eff_rank_agop"; "parameters" |],
            nfa.Columns)
        // 2 seeds x 3 snapshots (t = 0.01, 0.45, 20 at steps 0, 7, 320: the first log-spaced time rounds to step 0 at
        // D = 16) x 3 groups, the readout and biases read from the snapshot files themselves (columns v, b).
        Assert.Equal(2 * 3 * 3, nfa.Rows.Count)
        Assert.Equal<float[]>([| 0.0; 7.0; 320.0 |], nfa.Numbers "step" |> Array.distinct)
        Assert.All(nfa.Rows, fun r -> Assert.Equal("snapshot", r[nfa.Index "parameters"]))
        for c in [ "corr_agop"; "corr_agop_sqrt"; "corr_initial"; "corr_random" ] do
            Assert.All(nfa.Numbers c, fun x -> Assert.InRange(x, -1.0, 1.0))
        // Effective ranks lie between 1 and the group's number of units.
        for c in [ "eff_rank_wtw"; "eff_rank_agop" ] do
            Array.iter2 (fun r units -> Assert.InRange(r, 1.0 - 1e-12, units + 1e-12)) (nfa.Numbers c) (nfa.Numbers "units")
        // A 16 x 16 matrix per file; the AGOP is positive semi-definite, so its diagonal is >= 0.
        let agop = CsvData.Read(Path.Combine(a, "matrices", "seed_0_agop_pos.csv"))
        Assert.Equal(16, agop.Columns.Length)
        Assert.Equal(16, agop.Rows.Count)
        for i in 0..15 do
            Assert.True(CsvData.ParseNumber(agop.Rows[i].[i]) >= 0.0)
        let manifest = File.ReadAllText(Path.Combine(a, "manifest.json"))
        Assert.Contains("\"status\": \"completed\"", manifest)
        Assert.Contains("\"corr_agop_sqrt\"", manifest)
        // Another sample seed gives another AGOP (W^T W is the same).
        let c = tempDir "c"
        let code, err, _ = cli (sprintf "agop --run %s --samples 300 --seed 4 --no-matrices --out %s" run c)
        Assert.True((code = 0), err)
        Assert.False(Directory.Exists(Path.Combine(c, "matrices")))
        let other = CsvData.Read(Path.Combine(c, "nfa.csv"))
        Assert.Equal<float[]>(nfa.Numbers "corr_initial", other.Numbers "corr_initial")
        Assert.NotEqual<float[]>(nfa.Numbers "corr_agop", other.Numbers "corr_agop")
        Directory.Delete(c, true)
    finally
        for d in [ run; a; b ] do
            if Directory.Exists d then Directory.Delete(d, true)

[<Fact>]
let ``agop of a convolutional run compares the filter covariance with the patch-AGOP`` () =
    let run = tempDir "conv"
    let out = tempDir "conv-out"
    try
        let code, err, _ =
            cli (sprintf "simulate --model conv --kernel 3 --dim 2 --size 6 --time 5 --test-size 50 --log-points 5 --snapshots 3 --out %s" run)
        Assert.True((code = 0), err)
        let code, err, stdout = cli (sprintf "agop --run %s --samples 40 --out %s" run out)
        Assert.True((code = 0), err)
        Assert.Contains("patch-AGOP", stdout)
        let m = CsvData.Read(Path.Combine(out, "matrices", "seed_0_agop_all.csv"))
        Assert.Equal(9, m.Columns.Length) // 3 x 3 taps
        let band = CsvData.Read(Path.Combine(out, "band.csv"))
        // An open 3 x 3 patch has displacements -2..2 on each axis.
        Assert.Equal(2.0, band.Numbers "dx" |> Array.max)
        Assert.Equal(-2.0, band.Numbers "dy" |> Array.min)
    finally
        for d in [ run; out ] do
            if Directory.Exists d then Directory.Delete(d, true)

[<Fact>]
let ``agop refuses bad input with one line naming the option and writes nothing`` () =
    let notARun = tempDir "rfm"
    File.WriteAllText(Path.Combine(notARun, "manifest.json"), """{ "command": "rfm", "config": {} }""")
    let missing = Path.Combine(Path.GetTempPath(), "theory-agop-missing-" + Guid.NewGuid().ToString("N"))
    try
        for args, option in
            [ "agop", "--run"
              sprintf "agop --run %s" missing, "--run"
              sprintf "agop --run %s" notARun, "--run"
              sprintf "agop --run %s --samples 1" notARun, "--samples"
              "agop --run . --seed -1", "--seed" ] do
            let out = Path.Combine(Path.GetTempPath(), "theory-agop-out-" + Guid.NewGuid().ToString("N"))
            let code, err, _ = cli (sprintf "%s --out %s" args out)
            Assert.Equal(2, code)
            let lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            Assert.Equal(1, lines.Length)
            Assert.Contains(option, lines[0])
            Assert.False(Directory.Exists out, args)
    finally
        Directory.Delete(notARun, true)
