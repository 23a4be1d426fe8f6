/// Progress display for long work: Spectre.Console bars on a terminal, plain periodic lines (on stderr) when the
/// output is redirected, so logs stay readable. Work reports a fraction in [0, 1] per task.
module Theory.Cli.Progress

open System
open System.Diagnostics
open Spectre.Console

/// Set by `--quiet` or by tests: no progress output at all.
let mutable quiet = false

/// Plain lines instead of live bars in the current asynchronous flow (set by `theory sweep` for the points it runs
/// in parallel, whose output goes to their own log files).
let private plainHere = Threading.AsyncLocal<bool>()

/// Switches the current flow (and what it starts) to plain progress lines.
let usePlainLines () = plainHere.Value <- true

let private interactive () =
    not plainHere.Value && not Console.IsErrorRedirected && not (String.IsNullOrEmpty(Environment.GetEnvironmentVariable "TERM"))
    && Environment.GetEnvironmentVariable "TERM" <> "dumb"

/// Runs `work` with a reporter `report taskIndex fraction` (thread-safe) for the named tasks.
let run (tasks: string[]) (work: (int -> float -> unit) -> 'T) : 'T =
    if quiet || tasks.Length = 0 then
        work (fun _ _ -> ())
    elif interactive () then
        let console = AnsiConsole.Create(AnsiConsoleSettings(Out = AnsiConsoleOutput(Console.Error)))
        let mutable result = Unchecked.defaultof<'T>
        console
            .Progress()
            .Columns(
                TaskDescriptionColumn(),
                ProgressBarColumn(),
                PercentageColumn(),
                ElapsedTimeColumn(),
                RemainingTimeColumn()
            )
            .Start(fun ctx ->
                let bars = tasks |> Array.map (fun name -> ctx.AddTask(name, true, 1.0))
                result <- work (fun i f -> bars[i].Value <- max bars[i].Value (min 1.0 f)))
        result
    else
        let clock = Stopwatch.StartNew()
        let last = Array.create tasks.Length -1.0
        let gate = obj ()
        let mutable lastPrint = TimeSpan.Zero
        let report i (f: float) =
            lock gate (fun () ->
                // A line every 10% per task, and at most one line every 2 seconds in between.
                let due = f >= 1.0 || floor (f * 10.0) > floor (last[i] * 10.0) || clock.Elapsed - lastPrint > TimeSpan.FromSeconds 30.0
                if due && f > last[i] then
                    last[i] <- f
                    lastPrint <- clock.Elapsed
                    eprintfn "[%7.1fs] %s %5.1f%%" clock.Elapsed.TotalSeconds tasks[i] (100.0 * min 1.0 f))
        work report
