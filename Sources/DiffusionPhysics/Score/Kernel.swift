import Foundation
import GSLKit

/// How the squared distance between a noised point and a training point becomes a log posterior
/// weight. Distances are taken in the noise-scaled ("VE") variables y = x·eᵗ, σ² = e^{2t} − 1
/// (Docs/Theory.md §1.1, "Equivalent VE form"; Docs/PoissonFlow.md §3.3), where every kernel depends on
/// d² = |y − a_μ|² and σ² only.
///
/// A new physics kernel is one more case here; the engine (`EmpiricalPosterior`) is shared.
public enum Kernel: Sendable, Equatable, CustomStringConvertible {
    /// Diffusion (PFGM++ with D = ∞): ln k = −d² / (2σ²).
    case gaussian
    /// PFGM++ with D extra dimensions (Student-t, ν = D): ln k = −((N + D)/2)·log1p(d² / (D σ²)).
    case studentT(degreesOfFreedom: Double)
    /// GenPhys Yukawa (screened Poisson) kernel in N + 1 dimensions with mass m > 0 (Docs/PoissonFlow.md §6):
    /// σ² plays z², s² = d² + z², ln k = −(ν+1)·ln(m s) + ln K_{ν+1}(m s), ν = (N − 1)/2.
    /// m → 0 gives the PFGM (D = 1) weights s^{−(N+1)}.
    case yukawa(mass: Double)

    public var description: String {
        switch self {
        case .gaussian: return "gaussian (D = inf)"
        case .studentT(let nu): return "student-t (D = \(nu))"
        case .yukawa(let m): return "yukawa (m = \(m))"
        }
    }

    /// ln k(d², σ²) up to a μ-independent constant, for data dimension `dimension` (N).
    @inlinable
    public func logWeight(squaredDistance d2: Double, sigma2: Double, dimension: Int) -> Double {
        switch self {
        case .gaussian:
            return -d2 / (2 * sigma2)
        case .studentT(let nu):
            return -0.5 * (Double(dimension) + nu) * Foundation.log1p(d2 / (nu * sigma2))
        case .yukawa(let m):
            let order = 0.5 * Double(dimension + 1)
            let x = m * (d2 + sigma2).squareRoot()
            return -order * Foundation.log(x) + ((try? Special.lnBesselK(nu: order, x: x)) ?? -Double.infinity)
        }
    }

    /// Upper bound of |∂ ln k / ∂ d²|: turns an error in d² into an error in the log weight.
    @inlinable
    public func logWeightSlope(sigma2: Double, dimension: Int) -> Double {
        switch self {
        case .gaussian: return 1 / (2 * sigma2)
        case .studentT(let nu): return 0.5 * (Double(dimension) + nu) / (nu * sigma2)
        case .yukawa(let m):
            // −d ln k/d(s²) = m K_{μ+1}(ms)/(2s K_μ(ms)) ≤ (μ + ½ + √((μ+½)² + m²s²))/(2s²), largest at s = z.
            let a = 0.5 * Double(dimension + 1) + 0.5
            return (a + (a * a + m * m * sigma2).squareRoot()) / (2 * sigma2)
        }
    }
}
