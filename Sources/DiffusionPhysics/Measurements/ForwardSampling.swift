import Foundation
import GSLKit

/// Which points are noised forward (Docs/Theory.md §3.3–3.4).
public enum ForwardOrigins: Sendable {
    /// The planted ensemble: x = a_μ0 e^{−t} + √Δ_t ξ with μ0 uniform over the training set —
    /// exactly a sample of P_t^e, the law the backward dynamics visits.
    case planted
    /// The non-planted ensemble: fresh points (rows) not in the training set, e.g. new draws of
    /// the population or a test split; x = b e^{−t} + √Δ_t ξ.
    case fresh(Matrix<Double>, labels: [Int]?)
}

/// Forward-sampling estimates at one time t, each with its standard error (Docs/Theory.md §2.2, §3.3–3.4).
public struct ForwardEstimate: Sendable, Codable, Equatable {
    public var t: Double
    public var samples: Int
    /// E[Y2], Y2 = Σ_μ w_μ².  Planted: = E[w_origin] = φ_C(t) exactly.
    public var y2: MeanEstimate
    /// E[w_μ0] (planted only).
    public var wOrigin: MeanEstimate?
    /// P(argmax_μ w_μ = μ0) (planted only): the forward commitment fraction.
    public var argmaxIsOrigin: MeanEstimate?
    /// f^e(t) = −(1/d) E[ln w_μ0] (planted only; Docs/Theory.md §3.3, the low-variance estimator).
    public var excessEntropy: MeanEstimate?
    /// E[max_μ w_μ].
    public var maxWeight: MeanEstimate
    /// Rao–Blackwellised speciation φ(t) = E[Σ_c p_c²] (labelled data only).
    public var classAgreement: MeanEstimate?
    /// E[p_{c0}(x, t)]: the probability that the posterior keeps the origin's class — the
    /// U-turn estimator of φ (labelled data only; equal to classAgreement by Nishimori).
    public var originClassProbability: MeanEstimate?
}

/// Per-sample forward-sampling values at one time t, in sample order (Docs/Theory.md §3.3–3.4).
public struct ForwardSampleValues: Sendable {
    public var t: Double
    /// Data dimension d (for f^e = −(1/d) ln w_origin).
    public var dimension: Int
    public var y2: [Double]
    public var maxWeight: [Double]
    /// Planted only: w_μ0, ln w_μ0 and 1{argmax = μ0}.
    public var wOrigin: [Double]?
    public var logWOrigin: [Double]?
    public var argmaxIsOrigin: [Double]?
    /// Labelled data only: Σ_c p_c² and p_{c0}.
    public var classAgreement: [Double]?
    public var originClassProbability: [Double]?

    /// Means with standard errors.
    public var estimate: ForwardEstimate {
        ForwardEstimate(t: t, samples: y2.count, y2: MeanEstimate(y2), wOrigin: wOrigin.map { MeanEstimate($0) },
                        argmaxIsOrigin: argmaxIsOrigin.map { MeanEstimate($0) },
                        excessEntropy: logWOrigin.map { l in MeanEstimate(l.map { -$0 / Double(dimension) }) },
                        maxWeight: MeanEstimate(maxWeight), classAgreement: classAgreement.map { MeanEstimate($0) },
                        originClassProbability: originClassProbability.map { MeanEstimate($0) })
    }
}

/// Forward-sampling measurements with the exact empirical score: the `ForwardEnsemble` of the
/// diffusion model with planted or fresh origins (Docs/Theory.md §3.3–3.4).
///
/// Sample i uses stream `RandomStream(seed:stream: i, domain: .forward)` for its origin μ0 and
/// noise ξ, the same at every time of the grid: common random numbers, so a curve over t is
/// smooth and differences between times are sharper, while each point keeps its own correct SE
/// (errors of different times are correlated).
public struct ForwardSampling: Sendable {
    public let score: EmpiricalScore
    public var threads: Int
    public var chunkSize: Int
    /// Share the products across times (default); false runs the full engine at every time.
    public var commonNoise: Bool

    public init(score: EmpiricalScore, threads: Int = Parallel.defaultThreads, chunkSize: Int = Parallel.defaultChunkSize,
                commonNoise: Bool = true) {
        self.score = score
        self.threads = threads
        self.chunkSize = chunkSize
        self.commonNoise = commonNoise
    }

    /// The ensemble behind these estimates.
    public func ensemble(origins: ForwardOrigins) throws -> ForwardEnsemble {
        let draws: OriginDraws
        switch origins {
        case .planted: draws = .planted(score.posterior)
        case .fresh(let m, let labels): draws = try .fresh(m, labels: labels, of: score.posterior)
        }
        return try ForwardEnsemble(model: .diffusion(score), origins: draws, statistics: .all, commonNoise: commonNoise,
                                   threads: threads, chunkSize: chunkSize)
    }

    /// Estimates at each time in `times` from `samples` forward samples of `origins`.
    public func estimate(times: [Double], samples: Int, origins: ForwardOrigins = .planted, seed: UInt64,
                         progress: ProgressReporter? = nil) throws -> [ForwardEstimate] {
        try sampleValues(times: times, samples: samples, origins: origins, seed: seed, progress: progress).map(\.estimate)
    }

    /// The per-sample values behind `estimate`, one entry per time: for estimators that need more
    /// than means (bootstrap intervals, paired differences).
    public func sampleValues(times: [Double], samples: Int, origins: ForwardOrigins = .planted, seed: UInt64,
                             progress: ProgressReporter? = nil) throws -> [ForwardSampleValues] {
        // Progress counts times (the callers' unit); every time costs the same, advanced per chunk of samples.
        let stage = progress?.stage(units: samples, cost: Double(times.count))
        return try ensemble(origins: origins).sampleValues(levels: times, samples: samples, seed: seed, progress: stage)
    }
}
