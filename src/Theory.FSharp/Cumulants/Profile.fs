namespace Theory.Cumulants

open System
open Theory.Interop
open Theory.Simulation.Data
open Theory.Simulation.Analysis

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

/// The one place where this engine measures receptive fields: the simulator's `Analysis.ReceptiveField`, so that a
/// CP factor, the single neuron and a simulated unit are measured by the same definitions.
module internal Profile =

    /// IPR, width and centre of `w` seen as an image of the given geometry.
    let summarise (g: ImageGeometry) (w: float[]) : ProfileSummary =
        let span = ReadOnlySpan<float>(w)
        let c = ReceptiveField.Centre(span, g)
        { Ipr = ReceptiveField.Ipr span; Width = ReceptiveField.Width(span, g); CentreX = c.X; CentreY = c.Y }

    /// IPR of i.i.d. Gaussian weights in dimension d, `3 / (D + 2)`: the delocalised reference.
    let gaussianIpr (d: int) = ReceptiveField.GaussianIpr d
