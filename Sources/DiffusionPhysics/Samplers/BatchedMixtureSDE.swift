import Foundation
import GSLKit

/// The d-dimensional backward SDE of the symmetric two-class mixture P₀ = ½N(+m, σ²I) + ½N(−m, σ²I),
/// batched: a chunk of trajectories is one B × d matrix and every step is one fused pass over it
/// (Docs/Theory.md §1.4 for the steps, §2.2 for the population score, §2.4 for the projection).
///
/// With M = û·x (û = m/|m|), Γ_t = Δ_t + σ²e^{−2t} and s_t = σ²e^{−t}/Γ_t, the posterior mean of
/// the population score is m̂(x, t) = s_t x + (Δ_t/Γ_t) tanh(κ_t M) m, κ_t = |m| e^{−t}/Γ_t, so both
/// schemes of `SDEScheme` take the form
///
///     x_s = a x_t + b tanh(κ_t M) m + c ξ,   ξ ~ N(0, I_d):
///
///     exact OU:  a = (Δ_s e^{−(t−s)} + Δ_{t−s} e^{−s} s_t)/Δ_t,  b = Δ_{t−s} e^{−s}/Γ_t,  c = √(Δ_sΔ_{t−s}/Δ_t);
///     Euler:     a = 1 + h − 2h(1 − e^{−t}s_t)/Δ_t,  b = 2h e^{−t}/Γ_t,  c = √(2h),  h = t − s.
///
/// A step is one kernel call per chunk (`LaneGaussianStreams.affineStep`): the tanh per row, then
/// x ← a x + b_r m + c ξ with the noise drawn in the same pass and the new projections M = û·x
/// accumulated on the way. Row r draws only from its own lane stream (seeded from the trajectory's
/// `StreamPlan` stream), so results do not depend on chunking or threads.
public struct BatchedMixtureSDE: Sendable {
    /// |m| and σ (the same law's exact 1-D reduction).
    public let reduction: TwoClassReducedSDE
    /// The mean m of the + class.
    public let mean: [Double]
    /// û = m/|m|.
    public let direction: [Double]
    public let scheme: SDEScheme

    public var dimension: Int { mean.count }

    /// The batched SDE of a symmetric, isotropic two-class `law` (means ±m with |m| > 0, one variance).
    public init(_ law: GaussianMixtureModel, scheme: SDEScheme = SDESettings.defaultScheme) throws {
        let reduction = try TwoClassReducedSDE(law)
        guard reduction.meanNorm > 0 else { throw ModelError("the batched two-class SDE needs |m| > 0") }
        let mean = law.means.row(0), norm = reduction.meanNorm
        self.reduction = reduction
        self.mean = mean
        direction = mean.map { $0 / norm }
        self.scheme = scheme
    }

    /// One step t → s < t: x_s = a x_t + b tanh(κ M) m + c ξ with M = û·x_t (see the type's formula).
    public struct Step: Sendable, Equatable {
        public var a: Double
        public var b: Double
        public var kappa: Double
        public var c: Double
    }

    /// The coefficients of the step t → s under `scheme`.
    public func step(from t: Double, to s: Double) -> Step {
        let sigma2 = reduction.sigma * reduction.sigma
        let deltaT = ForwardProcess.delta(t), decay = exp(-t)
        let gammaT = deltaT + sigma2 * decay * decay
        let shrink = sigma2 * decay / gammaT
        let kappa = reduction.meanNorm * decay / gammaT
        switch scheme {
        case .exactOU:
            let deltaS = ForwardProcess.delta(s), deltaTS = ForwardProcess.delta(t - s)
            let cx = deltaS * exp(-(t - s)) / deltaT, cm = deltaTS * exp(-s) / deltaT
            // cm·(1 − shrink·e^{−t}) = cm Δ_t/Γ_t = Δ_{t−s} e^{−s}/Γ_t.
            return Step(a: cx + cm * shrink, b: deltaTS * exp(-s) / gammaT, kappa: kappa,
                        c: (deltaS * deltaTS / deltaT).squareRoot())
        case .eulerMaruyama:
            let h = t - s
            return Step(a: 1 + h - 2 * h * (1 - decay * shrink) / deltaT, b: 2 * h * decay / gammaT, kappa: kappa,
                        c: (2 * h).squareRoot())
        }
    }

    /// Draws the first `count` rows of `x` from the noised law P_t exactly: x = ±m e^{−t} + √Γ_t ξ with
    /// the class sign of row r in `signs[r]` (±1), and sets `projections[r]` = û·x_r.
    public func sampleNoised(_ x: inout Matrix<Double>, count: Int, t: Double, signs: [Double],
                             streams: inout LaneGaussianStreams, projections: inout [Double]) {
        precondition(signs.count >= count, "BatchedMixtureSDE.sampleNoised: \(signs.count) signs for \(count) rows")
        let decay = exp(-t)
        streams.affineStep(&x, count: count, a: 0, direction: mean, shifts: signs.map { $0 * decay },
                           noise: reduction.gamma(t).squareRoot(), projectionOn: direction, projections: &projections)
    }

    /// Advances the first `count` rows of `x` along the strictly decreasing forward times `times`
    /// (from times[0] to the last), keeping `projections` = û·x up to date.
    public func advance(_ x: inout Matrix<Double>, count: Int, projections: inout [Double], along times: [Double],
                        streams: inout LaneGaussianStreams) throws {
        guard times.count >= 2 else { return }
        var shifts = [Double](repeating: 0, count: count)
        for k in 0..<(times.count - 1) {
            let st = step(from: times[k], to: times[k + 1])
            for r in 0..<count { shifts[r] = st.b * Foundation.tanh(st.kappa * projections[r]) }
            streams.affineStep(&x, count: count, a: st.a, direction: mean, shifts: shifts, noise: st.c,
                               projectionOn: direction, projections: &projections)
        }
        for r in 0..<count where !projections[r].isFinite {
            throw ModelError("backward SDE diverged at t = \(times[times.count - 1]) (try the exact-OU scheme or a finer grid)",
                             parameter: "scheme")
        }
    }
}

/// How a clone's class is read at t_end.
public enum CloneClassRule: String, Sendable, CaseIterable, Codable {
    /// The 0/1 outcome: class = sign(û·x) at t_end (binomial SE).
    case sign
    /// Rao–Blackwellised: P(same class | x_a, x_b) = p₊(M_a)p₊(M_b) + p₋(M_a)p₋(M_b) at t_end, with
    /// p₊(M) = ½[1 + tanh(κ M)] the exact class posterior (Docs/Theory.md §2.4) — the conditional
    /// expectation of the indicator, so unbiased with a smaller variance.
    case posterior
}

/// The cloning experiment of [BBdBM] on the full d-dimensional population SDE of the symmetric
/// two-class mixture, batched (`BatchedMixtureSDE`; Docs/Theory.md §2.2 "Cloning protocol").
///
/// One trunk per pair starts from the exact noised law P_T (no horizon bias) and follows the
/// time grid of `settings` down through the branch times (descending). At each branch time t its
/// state is copied into two clones that continue to t_end = t_min with independent noise; the pair
/// scores by `rule`. φ(t) = sameClass = sameComponent (a component is a class here).
///
/// Streams (`StreamPlan`, as `ReducedCloningExperiment`): pair i's start sign and trunk segment k
/// use item iK + k of `.cloneTrunk`, its clones item iK + k of `.cloneA` and `.cloneB`; each lane
/// stream is keyed by that stream's first 64 bits. Results do not depend on threads or chunk size.
public struct BatchedMixtureClones: Sendable {
    public var sde: BatchedMixtureSDE
    /// T (`settings.resolvedHorizon()`), t_min, steps, grid and scheme.
    public var settings: SDESettings
    public var rule: CloneClassRule
    public var threads: Int
    /// Pairs per chunk; nil: about 2¹⁶ matrix entries per chunk (4 to 256 rows).
    public var chunkSize: Int?

    public init(law: GaussianMixtureModel, settings: SDESettings = SDESettings(), rule: CloneClassRule = .posterior,
                threads: Int = Parallel.defaultThreads, chunkSize: Int? = nil) throws {
        try settings.validate()
        sde = try BatchedMixtureSDE(law, scheme: settings.scheme)
        (self.settings, self.rule, self.threads, self.chunkSize) = (settings, rule, threads, chunkSize)
    }

    /// The chunk size used: `chunkSize`, else min(256, max(4, 2¹⁶/d)).
    public var resolvedChunkSize: Int { chunkSize ?? min(256, max(4, (1 << 16) / max(1, sde.dimension))) }

    /// φ(t) with its SE at every branch time (strictly between t_min and T), ascending in t.
    /// `progress` advances by a chunk's pairs at each branch time (total: pairs × branch times).
    public func run(branchTimes: [Double], pairs: Int, seed: UInt64, progress: ProgressReporter? = nil) throws -> [CloneEstimate] {
        guard pairs >= 2 else { throw ModelError("need at least two clone pairs", parameter: "pairs") }
        let horizon = settings.resolvedHorizon(), tMin = settings.tMin
        let times = Array(Set(branchTimes)).sorted(by: >)
        guard let first = times.first, let last = times.last, first < horizon, last > tMin else {
            throw ModelError("branch times must lie strictly between t_min = \(tMin) and T = \(horizon)", parameter: "times")
        }
        let chunk = resolvedChunkSize
        guard chunk >= 1 else { throw ModelError("the chunk size must be ≥ 1", parameter: "chunk") }
        let grid = try settings.timeGrid(horizon: horizon)
        let K = times.count, d = sde.dimension, sde = self.sde, rule = self.rule
        let (streamCount, overflow) = pairs.multipliedReportingOverflow(by: K)
        guard !overflow, UInt64(streamCount) <= StreamPlan.capacity else {
            throw ModelError("\(pairs) pairs × \(K) branch times exceed the stream range", parameter: "pairs")
        }
        // Per segment: the trunk's grid from the previous branch time (or T) down to t, and the clones' grid.
        var trunkGrids: [[Double]] = [], cloneGrids: [[Double]] = []
        var segmentStart = horizon
        for t in times {
            trunkGrids.append([segmentStart] + grid.times.filter { $0 < segmentStart && $0 > t } + [t])
            cloneGrids.append(try grid.continuing(from: t).times)
            segmentStart = t
        }
        struct Workspace {
            var trunk, clone: Matrix<Double>
            var trunkM, cloneM: [Double]
            var streams: LaneGaussianStreams
        }
        let chunks = try Parallel.mapChunks(count: pairs, chunkSize: chunk, threads: threads, makeWorkspace: {
            Workspace(trunk: Matrix(rows: chunk, columns: d), clone: Matrix(rows: chunk, columns: d),
                      trunkM: Array(repeating: 0, count: chunk), cloneM: Array(repeating: 0, count: chunk),
                      streams: LaneGaussianStreams(rows: chunk))
        }) { ws, range -> [[Double]] in
            let b = range.count
            var scores = [[Double]](repeating: [Double](repeating: 0, count: K), count: b)
            var endM = [[Double]](repeating: [], count: 2)
            for k in 0..<K {
                var signs = [Double](repeating: 1, count: b)
                for (r, i) in range.enumerated() {
                    let rng = try StreamPlan.stream(.cloneTrunk, UInt64(i * K + k), seed: seed)
                    if k == 0 { signs[r] = rng.uniform() < 0.5 ? 1 : -1 }
                    ws.streams.seed(row: r, key: rng.bits64())
                }
                if k == 0 {
                    for j in 0..<(b * d) { ws.trunk.storage[j] = 0 }
                    sde.sampleNoised(&ws.trunk, count: b, t: horizon, signs: signs, streams: &ws.streams, projections: &ws.trunkM)
                }
                try sde.advance(&ws.trunk, count: b, projections: &ws.trunkM, along: trunkGrids[k], streams: &ws.streams)
                for (c, purpose) in [StreamPurpose.cloneA, .cloneB].enumerated() {
                    for (r, i) in range.enumerated() {
                        ws.streams.seed(row: r, key: try StreamPlan.stream(purpose, UInt64(i * K + k), seed: seed).bits64())
                    }
                    for j in 0..<(b * d) { ws.clone.storage[j] = ws.trunk.storage[j] }
                    for r in 0..<b { ws.cloneM[r] = ws.trunkM[r] }
                    try sde.advance(&ws.clone, count: b, projections: &ws.cloneM, along: cloneGrids[k], streams: &ws.streams)
                    endM[c] = Array(ws.cloneM[0..<b])
                }
                for r in 0..<b {
                    let ma = endM[0][r], mb = endM[1][r]
                    switch rule {
                    case .sign:
                        scores[r][k] = (ma > 0) == (mb > 0) ? 1 : 0
                    case .posterior:
                        let pa = sde.reduction.plusProbability(ma, t: tMin), pb = sde.reduction.plusProbability(mb, t: tMin)
                        scores[r][k] = pa * pb + (1 - pa) * (1 - pb)
                    }
                }
                progress?.advance(b)
            }
            return scores
        }
        let rows = chunks.flatMap { $0 }
        return times.enumerated().map { k, t in
            let values = rows.map { $0[k] }
            let e: MeanEstimate
            switch rule {
            case .sign: e = .proportion(successes: values.reduce(0) { $0 + Int($1) }, trials: pairs)
            case .posterior: e = MeanEstimate(values)
            }
            return CloneEstimate(t: t, pairs: pairs, sameClass: e, sameComponent: e)
        }.sorted { $0.t < $1.t }
    }
}
