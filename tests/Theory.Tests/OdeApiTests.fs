/// The solver API: grids, stop conditions, failures with kept points, the lazy stream, the integrator,
/// allocation-free stepping, validation and the C# facade.
module Theory.Tests.OdeApiTests

open System
open Xunit
open Theory.Ode
open Theory.Tests.OdeProblems

let private decay: Rhs = fun _ y d -> d[0] <- -y[0]
let private methods = [ Dopri5; Stiff; Bdf; Radau9; Radau13 ]

[<Fact>]
let ``grid output starts at y0, follows the grid, and integrates backwards too`` () =
    for m in methods do
        let o = { tol 1e-9 with Method = m }
        let grid = [| 0.0; 0.0; 0.3; 0.3; 1.0; 2.5 |]
        let s = Solver.solveGrid o decay [| 1.0 |] grid
        Assert.Equal<float[]>(grid, s.Times)
        Assert.Equal(1.0, s.States[0][0])
        for i in 0 .. grid.Length - 1 do
            Assert.True(abs (s.States[i][0] - exp (-grid[i])) < 1e-7, sprintf "%A t = %g" m grid[i])
        let back = Solver.solveGrid o decay [| exp -2.0 |] [| 2.0; 1.0; 0.0 |]
        // BDF's global error runs 10-100 times its tolerance on this growing (backward) solution.
        let bound = if m = Bdf then 1e-6 else 1e-8
        Assert.True(abs (back.States[2][0] - 1.0) < bound, sprintf "%A backwards: %g" m (back.States[2][0]))
        let single = Solver.solveGrid o decay [| 1.0 |] [| 5.0 |]
        Assert.Equal(Completed, single.Outcome)
        Assert.Equal(0, single.Stats.Accepted)

/// A falling body: height, velocity; it hits the ground at sqrt(2 h0 / g).
let private fall: Rhs = fun _ y d -> d[0] <- y[1]; d[1] <- -9.81

[<Fact>]
let ``a stop condition ends the run at the located crossing`` () =
    let exact = sqrt (2.0 * 10.0 / 9.81)
    for m in methods do
        let problem = { Problem.ofRhs fall with Stop = Some { Function = (fun _ y -> y[0]); Direction = Falling } }
        let grid = Array.init 11 (fun i -> 0.5 * float i)
        let s = Solver.solveProblemGrid { tol 1e-10 with Method = m } problem [| 10.0; 0.0 |] grid
        match s.Outcome with
        | Stopped ts ->
            Assert.True(abs (ts - exact) < 1e-8, sprintf "%A: stop at %.15g, exact %.15g" m ts exact)
            Assert.Equal(ts, s.Times[s.Times.Length - 1])
            // The crossing of the dense output is located to rounding (the speed there is 14).
            let height = (last s)[0]
            Assert.True(abs height < 1e-12, sprintf "%A: height at the stop %g" m height)
            // The grid points before the stop are kept: 0, 0.5, 1.0.
            Assert.Equal<float[]>([| 0.0; 0.5; 1.0; ts |], s.Times)
        | other -> failwithf "%A: expected a stop, got %A" m other

[<Fact>]
let ``the crossing direction selects the event`` () =
    // y = sin t: falls through zero at pi, rises through zero at 2 pi.
    let sine: Rhs = fun t _ d -> d[0] <- cos t
    let stopAt direction =
        let p = { Problem.ofRhs sine with Stop = Some { Function = (fun _ y -> y[0]); Direction = direction } }
        match (Solver.solveProblem (tol 1e-10) p 0.0 [| 0.0 |] 10.0).Outcome with
        | Stopped t -> t
        | other -> failwithf "%A" other
    Assert.True(abs (stopAt Falling - Math.PI) < 1e-8)
    Assert.True(abs (stopAt Either - Math.PI) < 1e-8)
    Assert.True(abs (stopAt Rising - 2.0 * Math.PI) < 1e-8)

let private failureMessage (s: Solution) =
    match s.Outcome with
    | Failed message -> message
    | other -> failwithf "expected a failure, got %A" other

[<Fact>]
let ``a NaN from the right-hand side stops the run, names the time and keeps the points`` () =
    let poisoned: Rhs = fun t y d -> d[0] <- (if t > 1.5 then nan else -y[0])
    let grid = Array.init 13 (fun i -> 0.25 * float i)
    for m in methods do
        let s = Solver.solveGrid { tol 1e-8 with Method = m } poisoned [| 1.0 |] grid
        let message = failureMessage s
        Assert.Contains("NaN", message)
        let t = timeInMessage message
        Assert.True(t > 1.4 && t <= 1.5, sprintf "%A: %s" m message)
        // Every grid point up to the time reached is kept and correct.
        Assert.Equal<float[]>(grid |> Array.filter (fun g -> g <= t), s.Times)
        for i in 0 .. s.Times.Length - 1 do
            Assert.True(abs (s.States[i][0] - exp (-s.Times[i])) < 1e-6)

[<Fact>]
let ``a blow-up ends in a step-size underflow at the singular time with the points kept`` () =
    // y' = y^2, y(0) = 1: y = 1 / (1 - t) blows up at t = 1.
    let blowUp: Rhs = fun _ y d -> d[0] <- y[0] * y[0]
    let grid = Array.init 9 (fun i -> 0.25 * float i)
    for m in methods do
        let s = Solver.solveGrid { tol 1e-8 with Method = m } blowUp [| 1.0 |] grid
        let message = failureMessage s
        Assert.Contains("underflow", message)
        let t = timeInMessage message
        Assert.True(abs (t - 1.0) < 1e-3, sprintf "%A: %s" m message)
        Assert.Equal<float[]>(grid |> Array.filter (fun g -> g <= t), s.Times)
        for i in 0 .. s.Times.Length - 1 do
            let bound = if m = Bdf then 1e-5 else 1e-6
            if s.Times[i] < 1.0 then Assert.True(abs (s.States[i][0] * (1.0 - s.Times[i]) - 1.0) < bound)

[<Fact>]
let ``an exhausted step budget stops with the time reached and keeps the points`` () =
    let grid = Array.init 41 (fun i -> 0.5 * float i)
    for m in methods do
        let s = Solver.solveGrid { Options.defaults with Method = m; MaxSteps = 25 } (vanDerPol 1.0) [| 2.0; 0.0 |] grid
        let message = failureMessage s
        Assert.Contains("step budget exhausted (MaxSteps = 25", message)
        Assert.Equal(25, s.Stats.Accepted + s.Stats.Rejected)
        let t = timeInMessage message
        Assert.True(t > 0.0 && t < 20.0)
        Assert.True(s.Times.Length >= 1 && s.Times[s.Times.Length - 1] <= t)
        Assert.True(s.Times.Length = (grid |> Array.filter (fun g -> g <= t)).Length, sprintf "%A: %d points before %g" m s.Times.Length t)

[<Fact>]
let ``a NaN at the initial point fails at once`` () =
    for m in methods do
        let s = Solver.solveGrid { Options.defaults with Method = m } (fun _ _ d -> d[0] <- nan) [| 1.0 |] [| 0.0; 1.0 |]
        Assert.Contains("initial point t = 0", failureMessage s)
        Assert.Equal<float[]>([| 0.0 |], s.Times)

[<Fact>]
let ``the lazy stream steps only as far as it is read, and raises after the last good point on failure`` () =
    let mutable calls = 0
    let counted: Rhs = fun _ y d -> calls <- calls + 1; d[0] <- -y[0]
    let first5 = Solver.points Options.defaults (Problem.ofRhs counted) 0.0 [| 1.0 |] 100.0 |> Seq.take 5 |> Array.ofSeq
    Assert.Equal(5, first5.Length)
    Assert.Equal(0.0, first5[0].T)
    // Hairer's start (2 evaluations) and 4 steps of 6, plus any rejections: far from integrating to t = 100.
    Assert.True(calls <= 2 + 6 * 8, sprintf "%d evaluations for 5 points" calls)
    let poisoned: Rhs = fun t y d -> d[0] <- (if t > 1.0 then nan else -y[0])
    let seen = ResizeArray<SolutionPoint>()
    let ex = Assert.Throws<OdeFailedException>(fun () -> for p in Solver.points Options.defaults (Problem.ofRhs poisoned) 0.0 [| 1.0 |] 5.0 do seen.Add p)
    Assert.True(seen.Count > 1)
    Assert.True(seen |> Seq.forall (fun p -> p.T <= 1.0))
    Assert.Contains("NaN", ex.Message)

[<Fact>]
let ``the integrator steps without allocating`` () =
    let n = 20
    let rng = Random(3)
    let a = randomStableMatrix rng n
    let rhs = linearRhs a
    let y0 = Array.init n (fun i -> float (i % 3) - 1.0)
    // MaxStep 1 keeps every method stepping (the Radau IIA methods would otherwise reach 1e4 in ~100 steps).
    for o in [ for m in methods -> { tol 1e-8 with Method = m } ] @ [ { tol 1e-8 with Method = Radau9; Newton = Full } ] do
        let m = o.Method, o.Newton
        let it = Solver.init { o with MaxSteps = 100_000; MaxStep = 1.0 } (Problem.ofRhs rhs) 0.0 y0 1e4
        let steps, allocated = allocationWhileStepping it 200
        Assert.Equal(200, steps)
        Assert.True(allocated < 1024L, sprintf "%A: %d bytes allocated in 200 steps" m allocated)

[<Fact>]
let ``the same problem gives bitwise-identical output`` () =
    let run m = Solver.solveGrid { Options.defaults with Method = m } (stiffVanDerPol 1e-3) [| 2.0; 0.0 |] (Array.init 21 (fun i -> 0.1 * float i))
    for m in [ Dopri5; Stiff; Bdf; Auto; Radau9; Radau13 ] do
        let a, b = run m, run m
        Assert.Equal(a.Stats, b.Stats)
        for i in 0 .. a.States.Length - 1 do
            Assert.Equal<float[]>(a.States[i], b.States[i])

[<Fact>]
let ``invalid options and inputs are rejected with the field and the allowed range`` () =
    let bad (o: Options) (field: string) =
        let ex = Assert.Throws<ArgumentException>(fun () -> Solver.solve o decay 0.0 [| 1.0 |] 1.0 |> ignore)
        Assert.Contains(field, ex.Message)
    bad { Options.defaults with RelTol = -1.0 } "Options.RelTol"
    bad { Options.defaults with MaxStep = 0.0 } "Options.MaxStep"
    bad { Options.defaults with MaxSteps = 0 } "Options.MaxSteps"
    bad { Options.defaults with MaxOrder = 6 } "Options.MaxOrder"
    bad { Options.defaults with Jacobian = BlockDiagonal [| 2 |] } "sum to the system size 1"
    let ex = Assert.Throws<ArgumentException>(fun () -> Solver.solveGrid Options.defaults decay [| 1.0 |] [| 0.0; 2.0; 1.0 |] |> ignore)
    Assert.Contains("monotone", ex.Message)

[<Fact>]
let ``the C# facade takes arrays and delegates`` () =
    let settings = OdeSettings(RelTol = 1e-9, AbsTol = 1e-9, Method = OdeMethod.Stiff)
    let grid = [| 0.0; 1.0; 2.0 |]
    let r = OdeSolver.SolveGrid(Action<float, float[], float[]>(fun _ y d -> d[0] <- -y[0]), [| 1.0 |], grid, settings)
    Assert.True(r.Succeeded)
    Assert.Equal("completed", r.Status)
    Assert.True(abs (r.States[2][0] - exp -2.0) < 1e-7)
    Assert.True(r.Jacobians > 0)
    let f = OdeSolver.Solve(Func<float, float[], float[]>(fun _ y -> [| -y[0] |]), 0.0, [| 1.0 |], 1.0)
    Assert.True(abs (f.States[f.States.Length - 1][0] - exp -1.0) < 1e-5)
    let stopped =
        OdeSolver.Solve(Action<float, float[], float[]>(fun _ y d -> fall 0.0 y d), 0.0, [| 10.0; 0.0 |], 10.0,
                        stop = Func<float, float[], float>(fun _ y -> y[0]), crossing = OdeCrossing.Falling)
    Assert.Equal("stopped", stopped.Status)
    Assert.True(abs (stopped.StopTime - sqrt (2.0 * 10.0 / 9.81)) < 1e-6)
