/// Fuzzing the command line, config files and sweep grids of every command (FsCheck): random option names and
/// values (NaN, infinities, negative, zero, huge, malformed), random and malformed JSON. Whatever comes in, a
/// command never lets an exception escape: it exits 0, or 2 with exactly one line on stderr, or 1 for a run that
/// failed the anticipated way (a divergence; the unanticipated way prints "failed: <exception type>", which fails
/// the test). Sizes and times are drawn small or invalid, so that valid inputs run in milliseconds.
module Theory.Tests.FuzzTests

open System
open System.IO
open System.Text
open FsCheck
open FsCheck.FSharp
open Xunit
open Theory.Tests.CliTests
open Theory.Tests.SweepSupport

let private commands = Theory.Cli.Program.commands

/// Options whose values set the size of the work: drawn from small valid values or clearly invalid ones.
let private small =
    dict [ "size", [ "4"; "5"; "8" ]; "time", [ "0.5"; "2" ]; "test-size", [ "10"; "20" ]; "count", [ "1"; "2" ]
           "stats-samples", [ "0"; "10" ]; "train", [ "10"; "20" ]; "test", [ "5"; "10" ]; "iterations", [ "0"; "1" ]
           "seeds", [ "1"; "2" ]; "log-points", [ "1"; "3" ]; "snapshots", [ "0"; "1" ]; "seconds", [ "0.01" ]; "K", [ "1"; "2"; "3" ]
           "patch", [ "1"; "3" ]; "kernel", [ "1"; "3" ]; "dt", [ "0.5"; "1" ]; "checkpoint-every", [ "0.5"; "1" ]
           "threads", [ "1"; "2" ]; "dim", [ "1"; "2" ]; "flow-time", [ "0.1"; "0.5" ]; "moment-samples", [ "20"; "50" ]
           "cp-rank", [ "1"; "2" ]; "cp-starts", [ "1" ]; "samples", [ "10"; "20" ] ]

/// Options that take a name, with their names and some near misses.
let private names =
    dict [ "activation", [ "erf"; "relu"; "sigmoid"; "linear"; "cubic"; "ERF"; "tanh" ]
           "readout", [ "mf"; "committee"; "lazy"; "trained"; "mean_field" ]
           "bias", [ "none"; "fixed:1"; "trained:0.5"; "trained:x"; "fixed:"; ":"; "fixed:nan"; "fixed:1e400" ]
           "inputs", [ "nlgp"; "gp"; "clone" ]; "convention", [ "reference"; "half-mse"; "half" ]
           "solver", [ "dp5"; "stiff"; "auto"; "rosw"; "euler"; "rk4" ]; "model", [ "fc"; "conv"; "cnn" ]
           "normalise", [ "max"; "none"; "min" ]; "blas", [ "auto"; "managed"; "gpu" ]
           "variants", [ "full"; "gaussian"; "clone"; "exact"; "all" ]; "cp-sign", [ "negative"; "positive"; "largest"; "minus" ]
           "cumulant-of", [ "mixture"; "class0"; "class1"; "class2" ] ]

let private invalid = [ "0"; "-1"; "-3.5"; "nan"; "NaN"; "inf"; "-inf"; "Infinity"; "1e400"; "-1e400"; "x"; ""; "1e12"; "2147483648"; "0x10"; "1,5" ]

let private generic = [ "0"; "1"; "2"; "3"; "0.5"; "0.05"; "10"; "-1"; "1e-300"; "1e6"; "1e300" ] @ invalid

let private paths = [ "/nonexistent/x"; "/proc/forbidden"; "/etc/hostname"; "/tmp"; ""; "."; "no such file" ]

/// A value for the option with JSON key `key`.
let private valueFor (key: string) : Gen<string> =
    match small.TryGetValue key, names.TryGetValue key with
    | (true, ok), _ -> Gen.frequency [ 3, Gen.elements ok; 1, Gen.elements invalid ]
    | _, (true, ok) -> Gen.frequency [ 3, Gen.elements ok; 1, Gen.elements generic ]
    | _ when key = "compare" || key = "reference" || key = "resume" || key = "run" -> Gen.elements paths
    | _ -> Gen.elements generic

/// The tiny valid run each case starts from (later tokens override it).
let private baseArgs =
    dict [ "sample", "--dim 1 --size 8 --count 2 --stats-samples 10"
           "simulate", "--dim 1 --size 8 --time 2 --test-size 20 --log-points 3 --snapshots 1"
           "integrate", "--dim 1 --size 8 --time 2 --log-points 3 -K 2"
           "rfm", "--dim 1 --size 8 --train 20 --test 10 --iterations 1 --threads 1"
           "bench", "--seconds 0.01"
           "overlay", "--dim 1 --size 8 --time 2 --test-size 20 --log-points 3 --seeds 2 -K 2"
           "neuron", "--dim 1 --size 8 --flow-time 0.5 --moment-samples 50 --log-points 3"
           "cumulants", "--dim 1 --size 8 --gain 3 --moment-samples 50 --cp-rank 1 --flow-time 0.5"
           "agop", "--samples 20" ]

let private optionsOf (name: string) =
    (commands |> List.find (fun c -> c.Name = name)).Options()
    |> List.filter (fun o -> o.Key <> "out" && o.Key <> "config")

/// Random option tokens: known options with random values (sometimes the wrong number of them), unknown ones.
let private genTokens (name: string) : Gen<string list> =
    let options = optionsOf name
    let one =
        Gen.frequency
            [ 8,
              gen {
                  let! o = Gen.elements options
                  let! extra = Gen.frequency [ 8, Gen.constant 0; 1, Gen.constant 1; 1, Gen.constant -1 ]
                  let n = max 0 (o.Fields.Length + extra)
                  let! values = Gen.listOfLength n (valueFor o.Key)
                  return o.Flags.Head :: values
              }
              1, Gen.elements [ [ "--bogus" ]; [ "-x"; "1" ]; [ "--" ]; [ "" ]; [ "--gain=3" ]; [ "--help-me" ]; [ "--size"; "8"; "9" ] ] ]
    Gen.choose (0, 4) |> Gen.bind (fun n -> Gen.listOfLength n one) |> Gen.map List.concat

/// A random JSON config text: known and unknown keys with values of every JSON kind, sometimes damaged.
let private genConfigText (name: string) : Gen<string> =
    let options = optionsOf name
    let quote (s: string) = "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\""
    let jsonOf (s: string) =
        match Double.TryParse(s, Globalization.NumberStyles.Float, Globalization.CultureInfo.InvariantCulture) with
        | true, x when Double.IsFinite x && not (s.Contains "x") -> s
        | _ -> quote s
    let value (key: string) =
        Gen.frequency
            [ 6, valueFor key |> Gen.map jsonOf
              1, Gen.listOfLength 2 (valueFor key) |> Gen.map (fun vs -> "[" + String.Join(", ", vs |> List.map jsonOf) + "]")
              1, Gen.elements [ "true"; "false"; "null"; "{}"; "{\"a\": 1}"; "[]"; "[[1, 2]]"; "1e400"; "-0"; "\"\"" ] ]
    let entry =
        Gen.frequency
            [ 6, Gen.elements options |> Gen.bind (fun o -> value o.Key |> Gen.map (fun v -> quote o.Key + ": " + v))
              1, Gen.elements [ "\"bogus\": 1"; "\"out\": \"/tmp\""; "\"config\": \"x.json\""; "\"\": 2"; "\"--gain\": 3"; "\"init_std\": 0.2" ] ]
    let text = Gen.choose (0, 5) |> Gen.bind (fun n -> Gen.listOfLength n entry) |> Gen.map (fun es -> "{ " + String.Join(", ", es) + " }")
    let damage (t: string) =
        gen {
            let! i = Gen.choose (0, t.Length)
            let! c = Gen.elements [ '{'; '}'; '"'; ','; ':'; '['; '1'; 'x'; ' '; '\u00e9'; '\000' ]
            return!
                Gen.elements
                    [ t.Substring(0, i); t.Insert(i, string c); (if i < t.Length then t.Remove(i, 1) else t); "[" + t + "]"; ""; "42"; "// only a comment" ]
        }
    Gen.frequency [ 3, text; 2, text |> Gen.bind damage ]

/// The outcome of a case is acceptable: no escaped exception (runCli would throw), exit 0, or 2 with one line, or
/// 1 that is not the catch-all's "failed: <exception>".
let private acceptable (args: string[]) =
    Theory.Cli.Progress.quiet <- true
    let code, err, _ = runCli args
    let lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries) |> Array.filter (fun l -> not (l.Contains "warning:"))
    let ok =
        match code with
        | 0 -> true
        | 2 -> lines.Length = 1 && lines[0].StartsWith "theory "
        | 1 -> not (err.Contains ": failed: ")
        | _ -> false
    if not ok then failwithf "theory %s\nexit %d, stderr:\n%s" (String.Join(" ", args)) code err
    true

let private outDir () =
    Gen.frequency [ 12, Gen.constant None; 1, Gen.elements [ Some "/proc/forbidden"; Some "/etc/hostname"; Some "" ] ]

let private fuzzCommandWith (name: string) (cases: int) (setup: string -> string list) =
    let root = tempDir ("theory-fuzz-" + name)
    let prepared = setup root
    let mutable n = 0
    let gen =
        gen {
            let! tokens = genTokens name
            let! config = Gen.frequency [ 3, Gen.constant None; 1, genConfigText name |> Gen.map Some ]
            let! out = outDir ()
            return tokens, config, out
        }
    Check.One(
        Config.QuickThrowOnFailure.WithMaxTest(cases),
        Prop.forAll (Arb.fromGen gen) (fun (tokens, config, out) ->
            n <- n + 1
            let dir = Path.Combine(root, string n)
            let configArgs =
                match config with
                | Some text ->
                    let path = Path.Combine(root, sprintf "config-%d.json" n)
                    File.WriteAllText(path, text)
                    [ "--config"; path ]
                | None -> []
            let outArgs = [ "--out"; defaultArg out dir ]
            let args = Array.ofList ((name :: List.ofArray (baseArgs[name].Split ' ')) @ prepared @ configArgs @ tokens @ outArgs)
            acceptable args))
    (try Directory.Delete(root, true) with _ -> ())

let private fuzzCommand (name: string) (cases: int) = fuzzCommandWith name cases (fun _ -> [])

[<Fact>]
let ``fuzz: theory sample never crashes`` () = fuzzCommand "sample" 120

[<Fact>]
let ``fuzz: theory simulate never crashes`` () = fuzzCommand "simulate" 150

[<Fact>]
let ``fuzz: theory integrate never crashes`` () = fuzzCommand "integrate" 120

[<Fact>]
let ``fuzz: theory rfm never crashes`` () = fuzzCommand "rfm" 100

[<Fact>]
let ``fuzz: theory bench never crashes`` () = fuzzCommand "bench" 8

[<Fact>]
let ``fuzz: theory overlay never crashes`` () = fuzzCommand "overlay" 60

[<Fact>]
let ``fuzz: theory neuron never crashes`` () = fuzzCommand "neuron" 60

[<Fact>]
let ``fuzz: theory cumulants never crashes`` () = fuzzCommand "cumulants" 60

[<Fact>]
let ``fuzz: theory agop never crashes`` () =
    // The analysed run: a tiny simulate folder made once (the fuzz may still replace --run with a bad path).
    fuzzCommandWith "agop" 60 (fun root ->
        let run = Path.Combine(root, "run")
        Theory.Cli.Progress.quiet <- true
        let code, err, _ =
            runCli [| "simulate"; "--dim"; "1"; "--size"; "8"; "--time"; "2"; "--test-size"; "20"; "--log-points"; "3"
                      "--snapshots"; "2"; "--out"; run |]
        Assert.True((code = 0), err)
        [ "--run"; run ])

/// Random grids of tiny points, some damaged: the sweep validates them (exit 2, one line) or runs every point; a
/// point may fail the anticipated way (exit 1), never with an escaped exception.
[<Fact>]
let ``fuzz: theory sweep grids never crash`` () =
    let root = tempDir "theory-fuzz-sweep"
    let mutable n = 0
    let grid =
        gen {
            let! command = Gen.elements [ "sample"; "simulate"; "integrate" ]
            let! body = genConfigText command
            let fixedPart = (baseArgs[command].Split ' ' |> Array.chunkBySize 2 |> Array.map (fun kv -> sprintf "\"%s\": %s" (kv[0].TrimStart '-') kv[1]) |> String.concat ", ")
            // Damaged bodies stay damaged; whole ones become the grid's axes and fixed values.
            let merged =
                if body.Length >= 4 && body.StartsWith "{ " && body.EndsWith " }" then
                    let inner = body.Substring(2, body.Length - 4)
                    sprintf "{ \"command\": \"%s\", %s%s }" command fixedPart (if inner = "" then "" else ", " + inner)
                else body
            return merged
        }
    Check.One(
        Config.QuickThrowOnFailure.WithMaxTest(30),
        Prop.forAll (Arb.fromGen grid) (fun text ->
            n <- n + 1
            let path = Path.Combine(root, sprintf "grid-%d.json" n)
            File.WriteAllText(path, text)
            acceptable [| "sweep"; "--grid"; path; "--out"; Path.Combine(root, string n); "--shard"; "0/1"; "--jobs"; "1" |]))
    (try Directory.Delete(root, true) with _ -> ())
