/// `theory sample`: draws NLGP and Gaussian-clone images of both classes and measures their statistics.
/// PLACEHOLDER until the data model lands (issue 2).
module Theory.Cli.Commands.Sample

open Theory.Cli.Options
open Theory.Cli.Shared
open Theory.Interop

let run (o: Bag) : int =
    let data = dataSpec o
    let dir = runDirectory o "sample"
    let manifest = RunManifest(Seed = o.Get("Seed", 0))
    addConfig manifest "data" data
    execute "sample" dir manifest (fun () -> raise (RunFailedException "theory sample is not implemented yet"))
