/// What every command shares: building the validated specifications from the options, the run directory and
/// manifest life cycle, and interruption (Ctrl-C / SIGTERM) handling.
module Theory.Cli.Shared

open System
open System.Runtime.InteropServices
open System.Text.Json.Nodes
open System.Threading
open Theory.Interop
open Theory.Interop.Io
open Theory.Cli.Options

/// Cancelled by the first Ctrl-C or SIGTERM; long runs poll it, stop, and write what they measured so far.
/// A second Ctrl-C ends the process at once.
module Interrupt =
    let private cts = new CancellationTokenSource()
    let mutable private registrations: IDisposable list = []
    let token () = cts.Token

    /// Installs the SIGINT/SIGTERM handlers once per process.
    let install () =
        let handler (ctx: PosixSignalContext) =
            if cts.IsCancellationRequested then
                ctx.Cancel <- false
            else
                ctx.Cancel <- true
                eprintfn "theory: interrupted; finishing the current step and writing what was measured (again to abort)"
                cts.Cancel()
        if List.isEmpty registrations then
            registrations <-
                [ PosixSignalRegistration.Create(PosixSignal.SIGINT, Action<_> handler)
                  PosixSignalRegistration.Create(PosixSignal.SIGTERM, Action<_> handler) ]

/// Validation without running: `theory sweep` checks every point of a grid before it starts any, by running each
/// point's command in this mode. Every command validates all its options before it asks for its output folder
/// (the project's "nothing half-written" rule), so `runDirectory` is where a command in this mode stops, by raising
/// `DryRun.Passed`. The mode is per asynchronous flow: points running in parallel are not affected.
module DryRun =
    /// Raised by `runDirectory` in validation mode: every option was accepted.
    exception Passed

    let private active = System.Threading.AsyncLocal<bool>()

    /// Whether the current flow only validates.
    let isActive () = active.Value

    /// Runs `f` in validation mode: Ok () when the options were accepted, Error message otherwise (one line).
    let check (f: unit -> int) : Result<unit, string> =
        let saved = active.Value
        active.Value <- true
        try
            try
                f () |> ignore
                // It returned without asking for its output folder: it printed help (a value "--help") or is not a
                // command that writes a run folder.
                Error "ends without preparing an output folder (does a value read --help?)"
            with
            | Passed -> Ok()
            | :? SpecException as e -> Error e.Message
            | :? Argu.ArguParseException as e ->
                Error((e.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries) |> Array.tryHead |> Option.defaultValue e.Message).Replace("ERROR: ", "").Trim())
        finally
            active.Value <- saved

/// One command of `theory`, as the entry point and `theory sweep` see it.
type Command =
    { Name: string
      /// One line for `theory --help`.
      Text: string
      /// Parses the arguments and runs; bad input raises (SpecException, ArguParseException), see `invoke`.
      Run: string[] -> int
      /// The options the command accepts (`--config` keys, sweep grid keys).
      Options: unit -> OptionInfo list }

/// The first line of an exception message (Argu appends the whole usage to its errors).
let firstLine (s: string) =
    s.Split('\n', StringSplitOptions.RemoveEmptyEntries) |> Array.tryHead |> Option.defaultValue s |> fun l -> l.Trim()

/// Runs a command and maps every way it can end to an exit code with at most one line on stderr: 0 success,
/// 2 bad usage or invalid input (SpecException, Argu errors), 1 a failure nobody anticipated (the message, and
/// the stack trace when THEORY_DEBUG is set), 130 an interruption that escaped the command.
let invoke (command: Command) (argv: string[]) : int =
    try
        command.Run argv
    with
    | :? SpecException as e ->
        eprintfn "theory %s: %s" command.Name e.Message
        2
    | :? Argu.ArguParseException as e ->
        eprintfn "theory %s: %s (see theory %s --help)" command.Name (firstLine e.Message |> fun m -> m.Replace("ERROR: ", "")) command.Name
        2
    | :? OperationCanceledException ->
        eprintfn "theory %s: interrupted" command.Name
        130
    | e ->
        let what = if e :? OutOfMemoryException then "out of memory" else e.GetType().Name
        eprintfn "theory %s: failed: %s: %s" command.Name what (firstLine e.Message)
        if not (String.IsNullOrEmpty(Environment.GetEnvironmentVariable "THEORY_DEBUG")) then eprintfn "%O" e
        1

/// Maps a case name to the flag a user typed (`Init_Std` -> `--init-std`, `K` -> `-K`).
let flagOf (caseName: string) =
    if caseName = "K" then "-K" else "--" + caseName.ToLowerInvariant().Replace('_', '-')

/// Parses one of a fixed set of names, or fails naming the option and the allowed values.
let choice (option: string) (allowed: (string * 'T) list) (value: string) : 'T =
    match allowed |> List.tryFind (fun (n, _) -> String.Equals(n, value, StringComparison.OrdinalIgnoreCase)) with
    | Some(_, v) -> v
    | None ->
        let names = allowed |> List.map fst |> String.concat ", "
        raise (SpecException(option, sprintf "must be one of %s (got '%s')" names value))

/// `--bias none | fixed:B | trained:B`.
let parseBias (value: string) : BiasMode * float =
    let fail () = raise (SpecException("--bias", sprintf "must be none, fixed:B or trained:B with B a number (got '%s')" value))
    match value.Split(':') with
    | [| m |] when m.Equals("none", StringComparison.OrdinalIgnoreCase) -> BiasMode.None, 0.0
    | [| m; b |] ->
        let mode = choice "--bias" [ "fixed", BiasMode.Fixed; "trained", BiasMode.Trained ] m
        match Double.TryParse(b, Globalization.NumberStyles.Float, Globalization.CultureInfo.InvariantCulture) with
        | true, x when Double.IsFinite x -> mode, x
        | _ -> fail ()
    | _ -> fail ()

let biasText (mode: BiasMode) (b: float) =
    match mode with
    | BiasMode.None -> "none"
    | BiasMode.Fixed -> sprintf "fixed:%g" b
    | _ -> sprintf "trained:%g" b

/// The data specification of `--dim --size --xi --open --jitter` at the given gain (defaults from `DataSpec`).
let dataSpecAt (o: Bag) (gain: float) : DataSpec =
    let d = DataSpec()
    let xi0, xi1 = defaultArg (o.Pair "Xi") (d.Xi0, d.Xi1)
    DataSpec(
        Dim = o.Get("Dim", d.Dim),
        Size = o.Get("Size", d.Size),
        Xi0 = xi0,
        Xi1 = xi1,
        Gain = gain,
        Boundary = (if o.Flag "Open" then Boundary.Open else Boundary.Periodic),
        Jitter = o.Get("Jitter", d.Jitter)
    )
        .Validate()

/// The data specification from `--dim --size --xi --gain --open --jitter` (one gain).
let dataSpec (o: Bag) : DataSpec =
    let gain =
        match o.Floats "Gain" with
        | Some [| g |] -> g
        | Some gs when gs.Length > 1 -> raise (SpecException("--gain", "this command takes one gain"))
        | _ -> DataSpec().Gain
    dataSpecAt o gain

let activationNames =
    [ "erf", Activation.Erf; "relu", Activation.Relu; "sigmoid", Activation.Sigmoid; "linear", Activation.Linear; "cubic", Activation.Cubic ]

let readoutNames =
    [ "mf", Readout.MeanField; "committee", Readout.Committee; "lazy", Readout.Lazy; "trained", Readout.Trained ]

/// The network specification from `-K --activation --cubic --readout --bias --init-std`.
let networkSpec (o: Bag) : NetworkSpec =
    let d = NetworkSpec()
    let mode, b =
        match o.TryGet<string> "Bias" with
        | Some s -> parseBias s
        | None -> d.BiasMode, d.Bias
    let alpha, beta = defaultArg (o.Pair "Cubic") (d.CubicAlpha, d.CubicBeta)
    NetworkSpec(
        K = o.Get("K", d.K),
        Activation = (o.TryGet<string> "Activation" |> Option.map (choice "--activation" activationNames) |> Option.defaultValue d.Activation),
        Readout = (o.TryGet<string> "Readout" |> Option.map (choice "--readout" readoutNames) |> Option.defaultValue d.Readout),
        BiasMode = mode,
        Bias = b,
        InitStd = o.Get("Init_Std", d.InitStd),
        CubicAlpha = alpha,
        CubicBeta = beta
    )
        .Validate()

/// `--inputs nlgp|gp`: what the model is trained on (the NLGP or its Gaussian clone).
let inputKind (o: Bag) (fallback: InputKind) =
    o.TryGet<string> "Inputs"
    |> Option.map (choice "--inputs" [ "nlgp", InputKind.Nlgp; "gp", InputKind.Gp ])
    |> Option.defaultValue fallback

/// The training specification from `--lr --lr-readout --lr-bias --convention --time --seed --inputs ...`.
let trainingSpec (o: Bag) : TrainingSpec =
    let d = TrainingSpec()
    let convention =
        o.TryGet<string> "Convention"
        |> Option.map (choice "--convention" [ "reference", LrConvention.Reference; "half-mse", LrConvention.HalfMse ])
        |> Option.defaultValue d.Convention
    let inputs = inputKind o d.Inputs
    TrainingSpec(
        Lr = o.Get("Lr", d.Lr),
        Convention = convention,
        LrReadout = (o.TryGet<float> "Lr_Readout" |> Option.toNullable),
        LrBias = (o.TryGet<float> "Lr_Bias" |> Option.toNullable),
        Time = o.Get("Time", d.Time),
        Seed = o.Get("Seed", d.Seed),
        InitSeed = (o.TryGet<int> "Init_Seed" |> Option.toNullable),
        Inputs = inputs,
        TestSize = o.Get("Test_Size", d.TestSize),
        LogPoints = o.Get("Log_Points", d.LogPoints),
        LogStart = o.Get("Log_Start", d.LogStart),
        Snapshots = o.Get("Snapshots", d.Snapshots)
    )
        .Validate()

/// The tables a command writes under a folder (atomically), with their names relative to it, in the order written,
/// for the manifest's file list.
type OutputFiles(root: string) =
    let names = Collections.Generic.List<string>()
    member _.Write(name: string, table: CsvTable) =
        table.Save(IO.Path.Combine(root, name))
        names.Add name
    member _.Names = names

/// The output folder (`--out`, default `runs/<command>`), created and probed for writing. Commands call it after
/// validating every option: in `DryRun` mode it stops the command here (nothing is created).
let runDirectory (o: Bag) (command: string) =
    let path = o.Get("Out", IO.Path.Combine("runs", command))
    if DryRun.isActive () then
        if String.IsNullOrWhiteSpace path then raise (SpecException("--out", "must name a folder"))
        raise DryRun.Passed
    let dir = RunDirectory.Prepare(path)
    // A process killed while writing into this folder before left its temporary files: not ours to keep.
    dir.RemoveStaleTemporaryFiles() |> ignore
    dir

/// Refuses (SpecException naming the option of the largest term) a run whose estimated memory does not fit.
let ensureMemory (terms: Theory.Simulation.Training.MemoryTerm list) =
    Theory.Simulation.Training.ResourceEstimate.EnsureFits(Array.ofList terms)

/// Puts a record into the manifest configuration under `key`.
let addConfig (manifest: RunManifest) (key: string) (value: 'T) = manifest.Config[key] <- Json.ToNode value

/// Runs `body` with a manifest that is written at the start (status running) and at the end (completed,
/// interrupted or failed). A `RunFailedException` prints its message and gives exit code 1; an interruption
/// gives exit code 130. Everything `body` saved before either stays on disk.
let execute (command: string) (dir: RunDirectory) (manifest: RunManifest) (body: unit -> unit) : int =
    manifest.Command <- command
    dir.SaveManifest manifest
    let finish status message =
        manifest.Finish(status, message)
        dir.SaveManifest manifest
    // The manifest records how the run ended whatever happens; if even that cannot be written (disk full), the
    // original error is the one reported.
    let tryFinish status message =
        try finish status message with _ -> ()
    try
        body ()
        finish "completed" null
        0
    with
    | :? RunFailedException as e ->
        tryFinish "failed" e.Message
        eprintfn "theory %s: %s" command e.Message
        eprintfn "theory %s: what was measured up to then is in %s" command dir.Path
        1
    | :? OperationCanceledException ->
        tryFinish "interrupted" "interrupted by a signal"
        eprintfn "theory %s: interrupted; partial results are in %s" command dir.Path
        130
    | :? SpecException as e ->
        // Input found invalid only while running (e.g. a --reference file with no common times): exit 2 as usual.
        tryFinish "failed" e.Message
        reraise ()
    | e ->
        let what = if e :? OutOfMemoryException then "out of memory" else e.GetType().Name
        let message = sprintf "%s: %s" what (firstLine e.Message)
        tryFinish "failed" message
        eprintfn "theory %s: failed: %s" command message
        if not (String.IsNullOrEmpty(Environment.GetEnvironmentVariable "THEORY_DEBUG")) then eprintfn "%O" e
        1

/// Prints a small aligned table to stdout.
let printTable (headers: string[]) (rows: string[] list) =
    let widths =
        headers |> Array.mapi (fun i h -> rows |> List.fold (fun w (r: string[]) -> max w r[i].Length) h.Length)
    let line (cells: string[]) =
        cells |> Array.mapi (fun i c -> c.PadLeft widths[i]) |> String.concat "  " |> printfn "%s"
    line headers
    line (widths |> Array.map (fun w -> String('-', w)))
    rows |> List.iter line
