import Foundation
import GSLKit

/// A histogram with uniform bins on [lower, upper] (values outside go to the end bins).
public struct Histogram: Sendable, Codable, Equatable {
    public var lower: Double
    public var upper: Double
    public var counts: [Int]
    /// Bin centres.
    public var centres: [Double] {
        let w = (upper - lower) / Double(counts.count)
        return counts.indices.map { lower + (Double($0) + 0.5) * w }
    }

    public init(_ values: [Double], bins: Int, lower: Double, upper: Double) {
        precondition(bins >= 1 && upper > lower)
        self.lower = lower
        self.upper = upper
        var c = [Int](repeating: 0, count: bins)
        for v in values where v.isFinite {
            let k = Int(((v - lower) / (upper - lower) * Double(bins)).rounded(.down))
            c[min(bins - 1, max(0, k))] += 1
        }
        counts = c
    }
}

/// Gap-ratio memorisation of a set of generated samples (Docs/Theory.md §3.4 M4, [BUBM] compute_fmem.py):
/// r = d₁/d₂ (nearest / second-nearest training distance); memorised iff r < 1/3.
public struct MemorizationFraction: Sendable, Codable, Equatable {
    /// Which samples: "x(t_min)" (compared in the VE variable y = x e^{t_min}), "posterior mean", "posterior draw".
    public var samples: String
    /// f_mem with binomial SE.
    public var fraction: MeanEstimate
    /// Percentile-bootstrap interval of f_mem.
    public var interval: BootstrapInterval
    /// Mean nearest-neighbour distance d₁ and mean gap ratio.
    public var nearestDistance: MeanEstimate
    public var gapRatio: MeanEstimate
    /// Threshold on r (1/3).
    public var threshold: Double

    /// f_mem of `samples` against the training `points`.
    public static func measure(_ samples: Matrix<Double>, points: Matrix<Double>, label: String,
                               threshold: Double = 1.0 / 3, seed: UInt64 = 0) -> MemorizationFraction {
        let reports = NearestNeighbours.find(samples: samples, points: points)
        let ratios = reports.map { $0.gapRatio ?? 0 }
        let hits = ratios.map { $0 < threshold ? 1.0 : 0.0 }
        let k = Int(hits.reduce(0, +))
        return MemorizationFraction(samples: label, fraction: .proportion(successes: k, trials: hits.count),
                                    interval: Bootstrap.meanInterval(hits, resamples: 1000, seed: seed),
                                    nearestDistance: MeanEstimate(reports.map(\.nearestDistance)),
                                    gapRatio: MeanEstimate(ratios), threshold: threshold)
    }
}

/// Per-trajectory collapse along backward SDE runs (Docs/Theory.md §3.4 M2) and memorisation of the endpoints (M4).
public struct TrajectoryCollapseResult: Sendable, Codable, Equatable {
    /// The grid t₀ = T > … > t_K = t_min.
    public var times: [Double]
    /// hat t_C per trajectory.
    public var collapseTimes: [Double]
    /// Mean of hat t_C (bar hat t_C) with its SE, and the median.
    public var mean: MeanEstimate
    public var median: Double
    /// Histogram of hat t_C on [0, max hat t_C].
    public var histogram: Histogram
    /// Commitment C(t_k) = P(μ*(t_k) = μ_end) on the grid.
    public var commitment: [MeanEstimate]
    /// P(hat t_C ≥ t_k) on the grid (≤ C(t_k) exactly).
    public var survival: [Double]
    /// Gap-ratio memorisation of x(t_min), of the posterior mean m̂(x(t_min)), and of the posterior draw.
    public var memorization: [MemorizationFraction]
}

/// Backward-SDE runs with the exact empirical score that record μ*(t) = argmax_μ w_μ(x(t), t),
/// the nearest scaled training point a_μ e^{−t}, at every grid time (Docs/Theory.md §3.4 M2).
///
/// μ_end is the training point the trajectory ends on (posterior draw at t_min). With
/// k* = min{k : μ*(t_j) = μ_end for all j ≥ k}, hat t_C = t_{k*} — the last time μ* changes, or
/// the first grid time T if it never changes — and hat t_C = 0 if μ*(t_min) ≠ μ_end (the choice
/// was made by the final draw). By construction {hat t_C ≥ t_k} ⊆ {μ*(t_k) = μ_end}, so
/// P(hat t_C ≥ t) ≤ C(t), the commitment fraction.
public struct TrajectoryCollapse: Sendable {
    public var score: EmpiricalScore
    /// T (default `SDESettings.defaultHorizon`), t_min, steps, grid and scheme of the backward SDE.
    public var settings: SDESettings
    public var threads: Int

    public init(score: EmpiricalScore, settings: SDESettings, threads: Int = Parallel.defaultThreads) {
        self.score = score
        self.settings = settings
        self.threads = threads
    }

    /// The same with the settings spelled out (defaults from `SDESettings`).
    public init(score: EmpiricalScore, horizon: Double = SDESettings.defaultHorizon, tMin: Double = SDESettings.defaultTMin,
                steps: Int = SDESettings.defaultSteps, scheme: SDEScheme = SDESettings.defaultScheme,
                threads: Int = Parallel.defaultThreads) {
        self.init(score: score, settings: SDESettings(horizon: horizon, tMin: tMin, steps: steps, scheme: scheme), threads: threads)
    }

    /// hat t_C of one recorded path (Docs/Theory.md §3.4 M2): see the type's documentation.
    public static func collapseTime(path: [Int], end: Int, times: [Double]) -> Double {
        collapseTime(holds: path.map { $0 == end }, times: times)
    }

    /// The same for any per-level condition (Docs/Theory.md §3.4 M2): with
    /// k* = min{k : holds[j] for all j ≥ k}, t_{k*} (the first grid time if it always holds), and 0
    /// if it fails at the last level. Per-pixel source and Y2_i > ½ maps use it (Docs/LocalScores.md §7).
    public static func collapseTime(holds: [Bool], times: [Double]) -> Double {
        precondition(holds.count == times.count && !holds.isEmpty)
        guard holds[holds.count - 1] else { return 0 }
        var k = holds.count - 1
        while k > 0 && holds[k - 1] { k -= 1 }
        return times[k]
    }

    /// Runs `trajectories` backward trajectories (stream i of `seed`, domain `.trajectory`) from N(0, I) at T.
    public func run(trajectories: Int, seed: UInt64, histogramBins: Int = 12,
                    progress: ProgressReporter? = nil) throws -> TrajectoryCollapseResult {
        guard trajectories >= 2 else { throw ModelError("need at least 2 trajectories, got \(trajectories)", parameter: "trajectories") }
        let grid = try settings.timeGrid()
        let tMin = settings.tMin
        let r = try BackwardSDE(model: score, scheme: settings.scheme, finalStep: .posteriorDraw, threads: threads)
            .run(grid: grid, start: .prior(count: trajectories), seed: seed, recording: .argmax, progress: progress)
        let times = grid.times
        let ends = r.finalComponents
        let hat = (0..<trajectories).map { Self.collapseTime(path: r.argmaxPath[$0], end: ends[$0], times: times) }
        let commitment = times.indices.map { k in
            MeanEstimate.proportion(successes: (0..<trajectories).filter { r.argmaxPath[$0][k] == ends[$0] }.count,
                                    trials: trajectories)
        }
        let survival = times.map { t in Double(hat.filter { $0 >= t }.count) / Double(trajectories) }
        let sorted = hat.sorted()
        let median = trajectories % 2 == 1 ? sorted[trajectories / 2] : 0.5 * (sorted[trajectories / 2 - 1] + sorted[trajectories / 2])
        let top = max(sorted.last ?? 1, tMin) * (1 + 1e-9)
        // Endpoint memorisation: x(t_min) in the VE variable y = x e^{t_min}, the Tweedie mean, the draw.
        var y = r.lastStates
        let scale = exp(tMin)
        for j in y.storage.indices { y.storage[j] *= scale }
        let ws = score.makeWorkspace(capacity: trajectories)
        try score.evaluate(r.lastStates, rows: trajectories, t: tMin, workspace: ws, outputs: .mean)
        let means = Matrix(rows: trajectories, columns: score.dimension, storage: Array(ws.mean.storage[0..<(trajectories * score.dimension)]))
        let memo = [
            MemorizationFraction.measure(y, points: score.points, label: "x(t_min)", seed: seed),
            MemorizationFraction.measure(means, points: score.points, label: "posterior mean", seed: seed),
            MemorizationFraction.measure(r.samples, points: score.points, label: "posterior draw", seed: seed),
        ]
        return TrajectoryCollapseResult(times: times, collapseTimes: hat, mean: MeanEstimate(hat), median: median,
                                        histogram: Histogram(hat, bins: histogramBins, lower: 0, upper: top),
                                        commitment: commitment, survival: survival, memorization: memo)
    }
}
