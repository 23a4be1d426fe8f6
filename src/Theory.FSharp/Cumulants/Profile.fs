namespace Theory.Cumulants

open System
open Theory.Interop
open Theory.Simulation.Data

/// What a weight vector (a neuron's receptive field or a CP factor) looks like as an image (SCIENCE.md section 3).
type ProfileSummary =
    { /// Inverse participation ratio `sum w^4 / (sum w^2)^2`: 1 for one pixel, 1/D for a uniform vector, about 3/D
      /// for i.i.d. Gaussian weights.
      Ipr: float
      /// Full width at half maximum of |w| around its peak, in pixels (2D: geometric mean of the widths along the
      /// row and the column through the peak). L when the profile never drops below half its peak.
      Width: float
      /// Energy-weighted circular mean of the pixel positions along the columns (1D: along the ring).
      CentreX: float
      /// Same along the rows (2D); 0 in 1D.
      CentreY: float }

/// The one place where this engine measures receptive fields. The simulator's `Simulation.Analysis.ReceptiveField`
/// (being written in parallel) defines the same IPR, width and centre; when it lands, `summarise` becomes a call to
/// it and everything here disappears. Internal on purpose: there must be one public implementation, not two.
module internal Profile =

    let private ipr (w: float[]) =
        let mutable s2 = 0.0
        let mutable s4 = 0.0
        for x in w do
            let q = x * x
            s2 <- s2 + q
            s4 <- s4 + q * q
        if s2 > 0.0 then s4 / (s2 * s2) else nan

    /// Distance from the peak at `pos` to where |line| first drops below half the peak, walking in direction `dir`
    /// (linear interpolation between the last pixel above and the first below).
    let private halfWidth (value: int -> float) (n: int) (pos: int) (dir: int) (peak: float) (periodic: bool) =
        let half = 0.5 * peak
        let mutable prev = peak
        let mutable result = nan
        let mutable j = 1
        while Double.IsNaN result && j < n do
            let p = pos + dir * j
            if not periodic && (p < 0 || p >= n) then
                result <- float j - 0.5
            else
                let p = ((p % n) + n) % n
                let cur = abs (value p)
                if cur < half then result <- float (j - 1) + (prev - half) / (prev - cur)
                prev <- cur
            j <- j + 1
        if Double.IsNaN result then float n else result

    let private axisWidth (value: int -> float) (n: int) (pos: int) (periodic: bool) =
        let peak = abs (value pos)
        if not (peak > 0.0) then nan
        else min (float n) (halfWidth value n pos 1 peak periodic + halfWidth value n pos -1 peak periodic)

    let private width (g: ImageGeometry) (w: float[]) =
        let mutable peak = 0
        for i in 1 .. w.Length - 1 do
            if abs w[i] > abs w[peak] then peak <- i
        let periodic = g.Boundary = Boundary.Periodic
        let L = g.Size
        if g.Dim = 1 then
            axisWidth (fun p -> w[p]) L peak periodic
        else
            let row, col = peak / L, peak % L
            let wx = axisWidth (fun p -> w[row * L + p]) L col periodic
            let wy = axisWidth (fun p -> w[p * L + col]) L row periodic
            sqrt (wx * wy)

    let private centre (g: ImageGeometry) (w: float[]) =
        let L = g.Size
        let periodic = g.Boundary = Boundary.Periodic
        let step = 2.0 * Math.PI / float L
        let mutable sx, cx, sy, cy, mx, my, total = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
        for i in 0 .. w.Length - 1 do
            let e = w[i] * w[i]
            let x, y = (if g.Dim = 1 then i, 0 else i % L, i / L)
            total <- total + e
            sx <- sx + e * sin (step * float x)
            cx <- cx + e * cos (step * float x)
            sy <- sy + e * sin (step * float y)
            cy <- cy + e * cos (step * float y)
            mx <- mx + e * float x
            my <- my + e * float y
        let angle s c =
            let a = atan2 s c / step
            if a < 0.0 then a + float L else a
        if not (total > 0.0) then nan, nan
        elif not periodic then mx / total, (if g.Dim = 1 then 0.0 else my / total)
        else angle sx cx, (if g.Dim = 1 then 0.0 else angle sy cy)

    /// IPR, width and centre of `w` seen as an image of the given geometry.
    let summarise (g: ImageGeometry) (w: float[]) : ProfileSummary =
        let cx, cy = centre g w
        { Ipr = ipr w; Width = width g w; CentreX = cx; CentreY = cy }

    /// IPR of i.i.d. Gaussian weights in dimension d, `3 / (D + 2)`: the delocalised reference.
    let gaussianIpr (d: int) = 3.0 / float (d + 2)
