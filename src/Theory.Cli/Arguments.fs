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

type IntegrateArgs =
    | Config of path: string
    | Out of dir: string
    | Seed of int
    | Init_Seed of int
    | Dim of int
    | Size of int
    | Xi of xi0: float * xi1: float
    | Gain of float
    | Open
    | Jitter of float
    | [<CustomCommandLine("-K")>] K of int
    | Activation of string
    | Cubic of alpha: float * beta: float
    | Readout of string
    | Bias of string
    | Init_Std of float
    | Lr of float
    | Lr_Readout of float
    | Lr_Bias of float
    | Convention of string
    | Time of float
    | Log_Points of int
    | Log_Start of float
    | Solver of string
    | Rtol of float
    | Atol of float
    | Dt of float
    | No_Class_Error
    | Reference of path: string

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

type SimulateArgs =
    | Config of path: string
    | Out of dir: string
    | Seed of int
    | Init_Seed of int
    | Seeds of int
    | Dim of int
    | Size of int
    | Xi of xi0: float * xi1: float
    | Gain of float
    | Open
    | Jitter of float
    | Inputs of string
    | [<CustomCommandLine("-K")>] K of int
    | Activation of string
    | Cubic of alpha: float * beta: float
    | Readout of string
    | Bias of string
    | Init_Std of float
    | Lr of float
    | Lr_Readout of float
    | Lr_Bias of float
    | Convention of string
    | Time of float
    | Test_Size of int
    | Log_Points of int
    | Log_Start of float
    | Snapshots of int
    | Model of string
    | Kernel of int
    | Compare of dir: string
    | Checkpoint_Every of float
    | Resume of dir: string

    interface IArgParserTemplate with
        member s.Usage = Usage.describe s

type BenchArgs =
    | Out of dir: string
    | Seed of int
    | Seconds of float
    | Xi of xi0: float * xi1: float
    | Gain of float

    interface IArgParserTemplate with
        member s.Usage = Usage.describe s

type NeuronArgs =
    | Config of path: string
    | Out of dir: string
    | Seed of int
    | Dim of int
    | Size of int
    | Xi of xi0: float * xi1: float
    | Gain of float list
    | Open
    | Jitter of float
    | Cubic of alpha: float * beta: float
    | Neuron_Bias of float
    | Init_Std of float
    | Flow_Time of float
    | Log_Points of int
    | Log_Start of float
    | Snapshots of int
    | Moment_Samples of int
    | Variants of string list
    | [<CustomCommandLine("--solver")>] Flow_Solver of string

    interface IArgParserTemplate with
        member s.Usage = Usage.describe s

type CumulantsArgs =
    | Config of path: string
    | Out of dir: string
    | Seed of int
    | Dim of int
    | Size of int
    | Xi of xi0: float * xi1: float
    | Gain of float list
    | Open
    | Jitter of float
    | Moment_Samples of int
    | Cp_Rank of int
    | Cp_Starts of int
    | Cp_Sign of string
    | Cumulant_Of of string
    | [<CustomCommandLine("--compare")>] Compare_Rf of dir: string
    | No_Neuron
    | Cubic of alpha: float * beta: float
    | Neuron_Bias of float
    | Init_Std of float
    | Flow_Time of float

    interface IArgParserTemplate with
        member s.Usage = Usage.describe s

type AgopArgs =
    | Config of path: string
    | Out of dir: string
    | Seed of int
    | [<CustomCommandLine("--run")>] Agop_Run of dir: string
    | [<CustomCommandLine("--samples")>] Agop_Samples of int
    | [<CustomCommandLine("--no-matrices")>] Agop_No_Matrices

    interface IArgParserTemplate with
        member s.Usage = Usage.describe s

type OverlayArgs =
    | Config of path: string
    | Out of dir: string
    | Seed of int
    | Init_Seed of int
    | [<CustomCommandLine("--seeds")>] Overlay_Seeds of int
    | Dim of int
    | Size of int
    | Xi of xi0: float * xi1: float
    | [<CustomCommandLine("--gain")>] Overlay_Gains of float list
    | Open
    | Jitter of float
    | [<CustomCommandLine("-K")>] K of int
    | Activation of string
    | Cubic of alpha: float * beta: float
    | Readout of string
    | Bias of string
    | Init_Std of float
    | Lr of float
    | Lr_Readout of float
    | Lr_Bias of float
    | Convention of string
    | Time of float
    | Test_Size of int
    | Log_Points of int
    | Log_Start of float
    | Snapshots of int
    | Solver of string
    | Rtol of float
    | Atol of float
    | Breakdown_Z of float
    | Breakdown_Points of int
    | Ipr_Factor of float

    interface IArgParserTemplate with
        member s.Usage = Usage.describe s

type SweepArgs =
    | Grid of path: string
    | Out of dir: string
    | Shard of spec: string
    | Jobs of int
    | Dry_Run

    interface IArgParserTemplate with
        member s.Usage = Usage.describe s

type SweepMergeArgs =
    | [<MainCommand>] Sweep_Dir of dir: string
    | All

    interface IArgParserTemplate with
        member s.Usage = Usage.describe s
