/// Tests in this assembly run one at a time: many of them run the CLI in-process and redirect the process-wide
/// Console.Out/Error, which parallel test classes would race over. (The C# test assembly runs beside this one.)
module Theory.Tests.AssemblyInfo

[<assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)>]
do ()
