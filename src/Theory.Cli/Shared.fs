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

/// The data specification from `--dim --size --xi --gain --open --jitter` (defaults from `DataSpec`).
let dataSpec (o: Bag) : DataSpec =
    let d = DataSpec()
    let xi0, xi1 = defaultArg (o.Pair "Xi") (d.Xi0, d.Xi1)
    let gain =
        match o.Floats "Gain" with
        | Some [| g |] -> g
        | Some gs when gs.Length > 1 -> raise (SpecException("--gain", "this command takes one gain"))
        | _ -> d.Gain
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

/// The training specification from `--lr --lr-readout --lr-bias --convention --time --seed --inputs ...`.
let trainingSpec (o: Bag) : TrainingSpec =
    let d = TrainingSpec()
    let convention =
        o.TryGet<string> "Convention"
        |> Option.map (choice "--convention" [ "reference", LrConvention.Reference; "half-mse", LrConvention.HalfMse ])
        |> Option.defaultValue d.Convention
    let inputs =
        o.TryGet<string> "Inputs"
        |> Option.map (choice "--inputs" [ "nlgp", InputKind.Nlgp; "gp", InputKind.Gp ])
        |> Option.defaultValue d.Inputs
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

/// The output folder (`--out`, default `runs/<command>`), created and probed for writing.
let runDirectory (o: Bag) (command: string) =
    RunDirectory.Prepare(o.Get("Out", IO.Path.Combine("runs", command)))

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
    try
        body ()
        finish "completed" null
        0
    with
    | :? RunFailedException as e ->
        finish "failed" e.Message
        eprintfn "theory %s: %s" command e.Message
        eprintfn "theory %s: what was measured up to then is in %s" command dir.Path
        1
    | :? OperationCanceledException ->
        finish "interrupted" "interrupted by a signal"
        eprintfn "theory %s: interrupted; partial results are in %s" command dir.Path
        130

/// Prints a small aligned table to stdout.
let printTable (headers: string[]) (rows: string[] list) =
    let widths =
        headers |> Array.mapi (fun i h -> rows |> List.fold (fun w (r: string[]) -> max w r[i].Length) h.Length)
    let line (cells: string[]) =
        cells |> Array.mapi (fun i c -> c.PadLeft widths[i]) |> String.concat "  " |> printfn "%s"
    line headers
    line (widths |> Array.map (fun w -> String('-', w)))
    rows |> List.iter line
