import DiffusionPhysics
import Foundation

/// `diffphys bench --clones D`: full-dimensional clones of the population two-class mixture
/// gmm2:d=D (m̃ = 1, σ = 1) on the batched SDE (`BatchedMixtureClones`), wall time beside the exact
/// φ (Docs/Theory.md §2.2), and — on a few pairs — the per-trajectory path (`CloningExperiment`
/// with `GaussianMixtureScore`) for the speed ratio per pair.
public struct CloneBenchmark: Sendable, Codable {
    public struct Point: Sendable, Codable { public var t: Double; public var phi: MeanEstimate; public var exact: Double }
    public var d: Int
    public var pairs: Int
    public var steps: Int
    public var threads: Int
    public var horizon: Double
    public var points: [Point]
    /// Wall time of the batched run.
    public var seconds: Double
    /// Matrix entries advanced per second (= Gaussian draws per second) in the batched run.
    public var entriesPerSecond: Double
    /// Pairs and wall time of the per-trajectory reference (nil when skipped).
    public var referencePairs: Int?
    public var referenceSeconds: Double?
    /// (reference seconds per pair) / (batched seconds per pair).
    public var speedup: Double?

    public static func run(d: Int, pairs: Int, times: [Double]?, settings base: SDESettings, threads: Int,
                           referencePairs: Int, seed: UInt64 = 1) throws -> CloneBenchmark {
        let law = try GaussianMixtureModel.twoClass(d: d, mTilde: 1, sigma: 1)
        let tS = 0.5 * log1p(Double(d))
        let branch = times ?? [tS - 0.5, tS, tS + 0.5]
        var settings = base
        if settings.horizon == nil { settings.horizon = max(0.5 * log(Double(d)) + 3, (branch.max() ?? 0) + 1) }
        let horizon = settings.resolvedHorizon()
        let clones = try BatchedMixtureClones(law: law, settings: settings, threads: threads)
        let start = Date()
        let result = try clones.run(branchTimes: branch, pairs: pairs, seed: seed)
        let seconds = Date().timeIntervalSince(start)
        // Entries advanced: per pair the trunk over the grid above the lowest branch time, and two
        // clones from each branch time to t_min.
        let grid = try settings.timeGrid(horizon: horizon).times
        let lowest = branch.min()!
        var steps = grid.filter { $0 > lowest }.count
        for t in branch { steps += 2 * grid.filter { $0 < t }.count }
        let points = result.map { Point(t: $0.t, phi: $0.sameClass!, exact: SpeciationTheory.phi(t: $0.t, d: Double(d), mTilde: 1, sigma: 1)) }
        var out = CloneBenchmark(d: d, pairs: pairs, steps: settings.steps, threads: threads, horizon: horizon, points: points,
                                 seconds: seconds, entriesPerSecond: Double(pairs) * Double(steps) * Double(d) / seconds)
        if referencePairs >= 1 {
            let reference = CloningExperiment(model: GaussianMixtureScore(law), settings: settings, threads: threads)
            let t0 = Date()
            _ = try reference.run(branchTimes: branch, pairs: referencePairs, seed: seed)
            let r = Date().timeIntervalSince(t0)
            out.referencePairs = referencePairs
            out.referenceSeconds = r
            out.speedup = (r / Double(referencePairs)) / (seconds / Double(pairs))
        }
        return out
    }

    public var lines: [String] {
        var l = [String(format: "clones gmm2:d=%d,mtilde=1,sigma=1: %d pairs, %d branch times, T = %.3f, %d steps, %d threads (batched d-dimensional SDE)",
                        d, pairs, points.count, horizon, steps, threads)]
        l.append(String(format: "  wall time %.1f s, %.3g matrix entries (Gaussian draws) per second", seconds, entriesPerSecond))
        for p in points {
            l.append(String(format: "  t = %.4f  φ = %.5f ± %.5f   exact %.5f   (%+.1f SE)", p.t, p.phi.mean, p.phi.standardError, p.exact,
                            (p.phi.mean - p.exact) / max(p.phi.standardError, 1e-300)))
        }
        if let rp = referencePairs, let rs = referenceSeconds, let s = speedup {
            l.append(String(format: "  per-trajectory reference (CloningExperiment): %d pairs in %.1f s → batched %.1f× faster per pair (%.0f s for %d pairs)",
                            rp, rs, s, rs / Double(rp) * Double(pairs), pairs))
        }
        return l
    }
}
