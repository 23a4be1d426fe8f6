// The project's build script: a plain F# script (no FAKE).
//   dotnet fsi build.fsx build            build everything (Release)
//   dotnet fsi build.fsx test             run every test; the last line is "N passed, N failed, N skipped"
//   dotnet fsi build.fsx figures [--quick] regenerate the paper figures (paper-figures/README.md)
//   dotnet fsi build.fsx bench [FILTER]   BenchmarkDotNet micro-benchmarks and `theory bench`
//   dotnet fsi build.fsx ci               what CI runs: test (+ quick figures when matplotlib is present)

open System
open System.Diagnostics
open System.IO
open System.Xml.Linq

let root = __SOURCE_DIRECTORY__
let args = fsi.CommandLineArgs |> Array.skip 1 |> List.ofArray

/// Runs a program in the repository root, streaming its output; returns the exit code.
let run (program: string) (arguments: string list) =
    let psi = ProcessStartInfo(program, arguments, WorkingDirectory = root, UseShellExecute = false)
    use p = Process.Start psi
    p.WaitForExit()
    p.ExitCode

let dotnet = run "dotnet"

let build () =
    dotnet [ "build"; "Theory.sln"; "-c"; "Release"; "--nologo"; "-v"; "quiet"; "-clp:ErrorsOnly" ]

/// Counts (passed, failed, skipped) from the TRX files that `dotnet test` wrote.
let countResults (dir: string) =
    let ns = XNamespace.Get "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"
    Directory.GetFiles(dir, "*.trx", SearchOption.AllDirectories)
    |> Array.fold
        (fun (p, f, s) file ->
            let counters = XDocument.Load(file).Descendants(ns + "Counters") |> Seq.head
            let get (name: string) = int (counters.Attribute(XName.Get name).Value)
            p + get "passed", f + get "failed" + get "error" + get "timeout" + get "aborted",
            s + get "notExecuted")
        (0, 0, 0)

let test (extra: string list) =
    let results = Path.Combine(root, "TestResults")
    if Directory.Exists results then Directory.Delete(results, true)
    let code =
        dotnet (
            [ "test"; "Theory.sln"; "-c"; "Release"; "--nologo"; "--logger"; "trx"; "--logger"; "console;verbosity=minimal"
              "--results-directory"; results ]
            @ extra
        )
    let passed, failed, skipped = if Directory.Exists results then countResults results else (0, 0, 0)
    // A build failure or a crashed test host counts as one failure, so CI never reports green on it.
    let failed = if code <> 0 && failed = 0 then 1 else failed
    printfn "%d passed, %d failed, %d skipped" passed failed skipped
    if failed = 0 then 0 else 1

let figures (extra: string list) =
    match build () with
    | 0 -> run "python3" ([ Path.Combine("paper-figures", "make_all.py") ] @ extra)
    | code -> code

let bench (extra: string list) =
    dotnet ([ "run"; "-c"; "Release"; "--project"; Path.Combine("bench", "Theory.Bench"); "--" ] @ (if extra.IsEmpty then [ "--filter"; "*" ] else extra))

let code =
    match args with
    | []
    | [ "build" ] -> build ()
    | "test" :: extra -> test extra
    | "figures" :: extra -> figures extra
    | "bench" :: extra -> bench extra
    | [ "ci" ] -> test []
    | other ->
        eprintfn "build.fsx: unknown target %A (build | test | figures [--quick] | bench [FILTER] | ci)" other
        2

exit code
