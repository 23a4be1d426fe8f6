/// Helpers for the sweep, resume and fuzz tests: `theory` as a subprocess (signals, SIGKILL), file checks.
module Theory.Tests.SweepSupport

open System
open System.Diagnostics
open System.IO
open System.Runtime.InteropServices
open System.Text.Json.Nodes

[<DllImport("libc", SetLastError = true)>]
extern int private kill(int pid, int signal)

let SIGINT = 2
let SIGKILL = 9
let SIGTERM = 15

/// Sends a POSIX signal to a process.
let signal (p: Process) (s: int) = kill (p.Id, s) |> ignore

/// Whether this process ignores SIGINT (as background jobs of a non-interactive shell do); a child inherits that,
/// and the .NET runtime then leaves SIGINT ignored, so such a test run has to interrupt with SIGTERM instead.
let sigintIgnored () =
    try
        File.ReadAllLines "/proc/self/status"
        |> Array.tryFind (fun l -> l.StartsWith "SigIgn:")
        |> Option.map (fun l -> (Convert.ToUInt64(l.Substring(7).Trim(), 16) >>> (SIGINT - 1)) &&& 1UL = 1UL)
        |> Option.defaultValue false
    with _ -> false

/// The `theory` assembly next to the tests (the test project references the CLI project).
let theoryDll = Path.Combine(AppContext.BaseDirectory, "theory.dll")

/// A running `dotnet theory.dll args` whose output is collected in the background.
type TheoryProcess(args: string list) =
    let psi =
        ProcessStartInfo(
            (match Environment.GetEnvironmentVariable "DOTNET_HOST_PATH" with
             | null | "" -> "dotnet"
             | host -> host),
            theoryDll :: args,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true
        )
    do
        // A test run inside a SLURM array job must not shard the sweeps it starts.
        for name in [ "SLURM_ARRAY_TASK_ID"; "SLURM_ARRAY_TASK_COUNT"; "SLURM_ARRAY_TASK_MIN"; "SLURM_ARRAY_TASK_STEP" ] do
            psi.Environment.Remove name |> ignore
    let proc = Process.Start psi
    let out = Text.StringBuilder()
    let err = Text.StringBuilder()
    do
        proc.OutputDataReceived.Add(fun e -> if not (isNull e.Data) then lock out (fun () -> out.AppendLine e.Data |> ignore))
        proc.ErrorDataReceived.Add(fun e -> if not (isNull e.Data) then lock err (fun () -> err.AppendLine e.Data |> ignore))
        proc.BeginOutputReadLine()
        proc.BeginErrorReadLine()

    member _.Process = proc
    member _.Signal(s: int) = signal proc s
    member _.HasExited = proc.HasExited

    /// Waits for the exit (at most `seconds`, then kills it and fails); returns (exit code, stdout, stderr).
    member _.Wait(seconds: float) =
        if not (proc.WaitForExit(TimeSpan.FromSeconds seconds)) then
            proc.Kill true
            failwithf "theory %A did not finish within %g s" args seconds
        proc.WaitForExit()
        proc.ExitCode, lock out (fun () -> out.ToString()), lock err (fun () -> err.ToString())

    interface IDisposable with
        member _.Dispose() =
            (try if not proc.HasExited then proc.Kill true with _ -> ())
            proc.Dispose()

/// Polls `condition` every 10 ms for at most `seconds`; true when it held.
let waitFor (seconds: float) (condition: unit -> bool) =
    let clock = Stopwatch.StartNew()
    let mutable ok = condition ()
    while not ok && clock.Elapsed.TotalSeconds < seconds do
        Threading.Thread.Sleep 10
        ok <- condition ()
    ok

/// The status in a run folder's manifest.json, or None.
let statusOf (dir: string) =
    let path = Path.Combine(dir, "manifest.json")
    if File.Exists path then
        try
            match JsonNode.Parse(File.ReadAllText path) with
            | null -> None
            | n -> Some(n["status"].GetValue<string>())
        with _ -> None
    else None

/// Every file under a folder, relative, sorted.
let filesUnder (dir: string) =
    Directory.GetFiles(dir, "*", SearchOption.AllDirectories)
    |> Array.map (fun f -> Path.GetRelativePath(dir, f))
    |> Array.sort

let tempDir (prefix: string) = Theory.Tests.CliTests.scratchDir prefix
