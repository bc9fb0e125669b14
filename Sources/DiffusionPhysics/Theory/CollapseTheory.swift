import Foundation
import GSLKit

/// Collapse (memorisation) time t_C from the entropy criterion f(t_C) = 0 (Docs/Theory.md §3.1–3.2).
///
/// f(t) = s_sep(t) − s(t) with s_sep = α + ½ + ½ ln(2πΔ_t) and α = ln n / d. Regime III
/// (collapse onto the training points) is t < t_C.
public enum CollapseTheory {
    /// α = ln(n)/d (Docs/Theory.md §0).
    public static func alpha(n: Double, d: Double) -> Double { log(n) / d }

    /// Paper eq. 10: t_C = ½ ln(1 + σ²/(n^{2/d} − 1)) = ½ log1p(σ²/expm1(2 ln n / d))
    /// (Docs/Theory.md §3.2; n = 2e4, d = 256, σ² = 1 → 1.298790).
    public static func tCGaussian(n: Double, d: Double, sigma2: Double = 1) -> Double {
        tCGaussian(alpha: alpha(n: n, d: d), sigma2: sigma2)
    }

    /// Eq. 10 in terms of α: t_C = ½ log1p(σ²/expm1(2α)) (Docs/Theory.md §3.2; σ² = 1, α = 0.1 → 0.853886).
    public static func tCGaussian(alpha: Double, sigma2: Double = 1) -> Double {
        0.5 * log1p(sigma2 / expm1(2 * alpha))
    }

    /// Asymptotic excess entropy density f(t) = α + ½ ln(Δ_t/(Δ_t + σ² e^{−2t}))
    /// = α − ½ log1p(σ²/expm1(2t)) (Docs/Theory.md §3.2). f(0⁺) = −∞, f(∞) = α.
    public static func excessEntropy(t: Double, alpha: Double, sigma2: Double = 1) -> Double {
        alpha - 0.5 * log1p(sigma2 / expm1(2 * t))
    }

    /// max(0, f(t))/α for n points in dimension d — the clipped asymptotic curve of Fig. 3
    /// (Docs/Theory.md §3.2 f/α table, §3.3).
    public static func clippedExcessEntropyRatio(t: Double, n: Double, d: Double, sigma2: Double = 1) -> Double {
        let a = alpha(n: n, d: d)
        return max(0, excessEntropy(t: t, alpha: a, sigma2: sigma2)) / a
    }

    /// t_C as the Brent root of `excessEntropy` in t — an independent check of eq. 10 (Docs/Theory.md
    /// §3.2: agreement to 1e-9). Requires α > 0; returns 0 when σ² ≤ 0 (f ≡ α > 0, no collapse).
    public static func tCFromRoot(alpha: Double, sigma2: Double = 1) throws -> Double {
        guard alpha > 0 else { throw GSL.failure("tCFromRoot", "α must be positive, got \(alpha)") }
        guard sigma2 > 0 else { return 0 }
        let f: (Double) -> Double = { excessEntropy(t: $0, alpha: alpha, sigma2: sigma2) }
        let (lo, hi) = try bracketIncreasing(f, start: 1, name: "tCFromRoot")
        return try RootFinding.brent(in: lo...hi, f)
    }

    /// Gaussian-spectrum collapse time: the t solving Σ_i ln(1 + λ_i e^{−2t}/Δ_t) = 2 ln n
    /// (Docs/Theory.md §3.2, "linear manifold / general Gaussian spectrum"; an upper bound on the
    /// entropy-criterion t_C of real data with covariance eigenvalues λ_i).
    ///
    /// Eigenvalues λ_i ≤ 0 are ignored. If none is positive the entropy deficit vanishes, f ≡ α > 0
    /// and the function returns 0 (no collapse at any t > 0). Throws for n ≤ 1 (α ≤ 0: collapsed at
    /// every t). Solved by Brent in u = ln(e^{2t} − 1), where e^{−2t}/Δ_t = e^{−u}.
    public static func tCSpectrum(eigenvalues: [Double], n: Double) throws -> Double {
        guard n > 1 else { throw GSL.failure("tCSpectrum", "need n > 1 training points, got \(n)") }
        let lambdas = eigenvalues.filter { $0 > 0 }
        guard let top = lambdas.max() else { return 0 }
        let target = 2 * log(n)
        let g: (Double) -> Double = { u in
            let x = exp(-u)
            return lambdas.reduce(0.0) { $0 + log1p($1 * x) } - target
        }
        // Σ log1p(λ e^{−u}) ≤ Σλ e^{−u} ⇒ g < 0 at uHi; log1p(λmax e^{−u}) > 2 ln n ⇒ g > 0 at uLo.
        let uHi = log(lambdas.reduce(0, +) / target) + 1
        let uLo = log(top) - logExpm1(target) - 1
        let u = try RootFinding.brent(in: uLo...uHi, g)
        return 0.5 * logOnePlusExp(u)
    }

    /// Mixing entropy J(h) = H1 − ½ ln(2πeΓ) ∈ [0, ln 2] of ½N(c,Γ) + ½N(−c,Γ), h = c²/Γ:
    /// J = h − E|X| + ln 2 − E log1p(e^{−2|X|}), X ~ N(h, h) (derived from H1 of Docs/Theory.md §3.2 via
    /// ln cosh x = |x| − ln 2 + log1p(e^{−2|x|})); h − E|X| in closed form with erfc, the last term by
    /// adaptive quadrature in z (X = h + √h z) with break points at the kink z = −√h and at 0.
    public static func mixingEntropy(h: Double) throws -> Double {
        precondition(h >= 0, "h must be non-negative")
        if h == 0 { return 0 }
        let r = h.squareRoot()
        let meanGap = h * erfc((h / 2).squareRoot()) - (2 * h / Double.pi).squareRoot() * exp(-h / 2)
        let integrand: (Double) -> Double = { z in
            let x = abs(h + r * z)
            return exp(-0.5 * z * z) * log1p(exp(-2 * x)) / (2 * Double.pi).squareRoot()
        }
        // Pieces with every feature at an end point: the kink z = −√h and the Gaussian peak z = 0.
        let edge = 40.0
        let points = Set([-edge, max(-edge, min(edge, -r)), 0, edge]).sorted()
        var tail = 0.0
        for i in 0..<(points.count - 1) {
            tail += try Quadrature.qags(integrand, from: points[i], to: points[i + 1],
                                        absoluteTolerance: 1e-15, relativeTolerance: 1e-11)
        }
        return min(log(2.0), max(0, meanGap + log(2.0) - tail))
    }

    /// Exact population entropy per variable of the GMM ½N(±m, σ²I), |m|² = d m̃² (Docs/Theory.md §3.2):
    /// s(t) = ((d−1)/(2d)) ln(2πeΓ_t) + H1(t)/d = ½ ln(2πeΓ_t) + J(h)/d, h = d m̃² e^{−2t}/Γ_t.
    public static func gmmEntropy(t: Double, d: Double, mTilde: Double = 1, sigma2: Double = 1) throws -> Double {
        let gamma = ForwardProcess.gamma(t: t, sigma2: sigma2)
        let h = SpeciationTheory.h(t: t, d: d, mTilde: mTilde, sigma: sigma2.squareRoot())
        return 0.5 * log(2 * Double.pi * M_E * gamma) + (try mixingEntropy(h: h)) / d
    }

    /// Finite-d excess entropy of the GMM: f = s_sep − s = α − ½ log1p(σ²/expm1(2t)) − J(h)/d
    /// (Docs/Theory.md §3.2; the −J/d ≈ −ln2/d term is the n → n/2 shift of well-separated clusters).
    public static func gmmExcessEntropy(t: Double, n: Double, d: Double, mTilde: Double = 1, sigma2: Double = 1) throws -> Double {
        let h = SpeciationTheory.h(t: t, d: d, mTilde: mTilde, sigma: sigma2.squareRoot())
        return excessEntropy(t: t, alpha: alpha(n: n, d: d), sigma2: sigma2) - (try mixingEntropy(h: h)) / d
    }

    /// Largest root of `gmmExcessEntropy` (f is increasing in t, so the root is unique). It lies in
    /// [t_C(n), t_C(n/2)] of eq. 10 (Docs/Theory.md §3.2: d = 256, n = 2e4 → close to t_C(n/2) = 1.333733).
    /// Requires n > 1, σ² > 0.
    public static func tCGMMFiniteD(n: Double, d: Double, mTilde: Double = 1, sigma2: Double = 1) throws -> Double {
        guard n > 1, sigma2 > 0 else { throw GSL.failure("tCGMMFiniteD", "need n > 1 and σ² > 0") }
        var thrown: (any Error)?
        let f: (Double) -> Double = { t in
            do { return try gmmExcessEntropy(t: t, n: n, d: d, mTilde: mTilde, sigma2: sigma2) } catch {
                thrown = error; return .nan
            }
        }
        let start = tCGaussian(n: max(n / 2, 1.5), d: d, sigma2: sigma2)
        let (lo, hi) = try bracketIncreasing(f, start: start, name: "tCGMMFiniteD")
        if let thrown { throw thrown }
        return try RootFinding.brent(in: lo...hi) { t in
            let v = f(t)
            if let thrown { throw thrown }
            return v
        }
    }

    // MARK: helpers

    /// A bracket [lo, hi] with f(lo) ≤ 0 < f(hi) for an increasing f on t > 0, grown from `start`.
    static func bracketIncreasing(_ f: (Double) -> Double, start: Double, name: String) throws -> (Double, Double) {
        var lo = start, hi = start
        var steps = 0
        while !(f(lo) <= 0) {
            lo /= 2; steps += 1
            if steps > 1100 || lo == 0 { throw GSL.failure(name, "no t > 0 with f(t) ≤ 0") }
        }
        steps = 0
        while !(f(hi) > 0) {
            hi = hi * 2 + 0.1; steps += 1
            if steps > 60 { throw GSL.failure(name, "no t with f(t) > 0 up to \(hi)") }
        }
        return (lo, hi)
    }

    /// ln(e^x − 1) for x > 0 without overflow.
    static func logExpm1(_ x: Double) -> Double { x > 30 ? x + log1p(-exp(-x)) : log(expm1(x)) }

    /// ln(1 + e^u) without overflow.
    static func logOnePlusExp(_ u: Double) -> Double { u > 0 ? u + log1p(exp(-u)) : log1p(exp(u)) }
}
