namespace Theory.Tests

open Xunit

/// Tests that run `theory` in-process swap Console.Out/Error (process-wide) and print progress and tables: this
/// collection runs on its own, never in parallel with any other test, so captures do not mix.
[<CollectionDefinition("console", DisableParallelization = true)>]
type ConsoleCollection() = class end

/// `theory sample` end to end, in-process: files and their shapes, bitwise reproducibility, the PSD warning, and
/// bad input.
[<Collection("console")>]
module SampleCliTests =

    open System
    open System.IO
    open Theory.Interop.Io
    open Theory.Tests.CliTests

    let private tempDir () = scratchDir "theory-sample-"

    let private sample (extra: string) (dir: string) =
        let args = (sprintf "sample --dim 2 --size 8 --xi 1 2 --gain 10 --count 5 --stats-samples 2000 --seed 3 %s --out" extra).Split(' ', StringSplitOptions.RemoveEmptyEntries)
        runCli (Array.append args [| dir |])

    [<Fact>]
    let ``writes samples, spectrum and stats with the documented shape`` () =
        let dir = tempDir ()
        let code, err, out = sample "" dir
        Assert.True((code = 0), err)
        let samples = CsvData.Read(Path.Combine(dir, "samples.csv"))
        Assert.Equal(4 + 64, samples.Columns.Length)
        Assert.Equal<string[]>([| "kind"; "class"; "label"; "index"; "x0" |], samples.Columns[..4])
        Assert.Equal(4 * 5, samples.Rows.Count)
        Assert.Equal<string[]>([| "nlgp"; "nlgp"; "gp"; "gp" |], [| for i in [ 0; 5; 10; 19 ] -> samples.Rows[i][0] |])
        Assert.Equal<string[]>([| "0"; "1"; "-1" |], [| samples.Rows[0][1]; samples.Rows[9][1]; samples.Rows[9][2] |])
        // NLGP pixels at gain 10 are bounded by 1 / sqrt(gamma(10)) ~ 1.006; the clone's are not bounded.
        let bound = 1.0 / sqrt (Theory.Simulation.Data.Nlgp.Gamma 10.0)
        for r in samples.Rows |> Seq.filter (fun r -> r[0] = "nlgp") do
            for v in r[4..] do
                Assert.True(abs (CsvData.ParseNumber v) <= bound)
        let stats = CsvData.Read(Path.Combine(dir, "stats.csv"))
        Assert.Equal(4, stats.Rows.Count)
        let err, expected = stats.Numbers "cov_rel_error", stats.Numbers "cov_rel_error_expected"
        for i in 0..3 do
            Assert.True(err[i] < 1.5 * expected[i], sprintf "row %d: %g vs %g" i err[i] expected[i])
        let k, se, exact = stats.Numbers "excess_kurtosis", stats.Numbers "excess_kurtosis_se", stats.Numbers "excess_kurtosis_exact"
        for i in 0..3 do
            Assert.True(abs (k[i] - exact[i]) < 5.0 * se[i], sprintf "row %d: kurtosis %g vs %g" i k[i] exact[i])
        let spectrum = CsvData.Read(Path.Combine(dir, "spectrum.csv"))
        Assert.Equal(2 * 64, spectrum.Rows.Count)
        Assert.All(spectrum.Numbers "input_eigenvalue", fun l -> Assert.True(l >= 0.0))
        let manifest = File.ReadAllText(Path.Combine(dir, "manifest.json"))
        Assert.Contains("\"status\": \"completed\"", manifest)
        Assert.Contains("kurtosis", out)

    [<Fact>]
    let ``the same seed gives identical bytes and another seed different ones`` () =
        let a, b, c = tempDir (), tempDir (), tempDir ()
        for dir, extra in [ a, ""; b, ""; c, "--seed 4" ] do
            let code, err, _ = sample extra dir
            Assert.True((code = 0), err)
        for file in [ "samples.csv"; "stats.csv"; "spectrum.csv" ] do
            Assert.Equal<byte[]>(File.ReadAllBytes(Path.Combine(a, file)), File.ReadAllBytes(Path.Combine(b, file)))
        Assert.NotEqual<byte[]>(File.ReadAllBytes(Path.Combine(a, "samples.csv")), File.ReadAllBytes(Path.Combine(c, "samples.csv")))

    [<Fact>]
    let ``a non-PSD torus kernel is reported once on stderr with its smallest eigenvalue`` () =
        let dir = tempDir ()
        let code, err, _ = runCli [| "sample"; "--dim"; "2"; "--size"; "20"; "--xi"; "1"; "4"; "--count"; "1"; "--stats-samples"; "0"; "--out"; dir |]
        Assert.Equal(0, code)
        let warnings = err.Split('\n') |> Array.filter (fun l -> l.Contains "warning")
        let line = Assert.Single warnings
        Assert.Contains("class 1", line)
        Assert.Contains("-0.00926", line)
        Assert.False(File.Exists(Path.Combine(dir, "stats.csv")))
        Assert.Contains("-0.00926", File.ReadAllText(Path.Combine(dir, "manifest.json")).Replace("-0.009258", "-0.00926"))

    [<Fact>]
    let ``config file keys count and stats_samples are read`` () =
        let dir = tempDir ()
        let config = Path.Combine(dir, "sample.json")
        File.WriteAllText(config, """{ "dim": 1, "size": 16, "count": 3, "stats_samples": 0, "xi": [1, 2] }""")
        let code, err, _ = runCli [| "sample"; "--config"; config; "--out"; dir |]
        Assert.True((code = 0), err)
        Assert.Equal(12, CsvData.Read(Path.Combine(dir, "samples.csv")).Rows.Count)

    [<Theory>]
    [<InlineData("sample --count 0", "--count")>]
    [<InlineData("sample --count 1000001", "--count")>]
    [<InlineData("sample --dim 1 --size 1000000 --count 100", "--count")>]
    [<InlineData("sample --stats-samples 1", "--stats-samples")>]
    [<InlineData("sample --stats-samples -5", "--stats-samples")>]
    [<InlineData("sample --seed -1", "--seed")>]
    [<InlineData("sample --open --size 100", "--size")>]
    [<InlineData("sample --jitter 2", "--jitter")>]
    let ``bad sample options exit 2 naming the option and write nothing`` (args: string, option: string) =
        let dir = Path.Combine(Path.GetTempPath(), "theory-sample-bad-" + Guid.NewGuid().ToString("N"))
        let code, err, _ = runCli (Array.append (args.Split ' ') [| "--out"; dir |])
        Assert.Equal(2, code)
        let lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries)
        Assert.Equal(1, lines.Length)
        Assert.Contains(option, lines[0])
        Assert.False(Directory.Exists dir)
