// The project's build script: a plain F# script (no FAKE).
//   dotnet fsi build.fsx build            build everything (Release)
//   dotnet fsi build.fsx test [--no-figures] run every test (+ the quick figures); last line "N passed, N failed, N skipped"
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

/// A Python that has matplotlib (pyenv shims may shadow Debian's python3-matplotlib), or None.
let python () =
    [ "python3"; "/usr/bin/python3" ]
    |> List.tryFind (fun py ->
        try
            let psi = ProcessStartInfo(py, [ "-c"; "import matplotlib" ], UseShellExecute = false, RedirectStandardError = true)
            use p = Process.Start psi
            p.WaitForExit()
            p.ExitCode = 0
        with _ -> false)

/// Runs paper-figures/make_all.py; returns (exit code, passed, failed) from its "N passed, N failed" line.
let figureRun (extra: string list) =
    match python () with
    | None -> None
    | Some py ->
        let psi =
            ProcessStartInfo(py, [ Path.Combine("paper-figures", "make_all.py") ] @ extra, WorkingDirectory = root,
                             UseShellExecute = false, RedirectStandardOutput = true)
        use p = Process.Start psi
        let mutable counts = (0, 0)
        let mutable line = p.StandardOutput.ReadLine()
        while not (isNull line) do
            printfn "%s" line
            let m = Text.RegularExpressions.Regex.Match(line, @"^(\d+) passed, (\d+) failed")
            if m.Success then counts <- (int m.Groups[1].Value, int m.Groups[2].Value)
            line <- p.StandardOutput.ReadLine()
        p.WaitForExit()
        Some(p.ExitCode, fst counts, snd counts)

let figures (extra: string list) =
    match figureRun extra with
    | None ->
        eprintfn "build.fsx: no python3 with matplotlib found (apt-get install -y python3-matplotlib)"
        1
    | Some(code, _, _) -> code

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
            @ (extra |> List.filter (fun a -> a <> "--no-figures"))
        )
    let passed, failed, skipped = if Directory.Exists results then countResults results else (0, 0, 0)
    // A build failure or a crashed test host counts as one failure, so CI never reports green on it.
    let failed = if code <> 0 && failed = 0 then 1 else failed
    // The paper figures in quick mode: each figure produced (non-empty PDF and PNG) counts as a passed test;
    // without matplotlib they are reported as skipped.
    let passed, failed, skipped =
        if extra |> List.contains "--no-figures" then passed, failed, skipped
        else
            let scripts = Directory.GetFiles(Path.Combine(root, "paper-figures"), "fig_*.py").Length
            if scripts = 0 then passed, failed, skipped
            else
                match figureRun [ "--quick" ] with
                | Some(code, p, f) -> passed + p, failed + f + (if code <> 0 && f = 0 then 1 else 0), skipped
                | None ->
                    eprintfn "build.fsx: matplotlib not found; %d figure checks skipped" scripts
                    passed, failed, skipped + scripts
    printfn "%d passed, %d failed, %d skipped" passed failed skipped
    if failed = 0 then 0 else 1

let bench (extra: string list) =
    // `bench PATTERN [...]` is short for `bench --filter PATTERN [...]`; no argument runs every benchmark.
    let extra =
        match extra with
        | [] -> [ "--filter"; "*" ]
        | first :: _ when not (first.StartsWith "-") -> "--filter" :: extra
        | _ -> extra
    dotnet ([ "run"; "-c"; "Release"; "--project"; Path.Combine("bench", "Theory.Bench"); "--" ] @ extra)

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
