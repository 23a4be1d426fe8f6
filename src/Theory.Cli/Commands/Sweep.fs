/// `theory sweep`: a grid of runs of any `theory` command (gain x xi x seed x ...), one run folder per point,
/// shardable across a SLURM job array, resumable (completed points are skipped, interrupted simulations continue
/// from their checkpoints), and `theory sweep merge` to collect every point into one tidy table.
///
/// Points run in this process, not as subprocesses: a point then costs its work and not a .NET start-up and JIT
/// (about a second, more than a small point's whole run), and memory stays flat because each point's data is
/// garbage once it ends (a test measures it over 100 points). Every way a command can end (bad input, failure,
/// interruption, an unexpected exception) is caught per point, recorded in its log and manifest, and the sweep
/// goes on; what a subprocess would add is survival of a hard process crash (an out-of-memory kill), and that is
/// covered by the rerun: completed points are skipped and only the unfinished ones run again.
module Theory.Cli.Commands.Sweep

open System
open System.Collections.Generic
open System.IO
open System.Security.Cryptography
open System.Text
open System.Text.Json
open System.Text.Json.Nodes
open System.Threading
open Theory.Interop
open Theory.Interop.Io
open Theory.Cli.Options
open Theory.Cli.Shared

// ---------------------------------------------------------------------------------------------------------------
// The grid and its points

/// One point of a grid: a command and its options.
type Point =
    { /// Folder name: the command and the axis values, e.g. `simulate_gain-10_seed-0`.
      Name: string
      Command: string
      /// Every option of the point in grid order: JSON key (the command's flag without dashes) and value.
      Options: (string * JsonNode) list
      /// The keys of `Options` that are axes of the grid (they make the name).
      Axes: string list }

    /// The options as a JSON object: what `--config` of the command accepts, written to `point.json`.
    member p.Config =
        let o = JsonObject()
        for key, value in p.Options do
            o[key] <- value.DeepClone()
        o

/// Names longer than this are shortened and completed by a hash.
let maxNameLength = 100

/// At most this many points in one grid.
let maxPoints = 1_000_000

/// Keys a grid may not set: the sweep chooses them.
let private reserved = set [ "out"; "config"; "resume" ]

let private gridError (message: string) = SpecException("--grid", message)

let private kind (n: JsonNode) = if isNull n then JsonValueKind.Null else n.GetValueKind()

let private isScalar (n: JsonNode) =
    match kind n with
    | JsonValueKind.Number | JsonValueKind.String | JsonValueKind.True | JsonValueKind.False -> true
    | _ -> false

/// The text of a value inside a point name: numbers in shortest round-trip form, strings as they are, lists
/// joined by '-'; only letters, digits and `. + -` are kept, so that a name is a portable folder name.
let rec private nameText (n: JsonNode) =
    match kind n with
    | JsonValueKind.Number ->
        let raw = n.ToJsonString()
        match Double.TryParse(raw, Globalization.NumberStyles.Float, Globalization.CultureInfo.InvariantCulture) with
        | true, x when Double.IsFinite x -> x.ToString("R", Globalization.CultureInfo.InvariantCulture)
        | _ -> raw
    | JsonValueKind.Array -> n.AsArray() |> Seq.map nameText |> String.concat "-"
    | JsonValueKind.True -> "true"
    | JsonValueKind.False -> "false"
    | JsonValueKind.String -> n.GetValue<string>()
    | _ -> n.ToJsonString()
    |> String.filter (fun c -> Char.IsAsciiLetterOrDigit c || c = '.' || c = '+' || c = '-')

let private hashOf (text: string) =
    SHA256.HashData(Encoding.UTF8.GetBytes text) |> Convert.ToHexString |> fun h -> h.Substring(0, 10).ToLowerInvariant()

/// The identity of a point: its command and axis values (JSON), which the fallback hash is taken of.
let private identity (command: string) (axes: (string * JsonNode) list) =
    command + "\n" + (axes |> List.map (fun (k, v) -> k + "=" + v.ToJsonString()) |> String.concat "\n")

/// Deterministic readable names, `command_key-value_...`; a name longer than `maxNameLength`, or one shared by
/// several points (values that differ only in dropped characters), becomes a readable prefix plus a hash of the
/// point's command and axis values.
let pointNames (points: (string * (string * JsonNode) list) list) : string list =
    let readable (command: string) (axes: (string * JsonNode) list) =
        command + (axes |> List.map (fun (k, v) -> "_" + k + "-" + nameText v) |> String.concat "")
    let hashed (command: string) (axes: (string * JsonNode) list) (name: string) =
        let h = hashOf (identity command axes)
        let keep = min name.Length (maxNameLength - h.Length - 1)
        name.Substring(0, keep).TrimEnd('_', '-') + "_" + h
    let first =
        points |> List.map (fun (c, axes) ->
            let n = readable c axes
            if n.Length > maxNameLength then hashed c axes n else n)
    let counts = first |> List.countBy id |> dict
    List.map2 (fun (c, axes) n -> if counts[n] > 1 then hashed c axes n else n) points first

/// The options of a grid entry for one command: checks the value's shape against the option's number of values
/// and returns the values of the axis (or the single fixed value) and whether it is an axis.
let private entryValues (command: string) (key: string) (option: OptionInfo) (value: JsonNode) : JsonNode list * bool =
    let arity = option.Fields.Length
    let bad (what: string) = raise (gridError (sprintf "'%s' (option %s of %s) %s" key option.Flags.Head command what))
    let items = if kind value = JsonValueKind.Array then List.ofSeq (value.AsArray()) else []
    let isTuple (n: JsonNode) =
        kind n = JsonValueKind.Array && n.AsArray().Count = arity && Seq.forall isScalar (n.AsArray())
    match kind value with
    | JsonValueKind.Null -> bad "is null; leave the key out to keep the default"
    | JsonValueKind.Object -> bad "must be a value or a list of values, not an object"
    | _ when arity = 0 ->
        match kind value with
        | JsonValueKind.True | JsonValueKind.False -> [ value ], false
        | JsonValueKind.Array when not items.IsEmpty && items |> List.forall (fun n -> kind n = JsonValueKind.True || kind n = JsonValueKind.False) -> items, true
        | JsonValueKind.Array when items.IsEmpty -> bad "is an empty list (an axis needs at least one value)"
        | _ -> bad "is a flag: true, false, or a list of them"
    | _ when arity = 1 ->
        if isScalar value then [ value ], false
        elif items.IsEmpty then bad "is an empty list (an axis needs at least one value)"
        elif items |> List.forall isScalar then items, true
        else bad "takes one value: a number or string, or a list of them (an axis)"
    | _ ->
        if isTuple value then [ value ], false
        elif items.IsEmpty then bad (sprintf "takes %d values: a list of %d, or a list of such lists (an axis)" arity arity)
        elif items |> List.forall isTuple then items, true
        else bad (sprintf "takes %d values (%s): a list of %d, or a list of such lists (an axis)" arity (String.concat ", " option.Fields) arity)

/// Expands a grid (the root JSON object) into its points. `commands` are the commands a grid may name.
///
/// A grid is a JSON object: `command` (a command name or a list of them; required) and option keys, as in
/// `--config`. A list is an axis (for options that take several values, such as `xi`, a list of lists), anything
/// else a fixed value. A key whose value is an object named after a command (`"simulate": {"seeds": 4}`) gives
/// options for that command only. Each command gets the keys it accepts; a key no command of the grid accepts is an
/// error. Points: commands in order, then the cartesian product of the axes in the order of the file, the last
/// axis varying fastest.
let expand (commands: Command list) (grid: JsonObject) : Point list =
    let names = commands |> List.map (fun c -> c.Name)
    let commandList =
        match grid["command"] with
        | null -> raise (gridError "needs \"command\": a command name or a list of them (e.g. [\"simulate\", \"integrate\"])")
        | n when kind n = JsonValueKind.String -> [ n.GetValue<string>() ]
        | n when kind n = JsonValueKind.Array && n.AsArray().Count > 0 && n.AsArray() |> Seq.forall (fun x -> kind x = JsonValueKind.String) ->
            n.AsArray() |> Seq.map (fun x -> x.GetValue<string>()) |> List.ofSeq
        | _ -> raise (gridError "\"command\" must be a command name or a non-empty list of them")
    for c in commandList do
        if not (List.contains c names) then
            raise (gridError (sprintf "unknown command '%s' in \"command\" (commands a grid can run: %s)" c (String.concat ", " names)))
    if List.length (List.distinct commandList) <> commandList.Length then
        raise (gridError "\"command\" lists a command twice")
    let general = [ for kv in grid do if kv.Key <> "command" && not (List.contains kv.Key names && kind kv.Value = JsonValueKind.Object) then yield kv.Key, kv.Value ]
    for kv in grid do
        if List.contains kv.Key names && kind kv.Value = JsonValueKind.Object && not (List.contains kv.Key commandList) then
            raise (gridError (sprintf "has options for '%s', which is not in \"command\"" kv.Key))
    let used = HashSet<string>()
    let points =
        [ for c in commandList do
              let command = commands |> List.find (fun x -> x.Name = c)
              let options = command.Options()
              let specific =
                  match grid[c] with
                  | null -> []
                  | n when kind n = JsonValueKind.Object -> [ for kv in n.AsObject() -> kv.Key, kv.Value ]
                  | _ -> []
              let resolve (key: string) =
                  let bare = key.TrimStart('-')
                  if reserved.Contains(bare.Replace('_', '-')) then
                      raise (gridError (sprintf "may not set '%s' (the sweep chooses each point's folder and configuration)" key))
                  options |> List.tryFind (fun o -> o.Accepts key)
              for key, _ in specific do
                  if (resolve key).IsNone then
                      raise (gridError (sprintf "'%s' in the \"%s\" block is not an option of %s" key c c))
              // The command's own block overrides a general key naming the same option.
              let entries =
                  [ for key, value in general do
                        match resolve key with
                        | Some o when not (specific |> List.exists (fun (k, _) -> o.Accepts k)) ->
                            used.Add key |> ignore
                            yield o, entryValues c key o value
                        | _ -> ()
                    for key, value in specific do
                        let o = (resolve key).Value
                        yield o, entryValues c key o value ]
              let duplicates = entries |> List.countBy (fun (o, _) -> o.Key) |> List.filter (fun (_, n) -> n > 1)
              match duplicates with
              | (k, _) :: _ -> raise (gridError (sprintf "sets option '%s' of %s twice (under different spellings)" k c))
              | [] -> ()
              let count = entries |> List.fold (fun n (_, (values, _)) -> n * int64 (List.length values)) 1L
              if count > int64 maxPoints then
                  raise (gridError (sprintf "gives %d points for %s; at most %d per grid" count c maxPoints))
              // Cartesian product, last entry fastest.
              let rec product (rest: (OptionInfo * (JsonNode list * bool)) list) : (string * JsonNode * bool) list list =
                  match rest with
                  | [] -> [ [] ]
                  | (o, (values, isAxis)) :: tail ->
                      let tails = product tail
                      [ for v in values do
                            for t in tails -> (o.Key, v, isAxis) :: t ]
              for combination in product entries do
                  yield c, combination ]
    for key, _ in general do
        if not (used.Contains key) then
            raise (gridError (sprintf "'%s' is not an option of %s" key (String.concat " or " commandList)))
    if points.Length > maxPoints then raise (gridError (sprintf "gives %d points; at most %d" points.Length maxPoints))
    let axesOf (combination: (string * JsonNode * bool) list) = [ for k, v, a in combination do if a then yield k, v ]
    let named = pointNames [ for c, combination in points -> c, axesOf combination ]
    List.map2
        (fun (c, combination) name ->
            { Name = name
              Command = c
              Options = [ for k, v, _ in combination -> k, v ]
              Axes = [ for k, _, a in combination do if a then yield k ] })
        points named

/// A key that appears twice in one JSON object (ambiguous in a grid, and JsonObject refuses it), if any.
let rec private duplicateKey (e: JsonElement) : string option =
    match e.ValueKind with
    | JsonValueKind.Object ->
        let seen = HashSet<string>()
        e.EnumerateObject()
        |> Seq.tryPick (fun p -> if not (seen.Add p.Name) then Some p.Name else duplicateKey p.Value)
    | JsonValueKind.Array -> e.EnumerateArray() |> Seq.tryPick duplicateKey
    | _ -> None

/// Reads and expands a grid file; every problem is a SpecException for `--grid`.
let loadGrid (commands: Command list) (path: string) : JsonObject * Point list =
    let text = readSmallFile "--grid" path
    let options = JsonDocumentOptions(CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true)
    let invalidJson (e: exn) = gridError (sprintf "'%s' is not valid JSON (%s)" path (firstLine e.Message))
    let duplicate =
        try
            use doc = JsonDocument.Parse(text, options)
            duplicateKey doc.RootElement
        with e -> raise (invalidJson e)
    match duplicate with
    | Some key -> raise (gridError (sprintf "'%s' has the key '%s' twice in one object" path key))
    | None -> ()
    let node =
        try JsonNode.Parse(text, documentOptions = options)
        with e -> raise (invalidJson e)
    match node with
    | :? JsonObject as grid -> grid, expand commands grid
    | _ -> raise (gridError (sprintf "'%s' must hold one JSON object (command and option lists)" path))

/// The command-line tokens of a point (exactly what `--config point.json` gives), without `--out`.
let pointTokens (commands: Command list) (p: Point) : string[] =
    let command = commands |> List.find (fun c -> c.Name = p.Command)
    let options = command.Options()
    let flagOf (key: string) =
        match options |> List.tryFind (fun o -> o.Key = key) with
        | Some o -> o.Flags.Head
        | None -> raise (gridError (sprintf "'%s' is not an option of %s" key p.Command))
    use doc = JsonDocument.Parse(p.Config.ToJsonString())
    jsonTokens flagOf doc.RootElement p.Name |> Array.ofList

// ---------------------------------------------------------------------------------------------------------------
// Shards

/// Which slice of the points this process runs: points i with i mod Count = Index.
type Shard =
    { Index: int
      Count: int }

/// `--shard I/N`.
let parseShard (text: string) : Shard =
    let fail () = raise (SpecException("--shard", sprintf "must be I/N with integers 0 <= I < N (got '%s')" text))
    match text.Split('/') with
    | [| i; n |] ->
        match Int32.TryParse i, Int32.TryParse n with
        | (true, i), (true, n) when n >= 1 && i >= 0 && i < n -> { Index = i; Count = n }
        | _ -> fail ()
    | _ -> fail ()

/// The shard of a SLURM job array task: index (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP
/// of SLURM_ARRAY_TASK_COUNT, so `--array=0-9`, `--array=1-10` and `--array=0-18:2` all give shards 0..9 of 10.
let shardFromEnvironment (env: string -> string option) : Shard option =
    match env "SLURM_ARRAY_TASK_ID" with
    | None -> None
    | Some _ ->
        let number (name: string) (fallback: int option) =
            match env name, fallback with
            | Some v, _ ->
                match Int32.TryParse(v.Trim()) with
                | true, x -> x
                | _ -> raise (SpecException(name, sprintf "must be an integer (got '%s')" v))
            | None, Some f -> f
            | None, None -> raise (SpecException(name, "is not set although SLURM_ARRAY_TASK_ID is; pass --shard I/N"))
        let id = number "SLURM_ARRAY_TASK_ID" None
        let count = number "SLURM_ARRAY_TASK_COUNT" None
        let low = number "SLURM_ARRAY_TASK_MIN" (Some 0)
        let step = max 1 (number "SLURM_ARRAY_TASK_STEP" (Some 1))
        let index = (id - low) / step
        if count < 1 || index < 0 || index >= count || (id - low) % step <> 0 then
            raise (SpecException("SLURM_ARRAY_TASK_ID", sprintf "task %d does not fit an array of %d tasks from %d by %d; pass --shard I/N" id count low step))
        Some { Index = index; Count = count }

// ---------------------------------------------------------------------------------------------------------------
// Point status

/// What a point folder holds.
type PointState =
    /// manifest.json says completed, for these options.
    | Done
    /// An interrupted simulation with checkpoints, for these options: `simulate --resume` continues it.
    | Resumable
    /// Nothing usable: (re)run from scratch.
    | Pending of reason: string
    /// A completed run of other options under this name: refuse rather than delete results.
    | Conflict

let private pointDir (root: string) (p: Point) = Path.Combine(root, p.Name)

/// `point.json` of a point: its options (what `--config` takes).
let private pointJson (p: Point) = p.Config.ToJsonString(Json.Options) + "\n"

let private tryManifest (dir: string) : RunManifest option =
    try
        let path = Path.Combine(dir, "manifest.json")
        if File.Exists path then Some(Json.Load<RunManifest> path) else None
    with _ -> None

/// The status of a point folder. A point counts as done only when its manifest says completed and its
/// `point.json` holds the same options; a missing, unreadable, running (killed), interrupted or failed manifest
/// means not done.
let pointState (root: string) (p: Point) : PointState =
    let dir = pointDir root p
    let sameOptions =
        try File.ReadAllText(Path.Combine(dir, "point.json")) = pointJson p with _ -> false
    match tryManifest dir with
    | Some m when m.Status = "completed" && m.Command = p.Command -> if sameOptions then Done else Conflict
    | Some m when sameOptions && p.Command = "simulate" && m.Command = "simulate" && (m.Status = "running" || m.Status = "interrupted")
                  && Directory.Exists(Path.Combine(dir, "checkpoints"))
                  && Directory.EnumerateFiles(Path.Combine(dir, "checkpoints"), "*.ckpt") |> Seq.isEmpty |> not -> Resumable
    | Some m -> Pending m.Status
    | None -> Pending(if Directory.Exists dir then "incomplete" else "new")

let private stateText =
    function
    | Done -> "completed"
    | Resumable -> "resumable"
    | Pending reason -> reason
    | Conflict -> "conflict"

// ---------------------------------------------------------------------------------------------------------------
// Output routing: points run in parallel in this process, each writes its console output to its own log.

/// A writer that forwards to the writer of the current asynchronous flow (a point's log), or to `fallback`.
type private RoutingWriter(fallback: TextWriter, target: AsyncLocal<TextWriter>) =
    inherit TextWriter()
    member private _.Current = match target.Value with null -> fallback | w -> w
    override _.Encoding = fallback.Encoding
    override w.Write(c: char) = w.Current.Write c
    override w.Write(s: string) = w.Current.Write s
    override w.Write(buffer: char[], index: int, count: int) = w.Current.Write(buffer, index, count)
    override w.WriteLine(s: string) = w.Current.WriteLine s
    override w.Flush() = w.Current.Flush()

/// Writes to both writers (a point's stderr goes to its log and is kept for the summary).
type private TeeWriter(a: TextWriter, b: TextWriter) =
    inherit TextWriter()
    override _.Encoding = a.Encoding
    override _.Write(c: char) = a.Write c; b.Write c
    override _.Write(s: string) = a.Write s; b.Write s
    override _.Write(buffer: char[], index: int, count: int) = a.Write(buffer, index, count); b.Write(buffer, index, count)

let private outTarget = AsyncLocal<TextWriter>()
let private errTarget = AsyncLocal<TextWriter>()

/// Routes Console.Out/Error through per-flow writers while `f` runs.
let private withRouting (f: unit -> 'T) : 'T =
    let out, err = Console.Out, Console.Error
    Console.SetOut(new RoutingWriter(out, outTarget))
    Console.SetError(new RoutingWriter(err, errTarget))
    try f ()
    finally
        Console.SetOut out
        Console.SetError err

// ---------------------------------------------------------------------------------------------------------------
// Running points

/// How a point ended in this process.
type PointResult =
    { Point: Point
      /// completed, skipped (done before), failed, invalid, interrupted, busy (another process holds it)
      Status: string
      ExitCode: int
      Message: string
      Seconds: float }

/// Runs one point in this process: cleans an unfinished folder (or resumes an interrupted simulation), runs the
/// command with the point's options and `--out` its folder, and writes `log.txt` (its console output). A lock file
/// (`.locks/NAME`, an advisory lock the system drops when the process dies) keeps two processes off one point.
let runPoint (commands: Command list) (root: string) (p: Point) : PointResult =
    let clock = Diagnostics.Stopwatch.StartNew()
    let result status code message =
        { Point = p; Status = status; ExitCode = code; Message = message; Seconds = clock.Elapsed.TotalSeconds }
    let locks = Path.Combine(root, ".locks")
    Directory.CreateDirectory locks |> ignore
    let lockFile =
        try Some(new FileStream(Path.Combine(locks, p.Name), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        with :? IOException -> None
    match lockFile with
    | None -> result "busy" 0 "another process is running this point"
    | Some lockFile ->
        use lockHandle = lockFile
        match pointState root p with
        | Done -> result "skipped" 0 ""
        | Conflict -> result "failed" 2 "a completed run of other options has this name"
        | state ->
            let dir = pointDir root p
            let command = commands |> List.find (fun c -> c.Name = p.Command)
            let argv =
                match state with
                | Resumable -> [| "--resume"; dir |]
                | _ ->
                    if Directory.Exists dir then Directory.Delete(dir, true)
                    Directory.CreateDirectory dir |> ignore
                    AtomicFile.WriteAllText(Path.Combine(dir, "point.json"), pointJson p)
                    Array.append (pointTokens commands p) [| "--out"; dir |]
            let log = new StringWriter()
            let errors = new StringWriter()
            let sync = TextWriter.Synchronized log
            let code =
                try
                    outTarget.Value <- sync
                    errTarget.Value <- TextWriter.Synchronized(new TeeWriter(sync, errors))
                    Theory.Cli.Progress.usePlainLines ()
                    invoke command argv
                finally
                    outTarget.Value <- null
                    errTarget.Value <- null
            AtomicFile.WriteAllText(Path.Combine(dir, "log.txt"), log.ToString())
            let lastError =
                errors.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries) |> Array.tryLast |> Option.defaultValue ""
            match code with
            | 0 when (tryManifest dir |> Option.map (fun m -> m.Status)) <> Some "completed" ->
                result "failed" 1 "the command ended without a completed manifest.json"
            | 0 -> result (if state = Resumable then "resumed" else "completed") 0 ""
            | 130 -> result "interrupted" 130 lastError
            | 2 -> result "invalid" 2 lastError
            | c -> result "failed" c lastError

/// Writes `sweep.json`: the grid as given and every point with its options (deterministic: shards write the same).
let private saveSweepJson (root: string) (grid: JsonObject) (points: Point list) =
    let o = JsonObject()
    o["command"] <- JsonValue.Create "sweep"
    o["version"] <- JsonValue.Create VersionInfo.Version
    o["grid"] <- grid.DeepClone()
    let list = JsonArray()
    for p in points do
        let e = JsonObject()
        e["name"] <- JsonValue.Create p.Name
        e["command"] <- JsonValue.Create p.Command
        e["axes"] <- JsonArray([| for a in p.Axes -> JsonValue.Create a :> JsonNode |])
        e["options"] <- p.Config
        list.Add e
    o["points"] <- list
    AtomicFile.WriteAllText(Path.Combine(root, "sweep.json"), o.ToJsonString(Json.Options) + "\n")

/// Validates every point (its command's own checks, in validation mode: nothing runs, nothing is written); the
/// first invalid point is a SpecException for `--grid` naming the point.
let validate (commands: Command list) (points: Point list) =
    for p in points do
        let command = commands |> List.find (fun c -> c.Name = p.Command)
        let argv = Array.append (pointTokens commands p) [| "--out"; "." |]
        match DryRun.check (fun () -> command.Run argv) with
        | Ok() -> ()
        | Error message -> raise (gridError (sprintf "point %s: %s" p.Name message))

/// Runs the points of `shard` that are not done, `jobs` at a time, in grid order; `onPoint` sees each result as it
/// arrives (with the number finished so far). Stops starting points once interrupted.
let runPoints (commands: Command list) (root: string) (points: Point list) (jobs: int)
              (onPoint: int -> PointResult -> unit) : PointResult list =
    let todo = Array.ofList points
    let results = Array.zeroCreate<PointResult option> todo.Length
    let mutable next = -1
    let mutable finished = 0
    let gate = obj ()
    let token = Interrupt.token ()
    let worker () =
        let mutable go = true
        while go do
            let i = Interlocked.Increment(&next)
            if i >= todo.Length || token.IsCancellationRequested then
                go <- false
            else
                let r =
                    try runPoint commands root todo[i]
                    with e ->
                        // The point's folder could not be prepared (disk full, permissions): record and go on.
                        { Point = todo[i]; Status = "failed"; ExitCode = 1; Message = firstLine e.Message; Seconds = 0.0 }
                results[i] <- Some r
                lock gate (fun () ->
                    finished <- finished + 1
                    onPoint finished r)
    withRouting (fun () ->
        let threads = Array.init (max 1 (min jobs todo.Length)) (fun _ -> Tasks.Task.Factory.StartNew(worker, Tasks.TaskCreationOptions.LongRunning))
        Tasks.Task.WaitAll threads)
    results |> Array.choose id |> List.ofArray

// ---------------------------------------------------------------------------------------------------------------
// theory sweep

let private run (commands: Command list) (o: Bag) : int =
    let gridPath =
        match o.TryGet<string> "Grid" with
        | Some p -> p
        | None -> raise (SpecException("--grid", "is required: a JSON file of the grid (see theory sweep --help)"))
    let jobs = o.Get("Jobs", Environment.ProcessorCount)
    Check.InRange("--jobs", int64 jobs, 1L, 4096L)
    let shard =
        match o.TryGet<string> "Shard" with
        | Some s -> Some(parseShard s)
        | None -> shardFromEnvironment (fun name -> Environment.GetEnvironmentVariable name |> Option.ofObj)
    let grid, points = loadGrid commands gridPath
    validate commands points
    let mine =
        match shard with
        | Some s -> points |> List.indexed |> List.filter (fun (i, _) -> i % s.Count = s.Index) |> List.map snd
        | None -> points
    let out = o.Get("Out", Path.Combine("runs", "sweep"))
    let shardText = match shard with Some s -> sprintf "shard %d/%d: " s.Index s.Count | None -> ""
    if o.Flag "Dry_Run" then
        let root = Path.GetFullPath out
        let states = mine |> List.map (fun p -> p, (if Directory.Exists root then pointState root p else Pending "new"))
        printTable [| "point"; "command"; "status" |] [ for p, s in states -> [| p.Name; p.Command; stateText s |] ]
        let count f = states |> List.filter (snd >> f) |> List.length
        printfn "%s%d points (of %d in the grid): %d completed, %d resumable, %d to run; nothing was run (--dry-run)"
            shardText mine.Length points.Length (count ((=) Done)) (count ((=) Resumable))
            (count (function Pending _ -> true | _ -> false))
        0
    else
        let dir = RunDirectory.Prepare(out)
        let root = dir.Path
        let conflicts = mine |> List.filter (fun p -> pointState root p = Conflict)
        match conflicts with
        | p :: _ ->
            raise (SpecException("--out", sprintf "%s holds a completed run named %s with other options (point.json differs): use another --out, or delete that folder" root p.Name))
        | [] -> ()
        saveSweepJson root grid points
        let todo = mine |> List.filter (fun p -> pointState root p <> Done)
        let skipped = mine.Length - todo.Length
        printfn "theory sweep: %s%d points (of %d in the grid), %d already completed, %d to run, %d at a time; results in %s"
            shardText mine.Length points.Length skipped todo.Length (min jobs (max 1 todo.Length)) root
        let clock = Diagnostics.Stopwatch.StartNew()
        let results =
            Theory.Cli.Progress.run [| sprintf "sweep (%d points)" todo.Length |] (fun report ->
                runPoints commands root todo jobs (fun n _ -> report 0 (float n / float (max 1 todo.Length))))
        let count status = results |> List.filter (fun r -> r.Status = status) |> List.length
        let bad = results |> List.filter (fun r -> r.ExitCode <> 0 && r.Status <> "interrupted")
        let notRun = todo.Length - results.Length
        printfn "theory sweep: %d completed, %d resumed, %d failed, %d interrupted, %d busy elsewhere, %d not started; %d skipped as done (%.1f s)"
            (count "completed") (count "resumed") bad.Length (count "interrupted") (count "busy") notRun skipped clock.Elapsed.TotalSeconds
        for r in bad do
            eprintfn "theory sweep: point %s %s (exit %d): %s (log: %s)" r.Point.Name r.Status r.ExitCode r.Message
                (Path.Combine(root, r.Point.Name, "log.txt"))
        if (Interrupt.token ()).IsCancellationRequested || count "interrupted" > 0 then
            eprintfn "theory sweep: interrupted; run the same command again to finish (completed points are kept)"
            130
        elif bad.IsEmpty then 0
        else 1

// ---------------------------------------------------------------------------------------------------------------
// theory sweep merge

/// The columns of a point's parameters: one per option value (`xi` -> `xi0`, `xi1`; `cubic` -> `cubic_alpha`,
/// `cubic_beta`), snake_case, and the cell texts of a point.
let private parameterCells (commands: Command list) (p: Point) : (string * string) list =
    let options = (commands |> List.find (fun c -> c.Name = p.Command)).Options()
    let column (key: string) = key.Replace('-', '_')
    let text (n: JsonNode) =
        match kind n with
        | JsonValueKind.True -> "1"
        | JsonValueKind.False -> "0"
        | JsonValueKind.String -> n.GetValue<string>()
        | _ ->
            let raw = n.ToJsonString()
            match Double.TryParse(raw, Globalization.NumberStyles.Float, Globalization.CultureInfo.InvariantCulture) with
            | true, x -> CsvTable.Format x
            | _ -> raw
    [ for key, value in p.Options do
          match options |> List.tryFind (fun o -> o.Key = key) with
          | Some o when o.Fields.Length >= 2 && kind value = JsonValueKind.Array ->
              let items = value.AsArray() |> Array.ofSeq
              for i, field in List.indexed o.Fields do
                  let name = if field.StartsWith(key, StringComparison.OrdinalIgnoreCase) then field else key + "_" + field
                  yield column name, (if i < items.Length then text items[i] else "")
          | _ -> yield column key, text value ]

/// The main table of a point: trajectory.csv, else the first CSV its manifest lists.
let private mainTable (dir: string) (m: RunManifest option) =
    let trajectory = Path.Combine(dir, "trajectory.csv")
    if File.Exists trajectory then Some trajectory
    else
        m
        |> Option.bind (fun m -> m.Files |> Seq.tryFind (fun f -> f.EndsWith ".csv"))
        |> Option.map (fun f -> Path.Combine(dir, f))
        |> Option.filter File.Exists

/// The last row per seed (rows are ordered by seed, then time), or the last row without a seed column.
let private finalRows (data: CsvData) : string[] list =
    if data.Rows.Count = 0 then []
    else
        match Array.IndexOf(data.Columns, "seed") with
        | -1 -> [ data.Rows[data.Rows.Count - 1] ]
        | i ->
            let last = Dictionary<string, string[]>()
            let order = ResizeArray<string>()
            for r in data.Rows do
                if i < r.Length then
                    if not (last.ContainsKey r[i]) then order.Add r[i]
                    last[r[i]] <- r
            [ for s in order -> last[s] ]

/// Collects every point of a sweep into `merged.csv` (parameters + status + the final row of each point's
/// trajectory, one row per seed) and, with `all`, `merged_all.csv` (every row). Returns the files written.
let merge (commands: Command list) (root: string) (all: bool) : string list =
    let sweepJson = Path.Combine(root, "sweep.json")
    if not (File.Exists sweepJson) then
        raise (SpecException("merge", sprintf "'%s' has no sweep.json (give the --out folder of a theory sweep)" root))
    let text = readSmallFile "merge" sweepJson
    let doc =
        try
            match JsonNode.Parse text with
            | null -> failwith "empty file"
            | n -> n
        with e -> raise (SpecException("merge", sprintf "cannot read '%s' (%s)" sweepJson (firstLine e.Message)))
    let points =
        try
            [ for e in doc["points"].AsArray() ->
                  let opts = e["options"].AsObject()
                  let command = e["command"].GetValue<string>()
                  if not (commands |> List.exists (fun c -> c.Name = command)) then failwithf "unknown command %s" command
                  { Name = e["name"].GetValue<string>()
                    Command = command
                    Options = [ for kv in opts -> kv.Key, kv.Value.DeepClone() ]
                    Axes = [ for a in e["axes"].AsArray() -> a.GetValue<string>() ] } ]
        with e -> raise (SpecException("merge", sprintf "'%s' is not a sweep manifest (%s)" sweepJson (firstLine e.Message)))
    // Columns: point, command, status, the parameters (first-seen order), then the measurements (first-seen order).
    let parameters = ResizeArray<string>()
    let measured = ResizeArray<string>()
    let rows = ResizeArray<Dictionary<string, string>>()
    let everyRow = ResizeArray<Dictionary<string, string>>()
    let add (list: ResizeArray<string>) (c: string) = if not (list.Contains c) then list.Add c
    for p in points do
        let dir = Path.Combine(root, p.Name)
        let manifest = tryManifest dir
        let status = match manifest with Some m -> m.Status | None -> "missing"
        let cells = parameterCells commands p
        for c, _ in cells do add parameters c
        let baseRow () =
            let d = Dictionary<string, string>()
            d["point"] <- p.Name
            d["command"] <- p.Command
            d["status"] <- status
            for c, v in cells do d[c] <- v
            d
        let table =
            match mainTable dir manifest with
            | Some path -> (try Some(CsvData.Read path) with _ -> None)
            | None -> None
        match table with
        | Some data when data.Rows.Count > 0 ->
            for c in data.Columns do add measured c
            let fill (r: string[]) =
                let d = baseRow ()
                // A measured column named like a parameter (seed, with --seeds) holds the row's own value.
                for j in 0 .. min r.Length data.Columns.Length - 1 do
                    d[data.Columns[j]] <- r[j]
                d
            for r in finalRows data do rows.Add(fill r)
            if all then for r in data.Rows do everyRow.Add(fill r)
        | _ ->
            rows.Add(baseRow ())
            if all then everyRow.Add(baseRow ())
    let columns =
        [ yield "point"; yield "command"; yield "status"
          yield! parameters
          for c in measured do
              if not (parameters.Contains c) && c <> "point" && c <> "command" && c <> "status" then yield c ]
    let write (name: string) (source: ResizeArray<Dictionary<string, string>>) =
        let t = CsvTable(columns)
        for d in source do
            for c in columns do
                t.Add(match d.TryGetValue c with | true, v -> v | _ -> "") |> ignore
            t.EndRow() |> ignore
        t.Save(Path.Combine(root, name))
        name
    [ yield write "merged.csv" rows
      if all then yield write "merged_all.csv" everyRow ]

let private runMerge (commands: Command list) (o: Bag) : int =
    let root =
        match o.TryGet<string> "Sweep_Dir" with
        | Some d -> d
        | None -> raise (SpecException("merge", "needs the sweep folder: theory sweep merge DIR"))
    if not (Directory.Exists root) then raise (SpecException("merge", sprintf "no such folder '%s'" root))
    let files = merge commands (Path.GetFullPath root) (o.Flag "All")
    printfn "theory sweep merge: wrote %s in %s" (String.concat ", " files) (Path.GetFullPath root)
    0

/// The `sweep` command over `commands` (`theory sweep ...` and `theory sweep merge DIR`).
let command (commands: Command list) : Command =
    let sweepable = commands |> List.filter (fun c -> c.Name <> "sweep")
    { Name = "sweep"
      Text = "a grid of runs of any command (gain x xi x seed x ...): shardable (SLURM arrays), resumable; `sweep merge DIR`"
      Run =
        fun argv ->
            if argv.Length > 0 && argv[0] = "merge" then
                match parse<Theory.Cli.Arguments.SweepMergeArgs> "theory sweep merge" argv[1..] with
                | Some o -> runMerge sweepable o
                | None -> 0
            else
                match parse<Theory.Cli.Arguments.SweepArgs> "theory sweep" argv with
                | Some o -> run sweepable o
                | None -> 0
      Options = describe<Theory.Cli.Arguments.SweepArgs> }
