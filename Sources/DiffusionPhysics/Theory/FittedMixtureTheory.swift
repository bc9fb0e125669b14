import Foundation
import GSLKit

/// Speciation and collapse predictions of a Gaussian mixture fitted to labelled data
/// (Docs/Theory.md §2.5). Exact for data whose classes are Gaussian with the fitted parameters;
/// on real data the gap to the measurement measures how non-Gaussian the class structure is.
public enum FittedMixtureTheory {
    /// LDA signal-to-noise h(t) = e^{−2t} mᵀ C_t⁻¹ m, m = (μ₁ − μ₂)/2, C_t = Σ_w e^{−2t} + Δ_t I, in the
    /// eigenbasis of Σ_w: h = Σ_j (v_j·m)² / (λ_j + e^{2t} − 1) (Docs/Theory.md §2.5; two classes).
    public static func ldaH(_ mixture: FittedGaussianMixture, t: Double) throws -> Double {
        let q = try ldaProjections(mixture)
        return ldaH(q, eigenvalues: mixture.pooledCovariance.eigenvalues, t: t)
    }

    static func ldaProjections(_ mixture: FittedGaussianMixture) throws -> [Double] {
        guard mixture.k == 2 else { throw ModelError("the closed-form LDA φ needs exactly two classes (got \(mixture.k))") }
        let m = (0..<mixture.d).map { 0.5 * (mixture.means[0, $0] - mixture.means[1, $0]) }
        return mixture.pooledCovariance.project(m).map { $0 * $0 }
    }

    static func ldaH(_ q: [Double], eigenvalues: [Double], t: Double) -> Double {
        let s = expm1(2 * t)
        var h = 0.0
        for j in q.indices where q[j] > 0 { h += q[j] / (eigenvalues[j] + s) }
        return h
    }

    /// φ for two Gaussian classes sharing one covariance, with weights π₁, π₂ and b = ln(π₁/π₂):
    /// φ = ½ + ½[π₁ E tanh²(b/2 + h + √h z) + π₂ E tanh²(b/2 − h + √h z)] — the log-likelihood ratio is
    /// Gaussian (Docs/Theory.md §2.5). Equal weights: exactly `SpeciationTheory.phi(h:)` (§2.2).
    public static func phiTwoClass(h: Double, weights: [Double]) -> Double {
        precondition(weights.count == 2)
        if weights[0] == weights[1] { return SpeciationTheory.phi(h: h) }
        if h == 0 { return weights[0] * weights[0] + weights[1] * weights[1] }
        let b = log(weights[0] / weights[1]), r = h.squareRoot()
        let plus = SpeciationTheory.gaussianExpectation(kink: -(h + b / 2) / r) { z in let y = tanh(b / 2 + h + r * z); return y * y }
        let minus = SpeciationTheory.gaussianExpectation(kink: (h - b / 2) / r) { z in let y = tanh(b / 2 - h + r * z); return y * y }
        return 0.5 + 0.5 * (weights[0] * plus + weights[1] * minus)
    }

    /// φ_LDA(t) in closed form (two classes; Docs/Theory.md §2.5).
    public static func phiLDA(_ mixture: FittedGaussianMixture) throws -> @Sendable (Double) -> Double {
        let q = try ldaProjections(mixture), lambdas = mixture.pooledCovariance.eigenvalues, w = mixture.weights
        return { t in phiTwoClass(h: ldaH(q, eigenvalues: lambdas, t: t), weights: w) }
    }

    /// The t where φ_LDA(t) = `threshold` (Brent; φ_LDA decreases in t), or nil if φ_LDA(0⁺) is below it.
    public static func ldaCrossing(_ mixture: FittedGaussianMixture, threshold: Double) throws -> Double? {
        let phi = try phiLDA(mixture)
        let g: (Double) -> Double = { phi($0) - threshold }
        let lo = 1e-8
        guard g(lo) > 0 else { return nil }
        var hi = 1.0
        while g(hi) > 0 { hi *= 2; if hi > 1e3 { return nil } }
        return try RootFinding.brent(in: lo...hi, absoluteTolerance: 1e-10, relativeTolerance: 0, g)
    }

    /// The per-dimension entropy deficit of the noised classes against n separated balls,
    /// (1/2d) Σ_c π_c Σ_j ln(1 + λ_cj e^{−2t}/Δ_t) (Docs/Theory.md §2.5; §3.2's spectrum sum per class).
    public static func componentDeficit(_ mixture: FittedGaussianMixture, fit: CovarianceFit, t: Double) -> Double {
        let x = 1 / expm1(2 * t)
        var total = 0.0
        for c in 0..<mixture.k {
            let s = mixture.covariance(c, fit).eigenvalues.reduce(0.0) { $0 + log1p($1 * x) }
            total += mixture.weights[c] * s
        }
        return total / (2 * Double(mixture.d))
    }

    /// H(π) = −Σ_c π_c ln π_c.
    public static func classEntropy(_ mixture: FittedGaussianMixture) -> Double {
        -mixture.weights.reduce(0) { $0 + $1 * log($1) }
    }

    /// Entropy per variable of the noised fitted mixture from one sample set (Docs/Theory.md §2.5):
    /// s(t) = (1/d)[Σ_c π_c H(N(0, C_c(t))) + H(π) + E ln p_{c0}(x_t)], H(N(0, C)) = ½ ln det(2πe C).
    public static func entropy(_ mixture: FittedGaussianMixture, fit: CovarianceFit, values: FittedMixtureValues) -> MeanEstimate {
        let d = Double(mixture.d), t = values.t
        var gaussian = 0.0
        for c in 0..<mixture.k {
            let logDet = mixture.covariance(c, fit).noisedEigenvalues(t: t).reduce(0) { $0 + log($1) }
            gaussian += mixture.weights[c] * 0.5 * (d * log(2 * Double.pi * M_E) + logDet)
        }
        let h = classEntropy(mixture)
        return MeanEstimate(values.logOriginPosterior.map { (gaussian + h + $0) / d })
    }

    /// Per-sample excess entropy f(t) = α + ½ + ½ ln(2πΔ_t) − s(t)
    /// = α − componentDeficit − (H(π) + ln p_{c0})/d (Docs/Theory.md §3.1, §2.5).
    static func excessValues(_ mixture: FittedGaussianMixture, fit: CovarianceFit, alpha: Double, values: FittedMixtureValues) -> [Double] {
        let base = alpha - componentDeficit(mixture, fit: fit, t: values.t), h = classEntropy(mixture), d = Double(mixture.d)
        return values.logOriginPosterior.map { base - (h + $0) / d }
    }
}

/// One point of a fitted prediction curve.
public struct FittedCurvePoint: Sendable, Codable, Equatable {
    public var t: Double
    public var value: Double
    /// Monte-Carlo SE (0 for a closed form).
    public var stderr: Double
}

/// Speciation predictions of the fitted mixture (Docs/Theory.md §2.5).
public struct FittedSpeciationPrediction: Sendable, Codable {
    /// Class labels, names, fractions and Ledoit–Wolf intensities of the fit (QDA per class, then LDA pooled).
    public var classes: [Int]
    public var classNames: [String]
    public var weights: [Double]
    public var shrinkagePolicy: String
    public var shrinkageQDA: [Double]
    public var shrinkageLDA: Double
    public var threshold: Double
    /// φ_LDA(t), closed form (two classes only).
    public var lda: [FittedCurvePoint]?
    /// t where φ_LDA = threshold.
    public var tSLDA: Double?
    /// φ_QDA(t) by Monte Carlo (common random numbers) at the same times.
    public var qda: [FittedCurvePoint]
    /// t where φ_QDA = threshold, solved by Brent on the fixed sample set.
    public var tSQDA: SolvedCrossing?
    public var samples: Int
    public var seed: UInt64

    /// Fits `data` and evaluates both predictions at `times`, the QDA crossing bracketed by `times`
    /// (extended towards small and large t so a crossing outside the measured window is still found).
    public init(data: Dataset, times: [Double], threshold: Double, samples: Int, seed: UInt64,
                shrinkage: ShrinkagePolicy = .automatic, threads: Int = Parallel.defaultThreads) throws {
        let mixture = try FittedGaussianMixture(fitting: data, shrinkage: shrinkage)
        try self.init(mixture: mixture, times: times, threshold: threshold, samples: samples, seed: seed, threads: threads)
    }

    public init(mixture: FittedGaussianMixture, times: [Double], threshold: Double, samples: Int, seed: UInt64,
                threads: Int = Parallel.defaultThreads) throws {
        let sorted = Array(Set(times)).sorted()
        guard !sorted.isEmpty else { throw ModelError("no times for the fitted prediction") }
        classes = mixture.labels
        classNames = mixture.classNames
        weights = mixture.weights
        shrinkagePolicy = mixture.shrinkagePolicy?.rawValue ?? "exact parameters"
        shrinkageQDA = mixture.classCovariances.map(\.shrinkage)
        shrinkageLDA = mixture.pooledCovariance.shrinkage
        self.threshold = threshold
        if mixture.k == 2 {
            let phi = try FittedMixtureTheory.phiLDA(mixture)
            lda = sorted.map { FittedCurvePoint(t: $0, value: phi($0), stderr: 0) }
            tSLDA = try FittedMixtureTheory.ldaCrossing(mixture, threshold: threshold)
        }
        let ensemble = try FittedMixtureEnsemble(mixture: mixture, fit: .perClass, samples: samples, seed: seed, threads: threads)
        qda = try ensemble.phi(at: sorted).map { FittedCurvePoint(t: $0.t, value: $0.phi.mean, stderr: $0.phi.standardError) }
        let lo = sorted.first!, hi = sorted.last!
        let bracket = Array(Set([lo / 8, lo / 3] + sorted + [hi * 1.5, hi * 2.5])).sorted()
        tSQDA = try ensemble.phiCrossing(level: threshold, bracket: bracket)
        self.samples = samples
        self.seed = seed
    }
}

/// Collapse predictions of the fitted class mixture from the entropy criterion (Docs/Theory.md §3.1, §2.5).
public struct FittedCollapsePrediction: Sendable, Codable {
    public var alpha: Double
    /// Largest zero of f_fit(t) = α + ½ + ½ ln(2πΔ_t) − s_fit(t) for the QDA fit (Monte Carlo, Brent, delta-method SE).
    public var tC: SolvedCrossing?
    /// The same for the pooled (LDA) fit.
    public var tCLDA: SolvedCrossing?
    /// Deterministic bracket of the QDA root from 0 ≤ I(C; X_t) ≤ H(π): [root of f without mixing, root with I = H(π)].
    public var tCLower: Double?
    public var tCUpper: Double?
    /// f_fit(t)/α (QDA) with SE at the requested times.
    public var curve: [FittedCurvePoint]
    public var samples: Int

    /// JSON keys (Docs/Schema.md): `tC` is reserved for the shared collapse-time object, so the QDA
    /// root is `tCQDA` (a crossing `{value, stderr, …}`).
    enum CodingKeys: String, CodingKey { case alpha, tC = "tCQDA", tCLDA, tCLower, tCUpper, curve, samples }

    /// `n` training points (α = ln n/d); `times` bracket the root (a geometric grid is added).
    public init(mixture: FittedGaussianMixture, n: Int, times: [Double], samples: Int, seed: UInt64,
                threads: Int = Parallel.defaultThreads) throws {
        let d = Double(mixture.d)
        let alpha = CollapseTheory.alpha(n: Double(n), d: d)
        self.alpha = alpha
        self.samples = samples
        let sorted = Array(Set(times.filter { $0 > 0 })).sorted()
        let grid = Array(Set(sorted + (0..<16).map { 1e-3 * pow(4.0 / 1e-3, Double($0) / 15) })).sorted()
        func solve(_ fit: CovarianceFit) throws -> (SolvedCrossing?, FittedMixtureEnsemble) {
            let e = try FittedMixtureEnsemble(mixture: mixture, fit: fit, samples: samples, seed: seed, threads: threads)
            let root = try MonteCarloCrossing.solve(level: 0, bracket: grid, tolerance: 1e-7, last: true) { ts in
                try e.values(at: ts).map { FittedMixtureTheory.excessValues(mixture, fit: fit, alpha: alpha, values: $0) }
            }
            return (root, e)
        }
        let (qda, ensemble) = try solve(.perClass)
        tC = qda
        tCLDA = try solve(.pooled).0
        let h = FittedMixtureTheory.classEntropy(mixture)
        func root(_ shift: Double) -> Double? {
            let f: (Double) -> Double = { alpha - FittedMixtureTheory.componentDeficit(mixture, fit: .perClass, t: $0) - shift / d }
            guard f(1e-6) < 0 else { return nil }
            var hi = 1.0
            while f(hi) <= 0 { hi *= 2; if hi > 1e3 { return nil } }
            return try? RootFinding.brent(in: 1e-6...hi, f)
        }
        tCLower = root(0)
        tCUpper = root(h)
        curve = sorted.isEmpty ? [] : try ensemble.values(at: sorted).map { v in
            let e = MeanEstimate(FittedMixtureTheory.excessValues(mixture, fit: .perClass, alpha: alpha, values: v))
            return FittedCurvePoint(t: v.t, value: e.mean / alpha, stderr: e.standardError / alpha)
        }
    }
}
