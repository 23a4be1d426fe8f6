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

let private invariant (e: JsonElement) =
    match e.ValueKind with
    | JsonValueKind.Number -> e.GetDouble().ToString("R", CultureInfo.InvariantCulture)
    | JsonValueKind.String -> e.GetString()
    | _ -> e.GetRawText()

/// Turns a config file into command-line tokens for `parser`; unknown keys and malformed files are usage errors.
let configTokens (parser: ArgumentParser<'T>) (path: string) : string list =
    let text =
        try File.ReadAllText path
        with e -> raise (SpecException("--config", sprintf "cannot read '%s' (%s)" path e.Message))
    let doc =
        try JsonDocument.Parse(text, JsonDocumentOptions(CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true))
        with e -> raise (SpecException("--config", sprintf "'%s' is not valid JSON (%s)" path (e.Message.Split('\n').[0])))
    use doc = doc
    if doc.RootElement.ValueKind <> JsonValueKind.Object then
        raise (SpecException("--config", sprintf "'%s' must hold one JSON object of option names to values" path))
    let names =
        parser.GetArgumentCases()
        |> List.collect (fun c -> c.CommandLineNames.Value)
        |> List.filter (fun n -> n <> "--config")
    let token (key: string) =
        let candidates = [ "--" + key; "-" + key; "--" + key.Replace('_', '-') ]
        match candidates |> List.tryFind (fun c -> List.contains c names) with
        | Some flag -> flag
        | None ->
            let allowed = names |> List.map (fun n -> n.TrimStart('-')) |> String.concat ", "
            raise (SpecException("--config", sprintf "unknown key '%s' in '%s' (allowed: %s)" key path allowed))
    [ for p in doc.RootElement.EnumerateObject() do
          let flag = token p.Name
          match p.Value.ValueKind with
          | JsonValueKind.True -> yield flag
          | JsonValueKind.False
          | JsonValueKind.Null -> ()
          | JsonValueKind.Array ->
              yield flag
              for x in p.Value.EnumerateArray() do yield invariant x
          | JsonValueKind.Object -> raise (SpecException("--config", sprintf "key '%s' must be a number, string, boolean or list" p.Name))
          | _ -> yield flag; yield invariant p.Value ]

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
        let fromConfig =
            if configIndex >= 0 && configIndex + 1 < argv.Length then configTokens parser argv[configIndex + 1] else []
        let rest =
            if configIndex >= 0 then Array.append argv[.. configIndex - 1] argv[min argv.Length (configIndex + 2) ..]
            else argv
        let tokens = Array.append (Array.ofList fromConfig) rest
        let results = parser.ParseCommandLine(tokens, raiseOnUsage = true, ignoreMissing = true)
        Some(ofResults results)
