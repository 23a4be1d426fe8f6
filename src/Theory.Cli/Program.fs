/// Entry point of `theory`: dispatches on the command name, and turns bad input into one line on stderr with
/// exit code 2 (no stack trace), failed runs into exit code 1.
module Theory.Cli.Program

open System
open Argu
open Theory.Interop
open Theory.Cli.Arguments

/// A command: its name, its one-line description, and a runner that parses its own argument union.
let private entry<'T when 'T :> IArgParserTemplate> (name: string) (text: string) (run: Options.Bag -> int) : Shared.Command =
    { Name = name
      Text = text
      Run = (fun argv -> match Options.parse<'T> ("theory " + name) argv with Some o -> run o | None -> 0)
      Options = Options.describe<'T> }

/// Every command that runs one job; `theory sweep` runs any of them as the points of a grid.
let commands: Shared.Command list =
    [ entry<SampleArgs> "sample" "draw NLGP and Gaussian-clone images of both classes; write them and their statistics" Commands.Sample.run
      entry<SimulateArgs> "simulate" "online SGD of a two-layer network on NLGP or clone images; trajectory, receptive fields" Commands.Simulate.run
      entry<IntegrateArgs> "integrate" "integrate the Gaussian-equivalence ODEs of the task from the simulator's initial weights" Commands.Integrate.run
      entry<RfmArgs> "rfm" "recursive feature machine (Laplace kernel) or ConvRFM (--conv): metric learned by AGOP" Commands.Rfm.run
      entry<NeuronArgs> "neuron" "single-neuron gradient flow: full (fourth cumulant kept) / Gaussian part only / clone / untruncated" Commands.Neuron.run
      entry<CumulantsArgs> "cumulants" "CP decomposition of the NLGP fourth cumulant per gain; factor widths vs receptive fields" Commands.Cumulants.run
      entry<AgopArgs> "agop" "AGOP and neural feature ansatz of a simulate run's snapshots: W^T W vs AGOP, band profiles" Commands.Agop.run
      entry<BenchArgs> "bench" "whole-run benchmark: SGD steps per second with sampling, SGD alone, sampling alone" Commands.Bench.run
      entry<OverlayArgs> "overlay" "ODE, SGD on the clone and SGD on the NLGP from one initial state; where the Gaussian equivalence breaks" Commands.Overlay.run ]

/// The commands, and the sweep over them.
let private all = commands @ [ Commands.Sweep.command commands ]

let private usage () =
    printfn "theory %s: online SGD on non-linear Gaussian process images against Gaussian-equivalence theory" VersionInfo.Version
    printfn ""
    printfn "USAGE: theory <command> [options]      (theory <command> --help for the options)"
    printfn ""
    printfn "COMMANDS:"
    for c in all do
        printfn "  %-10s %s" c.Name c.Text

[<EntryPoint>]
let main argv =
    Shared.Interrupt.install ()
    match List.ofArray argv with
    | []
    | ("--help" | "-h" | "help") :: _ ->
        usage ()
        0
    | [ "--version" ] ->
        printfn "%s" VersionInfo.Version
        0
    | name :: rest ->
        match all |> List.tryFind (fun c -> c.Name = name) with
        | None ->
            let names = all |> List.map (fun c -> c.Name) |> String.concat ", "
            eprintfn "theory: unknown command '%s' (commands: %s; see theory --help)" name names
            2
        | Some command -> Shared.invoke command (Array.ofList rest)
