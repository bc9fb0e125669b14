import Foundation
import GSLKit

/// The exact one-dimensional reduction of the backward SDE of the symmetric two-class mixture
/// P₀ = ½N(+m, σ²I) + ½N(−m, σ²I) (Docs/Theory.md §2.4), at any d and σ.
///
/// With M = m̂·x the projection on the mean direction, the backward SDE dx = [x + 2F(x, t)] dτ + √2 dW
/// (τ the reversed clock) closes on M:
///
///     dM = b(M, t) dτ + √2 dW,   b(M, t) = M − 2M/Γ_t + 2|m| (e^{−t}/Γ_t) tanh(|m| M e^{−t}/Γ_t),
///
/// Γ_t = Δ_t + σ² e^{−2t}; the other d − 1 directions decouple and never affect the class.
/// The class posterior given M at t is p₊(M, t) = ½[1 + tanh(|m| M e^{−t}/Γ_t)], and the noised
/// law of M is exactly ½N(+|m|e^{−t}, Γ_t) + ½N(−|m|e^{−t}, Γ_t), so trajectories start from P_T
/// itself (no horizon bias).
public struct TwoClassReducedSDE: Sendable {
    /// |m| = m̃ √d.
    public let meanNorm: Double
    /// σ of each class.
    public let sigma: Double

    public init(meanNorm: Double, sigma: Double) throws {
        guard meanNorm.isFinite, meanNorm >= 0, sigma.isFinite, sigma >= 0 else {
            throw ModelError("the two-class reduction needs finite |m| ≥ 0 and σ ≥ 0")
        }
        self.meanNorm = meanNorm
        self.sigma = sigma
    }

    /// The reduction of a symmetric, isotropic two-class `law` (means ±m, one variance).
    public init(_ law: GaussianMixtureModel) throws {
        guard law.k == 2, law.variances[0] == law.variances[1], abs(law.weights[0] - 0.5) < 1e-12 else {
            throw ModelError("the exact 1-D reduction needs a symmetric two-class mixture with equal variances")
        }
        let plus = law.means.row(0), minus = law.means.row(1)
        guard zip(plus, minus).allSatisfy({ abs($0 + $1) <= 1e-12 * max(1, abs($0)) }) else {
            throw ModelError("the exact 1-D reduction needs means +m and −m")
        }
        try self.init(meanNorm: plus.reduce(0) { $0 + $1 * $1 }.squareRoot(), sigma: law.variances[0].squareRoot())
    }

    /// Γ_t = Δ_t + σ² e^{−2t}.
    @inlinable public func gamma(_ t: Double) -> Double { ForwardProcess.delta(t) + sigma * sigma * exp(-2 * t) }

    /// The drift b(M, t) of the reversed-clock SDE.
    @inlinable public func drift(_ M: Double, t: Double) -> Double {
        let g = gamma(t), a = meanNorm * exp(-t) / g
        return M - 2 * M / g + 2 * a * Foundation.tanh(a * M)
    }

    /// p₊(M, t): the posterior probability of the + class.
    @inlinable public func plusProbability(_ M: Double, t: Double) -> Double {
        0.5 * (1 + Foundation.tanh(meanNorm * exp(-t) / gamma(t) * M))
    }

    /// A draw of M from the noised law P_t (class ± with probability ½, then Gaussian).
    public func sample(t: Double, rng: RandomStream) -> Double {
        let sign: Double = rng.uniform() < 0.5 ? 1 : -1
        return sign * meanNorm * exp(-t) + gamma(t).squareRoot() * rng.gaussian()
    }

    /// Advances M from forward time `from` down to `to` < `from` by Euler–Maruyama in the reversed
    /// clock, with uniform substeps no longer than `maxStep`.
    public func advance(_ M: inout Double, from: Double, to: Double, maxStep: Double, rng: RandomStream) {
        let span = from - to
        guard span > 0 else { return }
        let k = max(1, Int((span / maxStep).rounded(.up)))
        let h = span / Double(k), noise = (2 * h).squareRoot()
        var t = from
        for _ in 0..<k {
            M += drift(M, t: t) * h + noise * rng.gaussian()
            t -= h
        }
    }
}

/// One φ(t) of the exact 1-D reduction, with its discretisation error when the step-halving check ran.
public struct ReducedPhiEstimate: Sendable, Equatable {
    public var t: Double
    /// φ(t) with its SE: on the halved grid when `systematic` is set, else on the grid as given.
    public var phi: MeanEstimate
    /// The same on the grid as given (step h), when the check ran.
    public var coarse: MeanEstimate?
    /// |φ_h − φ_{h/2}| on common random numbers: the discretisation error of φ_{h/2} for an O(h)
    /// weak error (Docs/Engine.md "Time grids"); nil without the check.
    public var systematic: Double?
    /// φ_{h/2} − φ_h as a paired mean over items (common random numbers) with its SE, when the check ran.
    public var difference: MeanEstimate?
}

/// The Euler–Maruyama path of the reduced SDE on a fixed grid (Docs/Engine.md "Time grids"), with
/// the drift coefficients precomputed once per node, the optional step-halving twin, and the
/// stopping rule of the Rao–Blackwellised endpoint.
///
/// Step k (t_k → t_{k+1}, h = t_k − t_{k+1}): M += [λ_k M + 2a_k tanh(a_k M)] h + √(2h) z, with
/// λ = 1 − 2/Γ_t, a = |m|e^{−t}/Γ_t at t_k. The twin run (`checkSteps`) takes two steps of h/2 with
/// the Gaussians z₁, z₂ and the coarse run one step with (z₁ + z₂)/√2: the same Brownian path.
///
/// Stopping: p₊(M, t) is a bounded martingale of the exact backward dynamics, so by optional
/// stopping a trajectory may end as soon as |a M| ≥ `stopThreshold` (default 4: p₊ within 3.4·10⁻⁴ of
/// 0 or 1): the value p₊ there has the expectation of p₊ at t_end (up to the O(h) error of the scheme).
/// A smaller threshold stops earlier (cheaper, smaller variance: Rao–Blackwellisation) without bias.
struct ReducedPath: Sendable {
    let times: [Double]
    let h: [Double], lambda0: [Double], a0: [Double], lambdaMid: [Double], aMid: [Double]
    /// √h and √(2h) per step.
    let rootH: [Double], rootTwoH: [Double]
    /// a at each node (for p₊ and the stopping rule).
    let aNode: [Double]
    let checkSteps: Bool
    let stopThreshold: Double
    static let defaultStopThreshold = 4.0

    init(sde: TwoClassReducedSDE, grid: TimeGrid, checkSteps: Bool, stopThreshold: Double = defaultStopThreshold) {
        self.stopThreshold = stopThreshold
        times = grid.times
        let K = times.count - 1
        func coefficients(_ t: Double) -> (Double, Double) {
            let g = sde.gamma(t)
            return (1 - 2 / g, sde.meanNorm * exp(-t) / g)
        }
        var h = [Double](repeating: 0, count: K), l0 = h, a0 = h, lm = h, am = h
        for k in 0..<K {
            h[k] = times[k] - times[k + 1]
            (l0[k], a0[k]) = coefficients(times[k])
            (lm[k], am[k]) = coefficients(0.5 * (times[k] + times[k + 1]))
        }
        (self.h, lambda0, self.a0, lambdaMid, aMid) = (h, l0, a0, lm, am)
        rootH = h.map { $0.squareRoot() }
        rootTwoH = h.map { (2 * $0).squareRoot() }
        aNode = times.map { coefficients($0).1 }
        self.checkSteps = checkSteps
    }

    /// A coarse state and its halved-step twin (equal when the check is off).
    struct State {
        var coarse: Double
        var fine: Double
        /// p₊ frozen at the stopping time (nil while running).
        var coarseP: Double? = nil
        var fineP: Double? = nil
        init(_ M: Double) { (coarse, fine) = (M, M) }
    }

    func plus(_ M: Double, node k: Int) -> Double { 0.5 * (1 + Foundation.tanh(aNode[k] * M)) }

    /// tanh(x) = sign(x)(1 − e^{−2|x|})/(1 + e^{−2|x|}) (absolute error ≲ 2·10⁻¹⁶, one exp), ±1 for |x| ≥ 20.
    @inline(__always) static func tanh(_ x: Double) -> Double {
        let ax = abs(x)
        if ax >= 20 { return x > 0 ? 1 : -1 }
        let e = Foundation.exp(-2 * ax), r = (1 - e) / (1 + e)
        return x < 0 ? -r : r
    }

    /// Advances from node `from` to node `to`; with `stopping`, each run freezes its p₊ once |a M| ≥ 12.
    func advance(_ s: inout State, from: Int, to: Int, stopping: Bool, rng: RandomStream) {
        guard to > from else { return }
        if stopping {
            if s.coarseP == nil, abs(aNode[from] * s.coarse) >= stopThreshold { s.coarseP = plus(s.coarse, node: from) }
            if checkSteps, s.fineP == nil, abs(aNode[from] * s.fine) >= stopThreshold { s.fineP = plus(s.fine, node: from) }
        }
        for k in from..<to {
            let hk = h[k]
            if checkSteps {
                if stopping, s.coarseP != nil, s.fineP != nil { return }
                let z1 = rng.gaussian(), z2 = rng.gaussian(), root = rootH[k]
                if s.coarseP == nil {
                    let M = s.coarse, a = a0[k]
                    s.coarse = M + (lambda0[k] * M + 2 * a * Self.tanh(a * M)) * hk + root * (z1 + z2)
                    if stopping, abs(aNode[k + 1] * s.coarse) >= stopThreshold { s.coarseP = plus(s.coarse, node: k + 1) }
                }
                if s.fineP == nil {
                    let half = 0.5 * hk
                    var M = s.fine, a = a0[k]
                    M += (lambda0[k] * M + 2 * a * Self.tanh(a * M)) * half + root * z1
                    a = aMid[k]
                    M += (lambdaMid[k] * M + 2 * a * Self.tanh(a * M)) * half + root * z2
                    s.fine = M
                    if stopping, abs(aNode[k + 1] * M) >= stopThreshold { s.fineP = plus(M, node: k + 1) }
                }
            } else {
                if stopping, s.coarseP != nil { return }
                let M = s.coarse, a = a0[k]
                s.coarse = M + (lambda0[k] * M + 2 * a * Self.tanh(a * M)) * hk + rootTwoH[k] * rng.gaussian()
                if stopping, abs(aNode[k + 1] * s.coarse) >= stopThreshold { s.coarseP = plus(s.coarse, node: k + 1) }
            }
        }
        if !checkSteps { s.fine = s.coarse }
    }

    /// p₊ at the end of a run that went to node `node` (frozen at its stopping time if it stopped).
    func endProbabilities(_ s: State, node: Int) -> (coarse: Double, fine: Double) {
        let c = s.coarseP ?? plus(s.coarse, node: node)
        return (c, checkSteps ? (s.fineP ?? plus(s.fine, node: node)) : c)
    }

    /// Node index of each of `times` (which must be nodes).
    func nodes(_ ts: [Double]) -> [Int] {
        ts.map { t in times.firstIndex(of: t)! }
    }

    /// Estimates per time from per-item rows of (coarse, fine) values.
    static func estimates(times: [Double], rows: [[(Double, Double)]], checkSteps: Bool) -> [ReducedPhiEstimate] {
        times.enumerated().map { k, t in
            let coarse = MeanEstimate(rows.map { $0[k].0 })
            guard checkSteps else { return ReducedPhiEstimate(t: t, phi: coarse, coarse: nil, systematic: nil, difference: nil) }
            let fine = MeanEstimate(rows.map { $0[k].1 })
            return ReducedPhiEstimate(t: t, phi: fine, coarse: coarse, systematic: abs(fine.mean - coarse.mean),
                                      difference: MeanEstimate(rows.map { $0[k].1 - $0[k].0 }))
        }.sorted { $0.t < $1.t }
    }

    /// The path of one reduced experiment: `times` deduplicated and sorted descending (each strictly
    /// inside `grid`), inserted into the grid, with their node indices.
    static func prepare(sde: TwoClassReducedSDE, grid: TimeGrid, times: [Double], checkSteps: Bool, stopThreshold: Double,
                        what: String) throws -> (path: ReducedPath, times: [Double], nodes: [Int]) {
        let sorted = Array(Set(times)).sorted(by: >)
        guard let first = sorted.first, let last = sorted.last, first < grid.start, last > grid.end else {
            throw ModelError("\(what) must lie strictly between t_end = \(grid.end) and T = \(grid.start)", parameter: "times")
        }
        guard stopThreshold > 0 else { throw ModelError("the stopping threshold must be > 0") }
        let path = ReducedPath(sde: sde, grid: try grid.inserting(sorted), checkSteps: checkSteps, stopThreshold: stopThreshold)
        return (path, sorted, path.nodes(sorted))
    }

    /// Runs `item` for items 0..<count in parallel chunks (each item's (coarse, fine) values per time)
    /// and reduces the rows to estimates.
    func estimate(times: [Double], count: Int, threads: Int,
                  item: @escaping (Int) throws -> [(Double, Double)]) throws -> [ReducedPhiEstimate] {
        let chunks = try Parallel.mapChunks(count: count, chunkSize: 256, threads: threads, makeWorkspace: { () }) { _, range in
            try range.map(item)
        }
        return ReducedPath.estimates(times: times, rows: chunks.flatMap { $0 }, checkSteps: checkSteps)
    }
}

/// The cloning experiment on the exact 1-D reduction of the two-class mixture (Docs/Theory.md
/// §2.2 cloning protocol, §2.4 reduction): one trunk per pair, started from the exact law P_t of M at
/// the highest branch time (what an exact trunk from T would reach), down through the branch times; at each branch time two clones continue towards t_end with independent noise, and
/// the pair scores P(same class | M_a, M_b) = p₊(M_a)p₊(M_b) + p₋(M_a)p₋(M_b) — the conditional
/// expectation of the brute-force indicator (p₊ is a martingale of the exact backward dynamics), taken
/// at t_end or at the clone's stopping time |a M| ≥ 4 (`ReducedPath`). Unbiased up to the time step;
/// a smaller variance than the 0/1 outcome. Cost O(pairs · steps), independent of d.
///
/// Grid: `grid` (T → t_end) with the branch times inserted; `checkSteps` runs the halved grid on the
/// same Brownian path beside it (Docs/Engine.md "Time grids").
/// Streams (`StreamPlan`): pair i draws its start, trunk and clones in order from item i of `.cloneTrunk`.
public struct ReducedCloningExperiment: Sendable {
    public var sde: TwoClassReducedSDE
    /// The grid from T down to t_end.
    public var grid: TimeGrid
    public var checkSteps: Bool
    public var threads: Int
    /// Stopping rule |a M| ≥ threshold of the Rao–Blackwellised endpoint (`ReducedPath`; default 4).
    public var stopThreshold = 4.0

    public init(sde: TwoClassReducedSDE, grid: TimeGrid, checkSteps: Bool = false, threads: Int = Parallel.defaultThreads) {
        (self.sde, self.grid, self.checkSteps, self.threads) = (sde, grid, checkSteps, threads)
    }

    /// On the hybrid grid T → t_end with largest step `maxStep` (`TimeGrid.hybrid(maxStep:)`).
    public init(sde: TwoClassReducedSDE, horizon: Double = SDESettings.defaultHorizon, endTime: Double = SDESettings.defaultTMin,
                maxStep: Double = 2e-3, checkSteps: Bool = false, threads: Int = Parallel.defaultThreads) throws {
        guard maxStep > 0, maxStep.isFinite else { throw ModelError("the step must be finite and > 0", parameter: "steps") }
        guard endTime > 0, horizon > endTime, horizon.isFinite else {
            throw ModelError("need T > t_min > 0, got T = \(horizon), t_min = \(endTime)", parameter: "T")
        }
        self.init(sde: sde, grid: try TimeGrid.hybrid(from: horizon, to: endTime, maxStep: maxStep), checkSteps: checkSteps, threads: threads)
    }

    /// φ(t) with its SE (and discretisation error with `checkSteps`) at every branch time (strictly inside the grid).
    public func run(branchTimes: [Double], pairs: Int, seed: UInt64) throws -> [ReducedPhiEstimate] {
        guard pairs >= 2 else { throw ModelError("need at least two clone pairs", parameter: "pairs") }
        let (path, times, nodes) = try ReducedPath.prepare(sde: sde, grid: grid, times: branchTimes, checkSteps: checkSteps,
                                                           stopThreshold: stopThreshold, what: "branch times")
        let first = times[0], end = path.times.count - 1, sde = self.sde
        return try path.estimate(times: times, count: pairs, threads: threads) { i in
            let rng = try StreamPlan.stream(.cloneTrunk, UInt64(i), seed: seed)
            // The exact dynamics' law at the highest branch time is P_t itself: the trunk starts there.
            var trunk = ReducedPath.State(sde.sample(t: first, rng: rng))
            var at = nodes[0]
            return nodes.map { node in
                path.advance(&trunk, from: at, to: node, stopping: false, rng: rng)
                at = node
                var a = ReducedPath.State(trunk.coarse), b = a
                a.fine = trunk.fine
                b.fine = trunk.fine
                path.advance(&a, from: node, to: end, stopping: true, rng: rng)
                path.advance(&b, from: node, to: end, stopping: true, rng: rng)
                let pa = path.endProbabilities(a, node: end), pb = path.endProbabilities(b, node: end)
                return (pa.coarse * pb.coarse + (1 - pa.coarse) * (1 - pb.coarse),
                        pa.fine * pb.fine + (1 - pa.fine) * (1 - pb.fine))
            }
        }
    }
}

/// The U-turn experiment on the exact 1-D reduction (Docs/Theory.md §2.2 (iii), §2.4): an origin
/// a ~ N(c₀m, σ²I) noised to t projects to M_t = (c₀|m| + σg)e^{−t} + √Δ_t ξ (g, ξ standard normal,
/// common to all t as in `UTurnExperiment`); run back towards t_end and score p_{c₀} at t_end or at the
/// stopping time (`ReducedPath`): E[p_{c₀}] = φ(t). Streams: sample i draws c₀, g, ξ and then its
/// backward runs (times descending) in order from item i of `.uTurnOrigin`.
public struct ReducedUTurnExperiment: Sendable {
    public var sde: TwoClassReducedSDE
    public var grid: TimeGrid
    public var checkSteps: Bool
    public var threads: Int
    /// Stopping rule |a M| ≥ threshold of the Rao–Blackwellised endpoint (`ReducedPath`; default 4).
    public var stopThreshold = 4.0

    public init(sde: TwoClassReducedSDE, grid: TimeGrid, checkSteps: Bool = false, threads: Int = Parallel.defaultThreads) {
        (self.sde, self.grid, self.checkSteps, self.threads) = (sde, grid, checkSteps, threads)
    }

    public func run(times: [Double], samples: Int, seed: UInt64) throws -> [ReducedPhiEstimate] {
        guard samples >= 2 else { throw ModelError("need at least two U-turn samples", parameter: "pairs") }
        let (path, sorted, nodes) = try ReducedPath.prepare(sde: sde, grid: grid, times: times, checkSteps: checkSteps,
                                                            stopThreshold: stopThreshold, what: "U-turn times")
        let end = path.times.count - 1, sde = self.sde
        return try path.estimate(times: sorted, count: samples, threads: threads) { i in
            let rng = try StreamPlan.stream(.uTurnOrigin, UInt64(i), seed: seed)
            let c0: Double = rng.uniform() < 0.5 ? 1 : -1
            let g = rng.gaussian(), xi = rng.gaussian()
            return zip(sorted, nodes).map { t, node in
                var s = ReducedPath.State((c0 * sde.meanNorm + sde.sigma * g) * exp(-t) + ForwardProcess.delta(t).squareRoot() * xi)
                path.advance(&s, from: node, to: end, stopping: true, rng: rng)
                let p = path.endProbabilities(s, node: end)
                return c0 > 0 ? (p.coarse, p.fine) : (1 - p.coarse, 1 - p.fine)
            }
        }
    }
}
