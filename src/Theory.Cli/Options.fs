/// Reading parsed options by name, and `--config FILE.json` (same keys as the flags; flags win).
module Theory.Cli.Options

open System
open System.Globalization
open System.IO
open System.Text.Json
open Argu
open Microsoft.FSharp.Reflection
open Theory.Interop

/// The options a user gave, by union case name; the last occurrence wins (so flags override the config file,
/// whose values are placed before them).
type Bag(values: Map<string, obj[]>, given: string list) =
    /// Case names in the order the user gave them (config first).
    member _.Given = given
    member _.Has(name: string) = values.ContainsKey name
    member _.Fields(name: string) = values.TryFind name

    member b.TryGet<'T>(name: string) : 'T option =
        match values.TryFind name with
        | Some [| :? 'T as x |] -> Some x
        | Some fields -> failwithf "option %s has fields %A, not one %s" name fields typeof<'T>.Name
        | None -> None

    member b.Get<'T>(name: string, fallback: 'T) = defaultArg (b.TryGet<'T> name) fallback
    member b.Flag(name: string) = values.ContainsKey name

    /// Values of a `float list` option (or a single float option) as an array.
    member b.Floats(name: string) : float[] option =
        match values.TryFind name with
        | Some [| :? (float list) as xs |] -> Some(Array.ofList xs)
        | Some [| :? float as x |] -> Some [| x |]
        | Some fields -> Some(fields |> Array.map unbox<float>)
        | None -> None

    /// A two-value tuple option such as `--xi XI0 XI1`.
    member b.Pair(name: string) : (float * float) option =
        match values.TryFind name with
        | Some [| :? float as x; :? float as y |] -> Some(x, y)
        | Some [| :? (float list) as [ x; y ] |] -> Some(x, y)
        | Some _ -> raise (SpecException("--" + name.ToLowerInvariant().Replace('_', '-'), "takes exactly two numbers"))
        | None -> None

let private ofResults<'T when 'T :> IArgParserTemplate> (results: ParseResults<'T>) =
    let all = results.GetAllResults()
    let mutable map = Map.empty
    let given = ResizeArray()
    for r in all do
        let info, fields = FSharpValue.GetUnionFields(box r, typeof<'T>)
        map <- map.Add(info.Name, fields)
        given.Add info.Name
    Bag(map, List.ofSeq given)

/// A JSON scalar as the text a user would type. Numbers that do not fit a double (1e400) keep their literal text,
/// so that the option's own check rejects them with its message.
let private invariant (e: JsonElement) =
    match e.ValueKind with
    | JsonValueKind.Number ->
        match e.TryGetDouble() with
        | true, x -> x.ToString("R", CultureInfo.InvariantCulture)
        | _ -> e.GetRawText()
    | JsonValueKind.String -> e.GetString()
    | _ -> e.GetRawText()

/// Largest configuration or grid file read (a config is a few hundred bytes; this stops /dev/zero and the like).
let maxConfigBytes = 16L * 1024L * 1024L

/// The text of a small JSON input file (`--config`, `--grid`), read with a size limit; failures name `option`.
let readSmallFile (option: string) (path: string) : string =
    try
        use stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite)
        use reader = new StreamReader(stream, Text.UTF8Encoding(false), true)
        let buffer = Array.zeroCreate<char> 65536
        let text = Text.StringBuilder()
        let mutable n = reader.Read(buffer, 0, buffer.Length)
        while n > 0 do
            if int64 text.Length + int64 n > maxConfigBytes then
                raise (SpecException(option, sprintf "'%s' is larger than %d MB; is it the right file?" path (maxConfigBytes / 1048576L)))
            text.Append(buffer, 0, n) |> ignore
            n <- reader.Read(buffer, 0, buffer.Length)
        text.ToString()
    with
    | :? SpecException -> reraise ()
    | e -> raise (SpecException(option, sprintf "cannot read '%s' (%s)" path (e.Message.Split('\n').[0])))

/// Turns a JSON object of option names to values into command-line tokens: `true` gives the flag alone, `false`
/// and `null` nothing, a list the flag and its items, anything else the flag and its value. `flagOf` maps a key
/// to its flag (raising for unknown keys); `source` names the input in messages.
let jsonTokens (flagOf: string -> string) (root: JsonElement) (source: string) : string list =
    if root.ValueKind <> JsonValueKind.Object then
        raise (SpecException("--config", sprintf "'%s' must hold one JSON object of option names to values" source))
    [ for p in root.EnumerateObject() do
          let flag = flagOf p.Name
          match p.Value.ValueKind with
          | JsonValueKind.True -> yield flag
          | JsonValueKind.False
          | JsonValueKind.Null -> ()
          | JsonValueKind.Array ->
              yield flag
              for x in p.Value.EnumerateArray() do
                  if x.ValueKind = JsonValueKind.Object || x.ValueKind = JsonValueKind.Array then
                      raise (SpecException("--config", sprintf "key '%s' in '%s' must be a list of numbers or strings" p.Name source))
                  yield invariant x
          | JsonValueKind.Object -> raise (SpecException("--config", sprintf "key '%s' in '%s' must be a number, string, boolean or list" p.Name source))
          | _ -> yield flag; yield invariant p.Value ]

/// The flag of a JSON key among a parser's command-line names (`gain`, `--gain`, `init_std`, `K`), or a
/// SpecException for `option` naming the key and the allowed ones.
let flagOfKey (names: string list) (option: string) (source: string) (key: string) =
    let candidates = [ "--" + key; "-" + key; "--" + key.Replace('_', '-'); key ]
    match candidates |> List.tryFind (fun c -> c.StartsWith "-" && List.contains c names) with
    | Some flag -> flag
    | None ->
        let allowed = names |> List.map (fun n -> n.TrimStart('-')) |> String.concat ", "
        raise (SpecException(option, sprintf "unknown key '%s' in '%s' (allowed: %s)" key source allowed))

/// Turns a config file into command-line tokens for `parser`; unknown keys and malformed files are usage errors.
let configTokens (parser: ArgumentParser<'T>) (path: string) : string list =
    let text = readSmallFile "--config" path
    let doc =
        try JsonDocument.Parse(text, JsonDocumentOptions(CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true))
        with e -> raise (SpecException("--config", sprintf "'%s' is not valid JSON (%s)" path (e.Message.Split('\n').[0])))
    use doc = doc
    let names =
        parser.GetArgumentCases()
        |> List.collect (fun c -> c.CommandLineNames.Value)
        |> List.filter (fun n -> n <> "--config")
    jsonTokens (flagOfKey names "--config" path) doc.RootElement path

/// Parses `argv` for one command: `--config` values first, then the flags (which win). Returns None after
/// printing help (`--help`).
let parse<'T when 'T :> IArgParserTemplate> (programName: string) (argv: string[]) : Bag option =
    let parser = ArgumentParser.Create<'T>(programName = programName, helpTextMessage = "", checkStructure = false)
    if argv |> Array.exists (fun a -> a = "--help" || a = "-h" || a = "/?") then
        printfn "%s" (parser.PrintUsage())
        None
    else
        let configIndex = Array.IndexOf(argv, "--config")
        if configIndex >= 0 && configIndex + 1 >= argv.Length then
            raise (SpecException("--config", "needs the path of a JSON file"))
        if configIndex >= 0 && Array.LastIndexOf(argv, "--config") <> configIndex then
            raise (SpecException("--config", "may be given once (put every key into one file)"))
        let fromConfig =
            if configIndex >= 0 && configIndex + 1 < argv.Length then configTokens parser argv[configIndex + 1] else []
        let rest =
            if configIndex >= 0 then Array.append argv[.. configIndex - 1] argv[min argv.Length (configIndex + 2) ..]
            else argv
        let tokens = Array.append (Array.ofList fromConfig) rest
        let results = parser.ParseCommandLine(tokens, raiseOnUsage = true, ignoreMissing = true)
        Some(ofResults results)

/// One option of a command, as `--config` files and `theory sweep` grids see it.
type OptionInfo =
    { /// Union case name (the key of `Bag` and of Usage.fs).
      Case: string
      /// Command-line names, e.g. ["--init-std"] or ["-K"].
      Flags: string list
      /// Names of its values (empty for a flag such as `--open`), e.g. ["xi0"; "xi1"] for `--xi`.
      Fields: string list }

    /// The key of this option in a JSON file: the first flag without its dashes (`init-std`, `K`).
    member o.Key = o.Flags.Head.TrimStart('-')

    /// Whether a JSON key names this option (`init-std`, `init_std`, `--init-std` or `K` all work).
    member o.Accepts(key: string) =
        let k = key.TrimStart('-')
        o.Flags |> List.exists (fun f ->
            let f = f.TrimStart('-')
            f = k || f = k.Replace('_', '-'))

/// The options of argument union 'T (`--config` excluded: it is not an option of a configuration).
let describe<'T when 'T :> IArgParserTemplate> () : OptionInfo list =
    let parser = ArgumentParser.Create<'T>(programName = "theory", helpTextMessage = "", checkStructure = false)
    [ for c in parser.GetArgumentCases() do
          let flags = c.CommandLineNames.Value
          if not (List.contains "--config" flags) && not flags.IsEmpty then
              yield
                  { Case = c.UnionCaseInfo.Name
                    Flags = flags
                    Fields = c.UnionCaseInfo.GetFields() |> Array.map (fun f -> f.Name) |> List.ofArray } ]
