/// `theory rfm` end to end: a small run writes its files, is reproducible, and bad input exits 2.
module Theory.Tests.RfmCliTests

open System
open System.IO
open Xunit
open Theory.Tests.CliTests

/// A folder that does not exist yet, inside a scratch folder removed at exit.
let private tempDir () = Path.Combine(scratchDir "theory-rfm-", "out")

let private small =
    [| "rfm"; "--dim"; "1"; "--size"; "16"; "--xi"; "1"; "3"; "--train"; "60"; "--test"; "40"; "--iterations"; "2"
       "--blas"; "managed"; "--threads"; "1" |]

[<Fact>]
let ``rfm writes metrics, band, spectrum, metric and eigenvectors, reproducibly`` () =
    let a, b = tempDir (), tempDir ()
    try
        for dir in [ a; b ] do
            let code, err, _ = runCli (Array.append small [| "--out"; dir |])
            Assert.True((code = 0), err)
        for f in [ "metrics.csv"; "band.csv"; "spectrum.csv"; "metric.csv"; "eigvecs.csv"; "plot_rfm.py"; "manifest.json" ] do
            Assert.True(File.Exists(Path.Combine(a, f)), f)
        let metrics = File.ReadAllLines(Path.Combine(a, "metrics.csv"))
        Assert.Equal(4, metrics.Length) // header + iterations 0, 1, 2
        Assert.StartsWith("iteration,test_accuracy,test_mse", metrics[0])
        for f in [ "metrics.csv"; "band.csv"; "spectrum.csv"; "metric.csv"; "eigvecs.csv" ] do
            Assert.Equal<byte[]>(File.ReadAllBytes(Path.Combine(a, f)), File.ReadAllBytes(Path.Combine(b, f)))
        Assert.Contains("\"status\": \"completed\"", File.ReadAllText(Path.Combine(a, "manifest.json")))
    finally
        for dir in [ a; b ] do
            if Directory.Exists dir then Directory.Delete(dir, true)

[<Fact>]
let ``conv rfm writes the patch eigenvectors as q x q matrices`` () =
    let dir = tempDir ()
    try
        let args =
            [| "rfm"; "--conv"; "--patch"; "3"; "--dim"; "2"; "--size"; "6"; "--train"; "30"; "--test"; "20"
               "--iterations"; "1"; "--blas"; "managed"; "--threads"; "1"; "--out"; dir |]
        let code, err, _ = runCli args
        Assert.True((code = 0), err)
        let eig = File.ReadAllLines(Path.Combine(dir, "eigvec_1.csv"))
        Assert.Equal(4, eig.Length) // header + 3 rows
        Assert.Equal(3, eig[1].Split(',').Length)
        Assert.False(File.Exists(Path.Combine(dir, "spectrum.csv"))) // an open patch has no Fourier spectrum
    finally
        if Directory.Exists dir then Directory.Delete(dir, true)

[<Theory>]
[<InlineData("rfm --train 1", "--train")>]
[<InlineData("rfm --conv --patch 0", "--patch")>]
[<InlineData("rfm --conv --patch 21", "--patch")>]
[<InlineData("rfm --bandwidth 0", "--bandwidth")>]
[<InlineData("rfm --ridge -1", "--ridge")>]
[<InlineData("rfm --iterations -2", "--iterations")>]
[<InlineData("rfm --normalise sometimes", "--normalise")>]
[<InlineData("rfm --blas cuda", "--blas")>]
[<InlineData("rfm --threads 0", "--threads")>]
[<InlineData("rfm --inputs photos", "--inputs")>]
[<InlineData("rfm --train 40000000", "--train")>]
let ``rfm rejects bad input with one line naming the option`` (args: string, option: string) =
    let code, err, _ = runCli (args.Split ' ')
    Assert.Equal(2, code)
    let lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries)
    Assert.Equal(1, lines.Length)
    Assert.Contains(option, lines[0])
