import Foundation
import GSLKit

/// The three labelled conventions for the speciation time from the top covariance eigenvalue Λ
/// (Docs/Theory.md §2.1). They agree at large Λ and differ by O(1) when Λ is small.
public struct SpeciationTimes: Equatable, Sendable, Codable {
    /// t_S = ½ ln Λ (paper eq. 4: Λ e^{−2t} = 1).
    public let paper: Double
    /// t_S = ½ ln(1 + Λ) (Hessian of ln P_t at the mean vanishes: Λ e^{−2t} = Δ_t).
    public let curvature: Double
    /// t_S = ½ ln(2Λ) (instability of the backward-SDE drift; = t* of §2.4 for GMMs).
    public let drift: Double
}

/// Speciation (symmetry breaking) in the two-Gaussian mixture ½N(±m, σ²I), |m|² = d m̃²
/// (Docs/Theory.md §2.2, §2.4).
public enum SpeciationTheory {
    /// Shared Gauss–Hermite rule (160 nodes) for the Gaussian expectations of φ.
    static let gaussHermite: GaussHermite = {
        do { return try GaussHermite(nodes: 160) } catch { preconditionFailure("Gauss–Hermite rule: \(error)") }
    }()

    /// The three speciation-time conventions for top eigenvalue Λ > 0 (Docs/Theory.md §2.1).
    public static func tS(lambda: Double) -> SpeciationTimes {
        SpeciationTimes(paper: 0.5 * log(lambda), curvature: 0.5 * log1p(lambda), drift: 0.5 * log(2 * lambda))
    }

    /// Signal-to-noise parameter h(t) = |m|² e^{−2t}/Γ_t = d m̃² / (e^{2t} − 1 + σ²) (Docs/Theory.md §2.2).
    /// `sigma` is the cluster standard deviation.
    public static func h(t: Double, d: Double, mTilde: Double, sigma: Double) -> Double {
        d * mTilde * mTilde / (expm1(2 * t) + sigma * sigma)
    }

    /// Clone agreement probability φ = ½ + ½ E_z tanh²(h + √h z), z ~ N(0,1) (Docs/Theory.md §2.2, closed
    /// form). φ(0) = ½, φ(∞) = 1, φ(1) = 0.7752002453966635.
    ///
    /// Numerics: Gauss–Hermite (160 nodes, shared) for h ≤ 1.5, where it is accurate to < 1e−12.
    /// For larger h the integrand has a feature of width 1/√h at z = −√h that Gauss–Hermite
    /// under-resolves (measured error up to 1.7e−7 near h ≈ 10 with 160 nodes), so there the
    /// expectation is computed by adaptive quadrature with break points at −√h and 0
    /// (`gaussianExpectation`).
    public static func phi(h: Double) -> Double {
        precondition(h >= 0, "h must be non-negative, got \(h)")
        if h == .infinity { return 1 }
        if h == 0 { return 0.5 }
        let root = h.squareRoot()
        return 0.5 + 0.5 * gaussianExpectation(kink: -root) { z in
            let y = tanh(h + root * z)
            return y * y
        }
    }

    /// E_z f(z), z ~ N(0,1), for an f with a localised feature at `kink` (a bounded, smooth-except-
    /// at-`kink` integrand). Gauss–Hermite when |kink| ≤ √1.5, otherwise QAGS on [−40, 40] split at
    /// `kink` and 0 (Gaussian mass beyond ±40 is < 1e−340). Falls back to Gauss–Hermite only if
    /// QAGS reports a failure, which does not happen for bounded integrands.
    static func gaussianExpectation(kink: Double, _ f: (Double) -> Double) -> Double {
        if abs(kink) <= 1.5.squareRoot() { return gaussHermite.standardNormalExpectation(f) }
        let weight = 1 / (2 * Double.pi).squareRoot()
        let g: (Double) -> Double = { z in weight * exp(-0.5 * z * z) * f(z) }
        let points = Set([-40.0, max(-40, min(40, kink)), 0, 40]).sorted()
        do {
            var total = 0.0
            for i in 0..<(points.count - 1) {
                total += try Quadrature.qags(g, from: points[i], to: points[i + 1],
                                             absoluteTolerance: 1e-15, relativeTolerance: 1e-12)
            }
            return total
        } catch {
            return gaussHermite.standardNormalExpectation(f)
        }
    }

    /// φ(t) for the GMM at dimension d: `phi(h: h(t:d:mTilde:sigma:))` (Docs/Theory.md §2.2).
    public static func phi(t: Double, d: Double, mTilde: Double, sigma: Double) -> Double {
        phi(h: h(t: t, d: d, mTilde: mTilde, sigma: sigma))
    }

    /// The paper's 1-D integral (eq. 6), by adaptive quadrature — an independent check of `phi`:
    /// φ(t) = ½ ∫ dy [G₊² + G₋²]/[G₊ + G₋],  G± = N(y; ±m e^{−t}, Γ_t), m = m̃√d (Docs/Theory.md §2.2).
    /// Evaluated with log-densities shifted by their maximum (no underflow for large m), using the
    /// symmetry y → −y and a break point at the peak y = m e^{−t}.
    public static func phiIntegral(t: Double, d: Double, mTilde: Double, sigma: Double) throws -> Double {
        let u = mTilde * d.squareRoot() * exp(-t)
        let v = ForwardProcess.gamma(t: t, sigma2: sigma * sigma)
        let logNorm = -0.5 * log(2 * Double.pi * v)
        let integrand: (Double) -> Double = { y in
            let lp = logNorm - (y - u) * (y - u) / (2 * v)
            let lm = logNorm - (y + u) * (y + u) / (2 * v)
            let top = max(lp, lm)
            let rp = exp(lp - top), rm = exp(lm - top)
            return exp(top) * (rp * rp + rm * rm) / (rp + rm)
        }
        // ½ ∫_{−∞}^{∞} = ∫_0^{∞} by symmetry.
        var total = try Quadrature.qagiu(integrand, from: u, absoluteTolerance: 1e-14, relativeTolerance: 1e-11)
        if u > 0 {
            total += try Quadrature.qags(integrand, from: 0, to: u, absoluteTolerance: 1e-14, relativeTolerance: 1e-11)
        }
        return total
    }

    /// Large-d scaling curve at t = ½ ln d + τ:
    /// φ_∞(τ) = ½ + ½ E_z tanh²(m̃² e^{−2τ} + m̃ e^{−τ} z) = φ(h = m̃² e^{−2τ}) (Docs/Theory.md §2.2).
    public static func phiInfinity(tau: Double, mTilde: Double = 1) -> Double {
        phi(h: mTilde * mTilde * exp(-2 * tau))
    }

    /// Positive solution u* of the Curie–Weiss equation u = h tanh u for h > 1, and 0 for h ≤ 1
    /// (Docs/Theory.md §2.4: modes of P_t along m̂ at inverse temperature β_eff = h). Brent on
    /// tanh(u)/u − 1/h over [0, h].
    public static func curieWeissMode(h: Double) throws -> Double {
        guard h > 1 else { return 0 }
        return try RootFinding.brent(in: 0...h) { u in
            (u == 0 ? 1 : tanh(u) / u) - 1 / h
        }
    }

    /// Potential of the reduced variable q = m·x/√d for σ = 1 (Docs/Theory.md §2.4, paper eqs. 7–8):
    /// V(q,t) = q²/2 − 2m̃² ln cosh(q e^{−t} √d).
    public static func potential(q: Double, t: Double, d: Double, mTilde: Double = 1) -> Double {
        0.5 * q * q - 2 * mTilde * mTilde * Special.lnCosh(q * exp(-t) * d.squareRoot())
    }

    /// Positive minimum q* of V(·, t): u = q e^{−t}√d solves the Curie–Weiss equation with
    /// h = 2 d m̃² e^{−2t}; 0 for t ≥ t* (Docs/Theory.md §2.4; d = 1024, t = 3: q* = 3.186124).
    public static func potentialMinimum(t: Double, d: Double, mTilde: Double = 1) throws -> Double {
        let u = try curieWeissMode(h: 2 * d * mTilde * mTilde * exp(-2 * t))
        return u * exp(t) / d.squareRoot()
    }

    /// Time where V''(0,t) = 1 − 2 d m̃² e^{−2t} vanishes: t* = ½ ln(2 d m̃²) (Docs/Theory.md §2.4).
    public static func potentialCriticalTime(d: Double, mTilde: Double = 1) -> Double {
        0.5 * log(2 * d * mTilde * mTilde)
    }

    /// The forward time t where φ(t) = `threshold` (½ < threshold < 1), by Brent on t (Docs/Theory.md
    /// §2.2; threshold 0.775, σ = m̃ = 1 gives t − ½ ln d ≈ +0.00063 for every d). Throws if φ(0) is
    /// already below the threshold.
    public static func phiCrossingTime(threshold: Double, d: Double, mTilde: Double = 1, sigma: Double = 1) throws -> Double {
        guard threshold > 0.5 && threshold < 1 else {
            throw GSL.failure("phiCrossingTime", "threshold must lie in (1/2, 1), got \(threshold)")
        }
        let gap: (Double) -> Double = { t in phi(t: t, d: d, mTilde: mTilde, sigma: sigma) - threshold }
        guard gap(0) > 0 else {
            throw GSL.failure("phiCrossingTime", "φ(t = 0) = \(gap(0) + threshold) is already below \(threshold)")
        }
        var hi = max(1, 0.5 * log(max(d * mTilde * mTilde, 1)) + 5)
        var expansions = 0
        while gap(hi) > 0 {
            hi *= 2; expansions += 1
            if expansions > 60 { throw GSL.failure("phiCrossingTime", "no crossing found up to t = \(hi)") }
        }
        return try RootFinding.brent(in: 0...hi, gap)
    }
}
