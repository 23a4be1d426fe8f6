/// The argument unions of every command (Argu). Options shared between commands use the same case name, so that
/// their help text (Usage.fs) and their meaning are shared; Options.fs reads them by name.
module Theory.Cli.Arguments

open Argu

type SampleArgs =
    | Config of path: string
    | Out of dir: string
    | Seed of int
    | Dim of int
    | Size of int
    | Xi of xi0: float * xi1: float
    | Gain of float
    | Open
    | Jitter of float
    | Count of int
    | Stats_Samples of int

    interface IArgParserTemplate with
        member s.Usage = Usage.describe s

type RfmArgs =
    | Config of path: string
    | Out of dir: string
    | Seed of int
    | Dim of int
    | Size of int
    | Xi of xi0: float * xi1: float
    | Gain of float
    | Open
    | Jitter of float
    | Inputs of string
    | Conv
    | Patch of int
    | [<CustomCommandLine("--train")>] Rfm_Train of int
    | [<CustomCommandLine("--test")>] Rfm_Test of int
    | [<CustomCommandLine("--iterations")>] Rfm_Iterations of int
    | Bandwidth of float
    | Ridge of float
    | Normalise of string
    | Centre
    | Blas of string
    | [<CustomCommandLine("--threads")>] Blas_Threads of int

    interface IArgParserTemplate with
        member s.Usage = Usage.describe s
