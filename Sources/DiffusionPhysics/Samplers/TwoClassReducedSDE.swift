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

/// The cloning experiment on the exact 1-D reduction of the two-class mixture (Docs/Theory.md
/// §2.2 cloning protocol, §2.4 reduction): one trunk per pair from P_T down through the branch
/// times; at each branch time two clones continue to t_end with independent noise, and the pair
/// scores P(same class | M_a, M_b) = p₊(M_a)p₊(M_b) + p₋(M_a)p₋(M_b) at t_end — the conditional
/// expectation of the brute-force indicator (the posterior class is a martingale of the exact
/// backward dynamics), so the estimate of φ(t) is unbiased up to the time step, with a smaller
/// variance than the 0/1 outcome. Cost O(pairs · steps), independent of d.
///
/// Streams (`StreamPlan`): pair i's start and trunk segment k from item iK + k of `.cloneTrunk`,
/// its clones from items iK + k of `.cloneA` and `.cloneB`.
public struct ReducedCloningExperiment: Sendable {
    public var sde: TwoClassReducedSDE
    /// Largest Euler–Maruyama substep in t.
    public var maxStep: Double
    /// Where the clones stop (default: t_min of the SDE settings).
    public var endTime: Double
    public var horizon: Double
    public var threads: Int

    public init(sde: TwoClassReducedSDE, horizon: Double = SDESettings.defaultHorizon, endTime: Double = SDESettings.defaultTMin,
                maxStep: Double = 2e-3, threads: Int = Parallel.defaultThreads) throws {
        guard maxStep > 0, maxStep.isFinite else { throw ModelError("the step must be finite and > 0", parameter: "steps") }
        guard endTime > 0, horizon > endTime, horizon.isFinite else {
            throw ModelError("need T > t_min > 0, got T = \(horizon), t_min = \(endTime)", parameter: "T")
        }
        (self.sde, self.maxStep, self.endTime, self.horizon, self.threads) = (sde, maxStep, endTime, horizon, threads)
    }

    /// φ(t) with its SE at every branch time (strictly between t_end and T).
    public func run(branchTimes: [Double], pairs: Int, seed: UInt64) throws -> [CloneEstimate] {
        guard pairs >= 2 else { throw ModelError("need at least two clone pairs", parameter: "pairs") }
        let times = Array(Set(branchTimes)).sorted(by: >)
        guard let first = times.first, let last = times.last, first < horizon, last > endTime else {
            throw ModelError("branch times must lie strictly between t_end = \(endTime) and T = \(horizon)", parameter: "times")
        }
        let K = times.count, sde = self.sde, maxStep = self.maxStep, endTime = self.endTime, horizon = self.horizon
        // chunks[c][r][k]: agreement of pair r of chunk c at branch time k.
        let chunks = try Parallel.mapChunks(count: pairs, chunkSize: 256, threads: threads, makeWorkspace: { () }) { _, range in
            try range.map { i -> [Double] in
                var M = 0.0, segmentStart = horizon
                var out = [Double](repeating: 0, count: K)
                for (k, t) in times.enumerated() {
                    let item = UInt64(i * K + k)
                    let trunk = try StreamPlan.stream(.cloneTrunk, item, seed: seed)
                    if k == 0 { M = sde.sample(t: horizon, rng: trunk) }
                    sde.advance(&M, from: segmentStart, to: t, maxStep: maxStep, rng: trunk)
                    var a = M, b = M
                    sde.advance(&a, from: t, to: endTime, maxStep: maxStep, rng: try StreamPlan.stream(.cloneA, item, seed: seed))
                    sde.advance(&b, from: t, to: endTime, maxStep: maxStep, rng: try StreamPlan.stream(.cloneB, item, seed: seed))
                    let pa = sde.plusProbability(a, t: endTime), pb = sde.plusProbability(b, t: endTime)
                    out[k] = pa * pb + (1 - pa) * (1 - pb)
                    segmentStart = t
                }
                return out
            }
        }
        let rows = chunks.flatMap { $0 }
        return times.enumerated().map { k, t in
            let e = MeanEstimate(rows.map { $0[k] })
            return CloneEstimate(t: t, pairs: pairs, sameClass: e, sameComponent: e)
        }.sorted { $0.t < $1.t }
    }
}
