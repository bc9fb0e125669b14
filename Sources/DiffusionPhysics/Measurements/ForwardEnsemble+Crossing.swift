import Foundation
import GSLKit

/// A level crossing of a forward-ensemble curve, solved on a fixed sample set.
public struct SolvedCrossing: Sendable, Codable, Equatable {
    /// The level value (forward time t, or σ) where the sample mean crosses the level.
    public var t: Double
    /// Statistical error by the delta method: SE(ȳ(t*)) / |dȳ/dt(t*)|.
    public var standardError: Double
    /// dȳ/dt at the crossing (central difference on the same samples).
    public var slope: Double
    /// Root-finding tolerance on t (a numerical error, far below the SE).
    public var tolerance: Double
    /// Ensemble evaluations used (coarse grid points count as one).
    public var evaluations: Int

    /// Written as a schema measured value `{"value": t, "stderr", …}` (Docs/Schema.md).
    enum CodingKeys: String, CodingKey { case t = "value", standardError = "stderr", slope, tolerance, evaluations }
}

extension ForwardEnsemble {
    /// Solves ȳ(t) = `level` for the mean of a per-sample statistic, on one fixed set of samples.
    ///
    /// With common random numbers every sample's value y_i(t) is a smooth function of t, so the
    /// sample mean ȳ(t) is too, and its crossing is a root, not an interpolation: `bracket` (a coarse
    /// grid, any order) locates the first sign change in increasing t, then GSL's Brent method
    /// solves ȳ(t) − level = 0 to `tolerance`, re-evaluating the ensemble at each new t. The result
    /// does not depend on the grid beyond the bracket it picks. The error is the delta method
    /// (Docs/Conventions.md): t̂ − t* ≈ −(ȳ(t*) − E ȳ(t*)) / ȳ′(t*), so SE(t̂) = SE(ȳ(t̂)) / |ȳ′(t̂)|.
    /// Returns nil when the grid shows no sign change.
    public func solveCrossing(level: Double, bracket grid: [Double], samples: Int, seed: UInt64,
                              tolerance: Double = 1e-7,
                              statistic: @escaping (ForwardSampleValues) -> [Double]?) throws -> SolvedCrossing? {
        let times = Array(Set(grid)).sorted()
        guard times.count >= 2 else { throw ModelError("a crossing needs at least two bracket points", parameter: "times") }
        var evaluations = 0
        func values(_ levels: [Double]) throws -> [[Double]] {
            evaluations += 1
            return try sampleValues(levels: levels, samples: samples, seed: seed).map { v in
                guard let y = statistic(v) else { throw ModelError("the ensemble does not record this statistic") }
                return y
            }
        }
        func mean(_ y: [Double]) -> Double { y.reduce(0, +) / Double(y.count) }
        let coarse = try values(times).map(mean)
        guard let k = coarse.indices.dropLast().first(where: { (coarse[$0] - level) * (coarse[$0 + 1] - level) <= 0 }) else { return nil }
        let lo = times[k], hi = times[k + 1]
        let root: Double
        if coarse[k] == level { root = lo } else if coarse[k + 1] == level { root = hi } else {
            root = try RootFinding.brent(in: lo...hi, absoluteTolerance: tolerance, relativeTolerance: 0) { t in
                try mean(values([t])[0]) - level
            }
        }
        // Delta method at the root: per-sample SE of ȳ, slope by a central difference.
        let h: Double = max(1e-5 * (hi - lo), 10 * tolerance)
        let around = try values([root - h, root, root + h])
        let slope = (mean(around[2]) - mean(around[0])) / (2 * h)
        let se = MeanEstimate(around[1]).standardError / max(abs(slope), .leastNormalMagnitude)
        return SolvedCrossing(t: root, standardError: se, slope: slope, tolerance: tolerance, evaluations: evaluations)
    }
}
