/// `theory simulate --checkpoint-every` and `--resume` through the command line: a real SIGINT to a running
/// subprocess saves checkpoints and exits 130 with status interrupted, and `--resume` then writes exactly the bytes
/// of an uninterrupted run; bad resumes exit 2 with one line.
module Theory.Tests.ResumeTests

open System
open System.IO
open Xunit
open Theory.Tests.CliTests
open Theory.Tests.SweepSupport

let private simulate (args: string) = runCliLine args

let private run = "--dim 1 --size 32 --time 8000 --test-size 300 --log-points 20 --snapshots 3 --seeds 2 --seed 5"

let private tables = [ "trajectory.csv"; "units.csv"; "rf.csv"; "weights/seed_5.csv"; "weights/seed_6.csv" ]

[<Fact>]
let ``Ctrl-C saves checkpoints and --resume writes the bytes of an uninterrupted run`` () =
    let dir = tempDir "theory-resume"
    let interrupted = Path.Combine(dir, "interrupted")
    // A test run that ignores SIGINT (a background job) passes that on; SIGTERM takes the same path then.
    let stop = if sigintIgnored () then SIGTERM else SIGINT
    let code, _, err =
        use p = new TheoryProcess(("simulate " + run + " --checkpoint-every 100 --out " + interrupted).Split(' ') |> List.ofArray)
        let checkpoints = Path.Combine(interrupted, "checkpoints")
        let started = waitFor 60.0 (fun () -> p.HasExited || (Directory.Exists checkpoints && not (Seq.isEmpty (Directory.EnumerateFiles checkpoints))))
        Assert.True(started, "no checkpoint appeared within 60 s")
        p.Signal stop
        p.Wait 60.0
    Assert.True((code = 130), sprintf "exit code %d (the run may have finished before the signal): %s" code err)
    Assert.Contains("--resume", err)
    Assert.Equal(Some "interrupted", statusOf interrupted)
    Assert.NotEmpty(Directory.GetFiles(Path.Combine(interrupted, "checkpoints"), "seed_*.ckpt"))
    Assert.Empty(Directory.GetFiles(interrupted, "*.tmp", SearchOption.AllDirectories))

    // What a process killed mid-write leaves (a dead process id), and a file being written by a live one (ours).
    let stale = Path.Combine(interrupted, "weights", sprintf ".seed_5.csv.%d.%s.tmp" (Int32.MaxValue - 1) (Guid.NewGuid().ToString "N"))
    let live = Path.Combine(interrupted, sprintf ".units.csv.%d.%s.tmp" Environment.ProcessId (Guid.NewGuid().ToString "N"))
    File.WriteAllText(stale, "half a tab")
    File.WriteAllText(live, "being written")
    let code, err, _ = simulate ("simulate --resume " + interrupted)
    Assert.True((code = 0), err)
    Assert.False(File.Exists stale, "a dead writer's temporary file is removed")
    Assert.True(File.Exists live, "a live writer's temporary file is kept")
    File.Delete live
    let reference = Path.Combine(dir, "reference")
    let code, err, _ = simulate ("simulate " + run + " --out " + reference)
    Assert.True((code = 0), err)
    for f in tables do
        Assert.True(File.ReadAllText(Path.Combine(reference, f)) = File.ReadAllText(Path.Combine(interrupted, f)), sprintf "%s differs" f)
    Assert.Equal(Some "completed", statusOf interrupted)
    Assert.False(Directory.Exists(Path.Combine(interrupted, "checkpoints")))
    Assert.Contains("resumed_from_step", File.ReadAllText(Path.Combine(interrupted, "manifest.json")))

    // A completed run has nothing to resume.
    let code, _, out = simulate ("simulate --resume " + interrupted)
    Assert.Equal(0, code)
    Assert.Contains("already completed", out)

[<Fact>]
let ``bad resumes exit 2 with one line naming --resume`` () =
    let dir = tempDir "theory-resume"
    let small = "--dim 1 --size 8 --time 2 --test-size 20 --log-points 3 --snapshots 0"
    let finished = Path.Combine(dir, "finished")
    Assert.Equal(0, (let c, _, _ = simulate (sprintf "simulate %s --out %s" small finished) in c))
    let sample = Path.Combine(dir, "sample")
    Assert.Equal(0, (let c, _, _ = simulate (sprintf "sample --dim 1 --size 4 --count 1 --stats-samples 0 --out %s" sample) in c))
    // An interrupted run whose checkpoint is damaged.
    let damaged = Path.Combine(dir, "damaged")
    Assert.Equal(0, (let c, _, _ = simulate (sprintf "simulate %s --out %s" small damaged) in c))
    let manifest = Path.Combine(damaged, "manifest.json")
    File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"completed\"", "\"interrupted\""))
    Directory.CreateDirectory(Path.Combine(damaged, "checkpoints")) |> ignore
    File.WriteAllText(Path.Combine(damaged, "checkpoints", "seed_0.ckpt"), "THEORYCK but not really a checkpoint")
    for args, expected in
        [ "simulate --resume " + Path.Combine(dir, "nowhere"), "manifest.json"
          "simulate --resume " + sample, "not a simulate run"
          "simulate --resume " + finished + " --gain 3", "--gain"
          "simulate --resume " + damaged, "checkpoint"
          "simulate --checkpoint-every 0 --out " + Path.Combine(dir, "x"), "--checkpoint-every"
          "simulate --checkpoint-every nan --out " + Path.Combine(dir, "x"), "--checkpoint-every"
          "simulate --model conv --checkpoint-every 10 --out " + Path.Combine(dir, "x"), "--checkpoint-every" ] do
        let code, err, _ = simulate args
        Assert.True((code = 2), sprintf "%s: exit %d, %s" args code err)
        let lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries)
        Assert.True((lines.Length = 1), sprintf "%s: %s" args err)
        Assert.Contains(expected, lines[0])
