module Theory.Tests.OdeSmokeTests

open Xunit
open Theory.Ode

[<Fact>]
let ``exponential decay matches exp(-t) on a grid`` () =
    let rhs: Rhs = fun _ y dy -> dy[0] <- -y[0]
    let grid = [| 0.0; 0.5; 1.0; 2.0 |]
    let sol = Solver.solveGrid Options.defaults rhs [| 1.0 |] grid
    Assert.Equal(Completed, sol.Outcome)
    for i in 0 .. grid.Length - 1 do
        Assert.True(abs (sol.States[i][0] - exp (-grid[i])) < 1e-6, sprintf "t = %g" grid[i])
