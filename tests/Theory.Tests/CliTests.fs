/// The command-line contract: help exits 0, bad input exits 2 with one line naming the option.
module Theory.Tests.CliTests

open System
open System.IO
open Xunit

/// A fresh temporary folder `PREFIX*`, removed when the test process exits (tests that keep their outputs for a
/// later assertion need not clean up, and a failed test leaves nothing behind in /tmp).
let scratchDir (prefix: string) =
    let d = Directory.CreateTempSubdirectory(prefix).FullName
    AppDomain.CurrentDomain.ProcessExit.Add(fun _ -> try Directory.Delete(d, true) with _ -> ())
    d

/// Runs the CLI entry point in-process with stderr captured; returns (exit code, stderr).
let runCli (args: string[]) =
    let err = new StringWriter()
    let out = new StringWriter()
    let oldErr, oldOut = Console.Error, Console.Out
    Console.SetError err
    Console.SetOut out
    try
        let code = Theory.Cli.Program.main args
        code, err.ToString(), out.ToString()
    finally
        Console.SetError oldErr
        Console.SetOut oldOut

/// `runCli` of a command line given as one string (split at spaces), progress bars off.
let runCliLine (args: string) =
    Theory.Cli.Progress.quiet <- true
    runCli (args.Split(' ', StringSplitOptions.RemoveEmptyEntries))

[<Fact>]
let ``top-level help exits 0 and lists sample`` () =
    let code, _, out = runCli [| "--help" |]
    Assert.Equal(0, code)
    Assert.Contains("sample", out)

[<Theory>]
[<InlineData("sample --size -3", "--size")>]
[<InlineData("sample --size 0", "--size")>]
[<InlineData("sample --dim 3", "--dim")>]
[<InlineData("sample --xi 3 1", "--xi")>]
[<InlineData("sample --xi 2 2", "--xi")>]
[<InlineData("sample --xi 0 2", "--xi")>]
[<InlineData("sample --gain -1", "--gain")>]
[<InlineData("sample --gain nan", "--gain")>]
[<InlineData("sample --gain inf", "--gain")>]
[<InlineData("sample --out /proc/forbidden", "--out")>]
[<InlineData("sample --config", "--config")>]
[<InlineData("sample --nonsense", "nonsense")>]
[<InlineData("frobnicate", "frobnicate")>]
let ``bad input exits 2 with one line naming the option`` (args: string, option: string) =
    let code, err, _ = runCli (args.Split ' ')
    Assert.Equal(2, code)
    let lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries)
    Assert.Equal(1, lines.Length)
    Assert.Contains(option, lines[0])

[<Fact>]
let ``config file with an unknown key exits 2`` () =
    let path = Path.GetTempFileName()
    File.WriteAllText(path, """{ "gain": 3, "bogus": 1 }""")
    let code, err, _ = runCli [| "sample"; "--config"; path |]
    Assert.Equal(2, code)
    Assert.Contains("bogus", err)

[<Fact>]
let ``malformed config file exits 2`` () =
    let path = Path.GetTempFileName()
    File.WriteAllText(path, """{ "gain": 3, """)
    let code, err, _ = runCli [| "sample"; "--config"; path |]
    Assert.Equal(2, code)
    Assert.Contains("--config", err)
