import Foundation
import GSLKit

/// Per-sample values of the planted forward-sampling estimators at one time t (Docs/Theory.md §3.3–3.4,
/// M3 and M5): sample i is x_i = a_μ0 e^{−t} + √Δ_t ξ_i with μ0 uniform.
///
/// Sample i draws μ0 and ξ from `RandomStream(seed:stream: i, domain: .forward)` exactly as
/// `ForwardSampling` does, so the means equal `ForwardSampling.estimate`'s at the same seed and
/// the values at different t share their random numbers (common random numbers). The per-sample
/// arrays are what paired differences and bootstrap intervals need.
public struct PlantedForwardSamples: Sendable {
    public var t: Double
    /// Y2 = Σ_μ w_μ².
    public var y2: [Double]
    /// w_μ0, the posterior weight of the origin.
    public var wOrigin: [Double]
    /// ln w_μ0, exact from the squared distance (finite where w_μ0 underflows).
    public var logWOrigin: [Double]
    /// 1 if argmax_μ w_μ = μ0, else 0.
    public var argmaxIsOrigin: [Double]
    /// max_μ w_μ.
    public var maxWeight: [Double]

}

extension PlantedForwardSamples {
    /// The planted columns of a forward ensemble's values (which must have been planted).
    public init(_ v: ForwardSampleValues) throws {
        guard let w = v.wOrigin, let lnW = v.logWOrigin, let isMax = v.argmaxIsOrigin else {
            throw ModelError("planted values need planted origins")
        }
        self.init(t: v.t, y2: v.y2, wOrigin: w, logWOrigin: lnW, argmaxIsOrigin: isMax, maxWeight: v.maxWeight)
    }
}

/// Measured collapse order parameters at one time t (Docs/Theory.md §3.3–3.4), with standard errors.
public struct CollapseCurvePoint: Sendable, Codable, Equatable {
    public var t: Double
    public var samples: Int
    /// Planted E[Y2] (= φ_C(t) exactly).
    public var y2: MeanEstimate
    /// Planted E[w_μ0] (= E[Y2] exactly).
    public var wOrigin: MeanEstimate
    /// Paired E[Y2 − w_μ0] on the same samples; its mean is 0 exactly (Nishimori identity,
    /// Docs/Theory.md §3.3), its SE is the SE of the per-sample difference.
    public var y2MinusWOrigin: MeanEstimate
    /// P(argmax_μ w_μ = μ0): forward commitment fraction (= E[max w] exactly).
    public var argmaxIsOrigin: MeanEstimate
    /// E[max_μ w_μ].
    public var maxWeight: MeanEstimate
    /// f^e(t) = −(1/d) E[ln w_μ0] (Docs/Theory.md §3.3; ≥ 0, → α at large t), SE from the sample deviation.
    public var fe: MeanEstimate
    /// Percentile-bootstrap interval of f^e (−ln w is right-skewed near t_C, Docs/Theory.md §3.4 M3).
    public var feInterval: BootstrapInterval
    /// f^e/α.
    public var feRatio: Double
    /// Clipped asymptotic f(t)/α = max(0, α + ½ ln(Δ_t/(Δ_t + σ²e^{−2t})))/α (gaussian/gmm2 data).
    public var feRatioTheory: Double?
    /// Non-planted E[Y2]: x = b e^{−t} + √Δ_t ξ with fresh population points b (when available).
    public var y2NonPlanted: MeanEstimate?
    /// REM prediction for the non-planted E[Y2]: 1 − λ_c(t) below t_C, 0 above (Docs/Theory.md §3.3;
    /// gaussian/gmm2 data; for gmm2 the competing levels are the n/2 same-cluster points).
    public var y2Rem: Double?
}

/// Analytic collapse predictions for a data set (Docs/Theory.md §3.2–3.3).
public struct CollapsePredictions: Sendable, Codable, Equatable {
    public var n: Int
    public var d: Int
    /// α = ln n / d.
    public var alpha: Double
    /// Per-direction variance σ² of the gaussian/gmm2 law (nil for real data).
    public var sigma2: Double?
    /// Eq. 10: t_C = ½ ln(1 + σ²/(n^{2/d} − 1)) (gaussian/gmm2 data).
    public var tCGaussian: Double?
    /// Finite-d two-class root of s_sep − s = 0 (gmm2 data; Docs/Theory.md §3.2).
    public var tCGMMFiniteD: Double?
    /// Gaussian-spectrum t_C: Σ_i ln(1 + λ_i e^{−2t}/Δ_t) = 2 ln n, λ_i the sample covariance
    /// eigenvalues (an upper bound for real data; Docs/Theory.md §3.2).
    public var tCSpectrum: Double
    /// Top covariance eigenvalue Λ and the primary t_S = ½ ln(1 + Λ) (Docs/Theory.md §2.1,
    /// Docs/Conventions.md "Which t_S to quote").
    public var lambda: Double
    public var tS: Double
    /// α used for the REM (same-cluster levels): ln n/d for gaussian, ln(n/2)/d for gmm2; nil for real data.
    public var remAlpha: Double?

    /// Predictions for `data` drawn from `spec` (the spec decides which closed forms apply).
    public init(spec: DatasetSpec, data: Dataset) throws {
        n = data.n
        d = data.d
        let nn = Double(n), dd = Double(d)
        alpha = CollapseTheory.alpha(n: nn, d: dd)
        let spectrum = try DataSpectrum(points: data.points)
        lambda = spectrum.lambda
        tS = spectrum.speciationTimes.curvature
        tCSpectrum = n > 1 ? try CollapseTheory.tCSpectrum(eigenvalues: spectrum.eigenvalues, n: nn) : 0
        switch spec {
        case .gaussian(_, _, let sigma):
            sigma2 = sigma * sigma
            tCGaussian = sigma > 0 && n > 1 ? CollapseTheory.tCGaussian(n: nn, d: dd, sigma2: sigma * sigma) : nil
            remAlpha = n > 1 ? alpha : nil
        case .gmm2(_, _, let mTilde, let sigma, _):
            sigma2 = sigma * sigma
            tCGaussian = sigma > 0 && n > 1 ? CollapseTheory.tCGaussian(n: nn, d: dd, sigma2: sigma * sigma) : nil
            tCGMMFiniteD = sigma > 0 && n > 2 ? try CollapseTheory.tCGMMFiniteD(n: nn, d: dd, mTilde: mTilde, sigma2: sigma * sigma) : nil
            remAlpha = n > 2 ? CollapseTheory.alpha(n: nn / 2, d: dd) : nil
        default:
            sigma2 = nil
            tCGaussian = nil
            remAlpha = nil
        }
    }

    /// REM non-planted E[Y2] = 1 − λ_c(t) (Docs/Theory.md §3.3), where the REM applies.
    public func y2Rem(t: Double) -> Double? {
        guard let sigma2, sigma2 > 0, let remAlpha, remAlpha > 0 else { return nil }
        return try? RandomEnergyModel.expectedY2NonPlanted(t: t, alpha: remAlpha, sigma2: sigma2)
    }

    /// Clipped asymptotic f(t)/α (Docs/Theory.md §3.2), where the Gaussian closed form applies.
    public func feRatioTheory(t: Double) -> Double? {
        guard let sigma2, tCGaussian != nil, alpha > 0 else { return nil }
        return max(0, CollapseTheory.excessEntropy(t: t, alpha: alpha, sigma2: sigma2)) / alpha
    }
}

/// Forward-sampling collapse measurements with the exact empirical posterior (Docs/Theory.md §3.3–3.4
/// M3, M5): planted E[Y2], E[w_μ0], P(argmax = μ0), f^e with a bootstrap interval, and the
/// non-planted E[Y2] on fresh points.
public struct CollapseMeasurement: Sendable {
    public let score: EmpiricalScore
    public var threads: Int
    public var chunkSize: Int
    /// Bootstrap resamples for the f^e interval.
    public var bootstrapResamples: Int

    public init(score: EmpiricalScore, threads: Int = Parallel.defaultThreads,
                chunkSize: Int = Parallel.defaultChunkSize, bootstrapResamples: Int = 1000) {
        self.score = score
        self.threads = threads
        self.chunkSize = chunkSize
        self.bootstrapResamples = bootstrapResamples
    }

    /// Per-sample planted values at time t from `samples` forward samples (the draws and fast
    /// path of `ForwardSampling`).
    public func plantedSamples(t: Double, samples: Int, seed: UInt64) throws -> PlantedForwardSamples {
        try plantedSamples(times: [t], samples: samples, seed: seed)[0]
    }

    /// Per-sample planted values at every time, with common random numbers across times.
    public func plantedSamples(times: [Double], samples: Int, seed: UInt64,
                               progress: ProgressReporter? = nil) throws -> [PlantedForwardSamples] {
        try ForwardSampling(score: score, threads: threads, chunkSize: chunkSize)
            .sampleValues(times: times, samples: samples, origins: .planted, seed: seed, progress: progress)
            .map { try PlantedForwardSamples($0) }
    }

    /// The collapse curve at each time: planted estimators from `samples` forward samples (seed
    /// `seed`), the non-planted E[Y2] from the rows of `fresh` (if given), and the REM /
    /// asymptotic predictions from `predictions` (if given).
    public func curve(times: [Double], samples: Int, seed: UInt64, fresh: Matrix<Double>? = nil,
                      predictions: CollapsePredictions? = nil, progress: ProgressReporter? = nil) throws -> [CollapseCurvePoint] {
        guard !times.isEmpty else { throw ModelError("need at least one time") }
        var nonPlanted: [Double: MeanEstimate] = [:]
        // Progress: `times.count` units in all; per time the fresh and the planted ensembles cost about
        // the same (CPU time measured on gmm2 d = 256, n = 2000), half each.
        let planted = fresh == nil ? 1.0 : 0.5
        if let fresh {
            let est = try ForwardSampling(score: score, threads: threads, chunkSize: chunkSize)
                .estimate(times: times, samples: samples, origins: .fresh(fresh, labels: nil), seed: seed,
                          progress: progress?.stage(units: times.count, cost: (1 - planted) * Double(times.count)))
            for e in est { nonPlanted[e.t] = e.y2 }
        }
        let d = Double(score.dimension)
        let alpha = CollapseTheory.alpha(n: Double(score.componentCount), d: d)
        let values = try plantedSamples(times: times, samples: samples, seed: seed,
                                        progress: progress?.stage(units: times.count, cost: planted * Double(times.count)))
        return values.enumerated().map { k, s in
            Self.summarise(s, dimension: score.dimension, alpha: alpha, resamples: bootstrapResamples,
                           seed: seed &+ UInt64(k), nonPlanted: nonPlanted[s.t], predictions: predictions)
        }
    }

    /// Means, paired difference and bootstrap interval of one time's planted samples.
    public static func summarise(_ s: PlantedForwardSamples, dimension: Int, alpha: Double, resamples: Int, seed: UInt64,
                                 nonPlanted: MeanEstimate? = nil, predictions: CollapsePredictions? = nil) -> CollapseCurvePoint {
        let d = Double(dimension)
        let feValues = s.logWOrigin.map { -$0 / d }
        let fe = MeanEstimate(feValues)
        return CollapseCurvePoint(
            t: s.t, samples: s.y2.count, y2: MeanEstimate(s.y2), wOrigin: MeanEstimate(s.wOrigin),
            y2MinusWOrigin: MeanEstimate(zip(s.y2, s.wOrigin).map { $0 - $1 }),
            argmaxIsOrigin: MeanEstimate(s.argmaxIsOrigin), maxWeight: MeanEstimate(s.maxWeight),
            fe: fe, feInterval: Bootstrap.meanInterval(feValues, resamples: max(100, resamples), seed: seed),
            feRatio: alpha > 0 ? fe.mean / alpha : .nan,
            feRatioTheory: predictions?.feRatioTheory(t: s.t),
            y2NonPlanted: nonPlanted, y2Rem: predictions?.y2Rem(t: s.t))
    }
}

/// Operational collapse times measured on a curve, side by side (Docs/Theory.md §3.4 "finite-d practice").
public struct MeasuredCollapseTimes: Sendable, Codable, Equatable {
    /// t where the planted E[Y2] = ½ (= φ_C = ½).
    public var y2: LevelCrossing?
    /// t where f^e/α = 0.1 and 0.05.
    public var entropy10: LevelCrossing?
    public var entropy05: LevelCrossing?
    /// t where the non-planted E[Y2] = ½ (if measured).
    public var y2NonPlanted: LevelCrossing?

    public init(curve: [CollapseCurvePoint], alpha: Double) {
        let ts = curve.map(\.t)
        y2 = LevelCrossing.find(times: ts, values: curve.map(\.y2.mean), errors: curve.map(\.y2.standardError), level: 0.5)
        if alpha > 0 {
            let r = curve.map { $0.fe.mean / alpha }, e = curve.map { $0.fe.standardError / alpha }
            entropy10 = LevelCrossing.find(times: ts, values: r, errors: e, level: 0.1)
            entropy05 = LevelCrossing.find(times: ts, values: r, errors: e, level: 0.05)
        }
        let np = curve.compactMap(\.y2NonPlanted)
        if np.count == curve.count {
            y2NonPlanted = LevelCrossing.find(times: ts, values: np.map(\.mean), errors: np.map(\.standardError), level: 0.5)
        }
    }
}
