/// DOPRI5: Hairer's work counts and accuracies, exact solutions, observed orders, invariants.
module Theory.Tests.OdeDopri5Tests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open MathNet.Numerics.LinearAlgebra
open Theory.Ode
open Theory.Tests.OdeProblems

let private problem name =
    match name with
    | "arenstorf" -> arenstorf, arenstorfPeriod, arenstorfY0
    | "lotka-volterra" -> lotkaVolterra, 10.0, [| 1.0; 1.0 |]
    | "van-der-pol" -> vanDerPol 1.0, 20.0, [| 2.0; 0.0 |]
    | "brusselator" -> brusselator, 20.0, [| 1.5; 3.0 |]
    | _ -> failwith name

/// The end point from two independent methods at tight tolerance (DOPRI5 at 1e-13 and Radau IIA at 1e-12),
/// which must agree, so that neither is checked only against itself.
let private reference name =
    let rhs, tEnd, y0 = problem name
    if name = "arenstorf" then y0 // the orbit is periodic: the exact end point is the start
    else
        let a = last (Solver.solve (tol 1e-13) rhs 0.0 y0 tEnd)
        let b = last (Solver.solve { tol 1e-12 with Method = Stiff } rhs 0.0 y0 tEnd)
        Assert.True(maxAbsDiff a b < 1e-8, sprintf "%s: the two references differ by %g" name (maxAbsDiff a b))
        a

[<Theory>]
[<InlineData("arenstorf", 986, 4.0e-2)>]
[<InlineData("lotka-volterra", 644, 1.4e-5)>]
[<InlineData("van-der-pol", 1088, 1.9e-5)>]
[<InlineData("brusselator", 830, 2.0e-6)>]
let ``DOPRI5 at 1e-6 needs Hairer's evaluations and is at most twice as far from the reference`` (name: string, evaluations: int, error: float) =
    let rhs, tEnd, y0 = problem name
    let s = Solver.solve Options.defaults rhs 0.0 y0 tEnd
    Assert.Equal(Completed, s.Outcome)
    // Same initial step, controller and last-step rule as DOPRI5: the counts agree exactly.
    Assert.Equal(evaluations, s.Stats.Evaluations)
    Assert.Equal(tEnd, s.Times[s.Times.Length - 1])
    let e = maxAbsDiff (last s) (reference name)
    Assert.True(e <= 2.0 * error, sprintf "%s: end error %g > 2 x %g" name e error)

[<Fact>]
let ``exact solutions of scalar equations are reproduced to the tolerance`` () =
    let cases: (string * Rhs * (float -> float)) list =
        [ "decay", (fun _ y d -> d[0] <- -2.0 * y[0]), (fun t -> exp (-2.0 * t))
          "gaussian", (fun t y d -> d[0] <- -2.0 * t * y[0]), (fun t -> exp (-t * t))
          "logistic", (fun _ y d -> d[0] <- y[0] * (1.0 - y[0])), (fun t -> 1.0 / (1.0 + 9.0 * exp (-t)))
          "periodic", (fun t y d -> d[0] <- cos t * y[0]), (fun t -> exp (sin t)) ]
    for name, rhs, exact in cases do
        let grid = Array.init 41 (fun i -> 0.25 * float i)
        let y0 = [| exact 0.0 |]
        for rt in [ 1e-6; 1e-9 ] do
            let s = Solver.solveGrid (tol rt) rhs y0 grid
            let e = Array.fold2 (fun m t (y: float[]) -> max m (abs (y[0] - exact t))) 0.0 s.Times s.States
            // Global error of a few times the tolerance over 10 time units.
            Assert.True(e < 20.0 * rt, sprintf "%s at %g: error %g" name rt e)

[<Fact>]
let ``linear systems agree with the matrix exponential`` () =
    let a = Matrix<float>.Build.DenseOfArray(array2D [ [ -1.0; 2.0; 0.0 ]; [ -2.0; -1.0; 0.5 ]; [ 0.0; -0.5; -0.3 ] ])
    let y0 = [| 1.0; 0.0; -1.0 |]
    let grid = Array.init 21 (fun i -> 0.5 * float i)
    for m in [ Dopri5; Stiff; Bdf; Radau9; Radau13 ] do
        let s = Solver.solveGrid { tol 1e-9 with Method = m } (linearRhs a) y0 grid
        for i in 0 .. grid.Length - 1 do
            let exact = (expm (a * grid[i]) * Vector<float>.Build.DenseOfArray y0).ToArray()
            let e = maxAbsDiff s.States[i] exact
            Assert.True(e < 1e-7, sprintf "%A t = %g: error %g" m grid[i] e)

/// Fixed steps of size h: tolerances so loose that nothing is rejected, the step capped at h.
let private fixedStep (h: float) = { Options.defaults with RelTol = 0.5; AbsTol = 1e3; InitialStep = h; MaxStep = h }

/// Global errors at 20, 40, 80 fixed steps on [0, 2] and the observed orders between them.
let private observedOrders (rhs: Rhs) (y0: float[]) (exact: float[]) =
    let e =
        [| for steps in [ 20; 40; 80 ] ->
               let s = Solver.solve (fixedStep (2.0 / float steps)) rhs 0.0 y0 2.0
               Assert.Equal(steps, s.Stats.Accepted)
               maxAbsDiff (last s) exact |]
    e, [| for k in 0 .. 1 -> Math.Log2(e[k] / e[k + 1]) |]

[<Fact>]
let ``DOPRI5 has observed order 5 at fixed steps`` () =
    // The harmonic oscillator: the principal local error (1/600 - 1/720) (h lambda)^6 of DOPRI5's stability
    // polynomial does not vanish, so the global error is exactly of order 5.
    let oscillator: Rhs = fun _ y d -> d[0] <- y[1]; d[1] <- -y[0]
    let e, orders = observedOrders oscillator [| 1.0; 0.0 |] [| cos 2.0; -sin 2.0 |]
    for p in orders do
        Assert.True(abs (p - 5.0) < 0.1, sprintf "observed order %g (errors %A)" p e)
    // Nonlinear problems: at least order 5 (Dormand and Prince made the 5th-order error coefficients small, so
    // at these step sizes the h^6 term shows through).
    let y0 = limitCycleExact 0.5 0.0
    let e, orders = observedOrders limitCycle y0 (limitCycleExact 0.5 2.0)
    for p in orders do
        Assert.True(p > 4.8 && p < 6.5, sprintf "observed order %g (errors %A)" p e)

[<Fact>]
let ``DOPRI5's dense output has order 4 (local error h^5), far from linear interpolation`` () =
    let y0 = limitCycleExact 0.5 0.0
    // One step of size h from the exact value; the dense output at 0.4 h.
    let err (h: float) =
        let s = Solver.solveGrid (fixedStep h) limitCycle y0 [| 0.0; 0.4 * h; h |]
        Assert.Equal(1, s.Stats.Accepted)
        maxAbsDiff s.States[1] (limitCycleExact 0.5 (0.4 * h))
    let e = [| err 0.4; err 0.2; err 0.1 |]
    for k in 0 .. 1 do
        let order = Math.Log2(e[k] / e[k + 1])
        Assert.True(abs (order - 5.0) < 0.5, sprintf "dense output local order %g (errors %A)" order e)

[<Fact>]
let ``the Arenstorf orbit returns to its start, closer as the tolerance shrinks`` () =
    let gap rt = maxAbsDiff (last (Solver.solve (tol rt) arenstorf 0.0 arenstorfY0 arenstorfPeriod)) arenstorfY0
    let g6, g9, g12 = gap 1e-6, gap 1e-9, gap 1e-12
    Assert.True(g9 < g6 / 10.0 && g12 < g9 / 10.0, sprintf "gaps %g %g %g" g6 g9 g12)
    Assert.True(g12 < 1e-6, sprintf "return gap at 1e-12: %g" g12)

[<Fact>]
let ``the Lotka-Volterra invariant drifts less than 1e-10 at tolerance 1e-12`` () =
    let y0 = [| 1.0; 1.0 |]
    let h0 = lotkaVolterraInvariant y0
    let s = Solver.solve (tol 1e-12) lotkaVolterra 0.0 y0 10.0
    let drift = s.States |> Array.map (fun y -> abs (lotkaVolterraInvariant y - h0)) |> Array.max
    Assert.True(drift < 1e-10, sprintf "drift %g" drift)

[<Fact>]
let ``on random stable linear systems the error shrinks with the tolerance`` () =
    let property (seed: int) =
        let a, y0, exact = randomLinearProblem seed
        [ Dopri5; Stiff ]
        |> List.forall (fun m ->
            let e rt = maxAbsDiff (last (Solver.solve { tol rt with Method = m } (linearRhs a) 0.0 y0 3.0)) exact
            let e4, e7, e10 = e 1e-4, e 1e-7, e 1e-10
            // Each factor 1000 in tolerance buys at least a factor 30 in error, and the error stays near
            // the tolerance.
            e7 < e4 / 30.0 && e10 < max (e7 / 30.0) 1e-13 && e4 < 1e-2 && e10 < 1e-8)
    let arb = Arb.fromGen (Gen.choose (0, 1_000_000))
    Check.One(Config.QuickThrowOnFailure.WithMaxTest 40, Prop.forAll arb property)

[<Fact>]
let ``grid output through the dense output is no worse than twice the step-point error`` () =
    for name in [ "brusselator"; "van-der-pol"; "lotka-volterra" ] do
        let rhs, tEnd, y0 = problem name
        let steps = Solver.solve Options.defaults rhs 0.0 y0 tEnd
        let grid = Array.init 401 (fun i -> tEnd * float i / 400.0)
        let onGrid = Solver.solveGrid Options.defaults rhs y0 grid
        // The output grid does not change the steps taken.
        Assert.Equal(steps.Stats, onGrid.Stats)
        // Errors against a tight-tolerance solution evaluated at the same times.
        let refSteps = Solver.solveGrid (tol 1e-13) rhs y0 steps.Times
        let refGrid = Solver.solveGrid (tol 1e-13) rhs y0 grid
        let stepError = Array.map2 maxAbsDiff steps.States refSteps.States |> Array.max
        let gridError = Array.map2 maxAbsDiff onGrid.States refGrid.States |> Array.max
        Assert.True(gridError <= 2.0 * stepError, sprintf "%s: grid error %g, step error %g" name gridError stepError)

[<Fact>]
let ``DOPRI5 warns when the problem becomes stiff`` () =
    let s = Solver.solve Options.defaults (stiffVanDerPol 1e-4) 0.0 [| 2.0; 0.0 |] 0.5
    Assert.Equal(Completed, s.Outcome)
    let w = Assert.Single(s.Warnings)
    Assert.Contains("stiff at t = ", w)
    Assert.Contains("Method = Stiff", w)
    // On a non-stiff problem there is no warning.
    Assert.Empty((Solver.solve Options.defaults brusselator 0.0 [| 1.5; 3.0 |] 20.0).Warnings)
