import Foundation
import GSLKit

/// Random-energy-model reading of collapse for the GMM (Docs/Theory.md §3.3; [BBdBM] SI, [LM24] App. A).
///
/// Levels ε = E_μ/d of the n − 1 non-planted points, with σ_t² := σ² e^{−2t}. The cumulant
/// generating function per dimension is g_t(λ); the level entropy is f_t(ε) = max_λ[−g_t(λ) − λε].
public enum RandomEnergyModel {
    /// g_t(λ) = ½ ln(Δ_t/(Δ_t + λσ_t²)) − (λ/2)(Δ_t + σ_t²)/(Δ_t + λσ_t²) (Docs/Theory.md §3.3).
    public static func g(lambda: Double, t: Double, sigma2: Double = 1) -> Double {
        let (delta, s) = parameters(t, sigma2)
        return -0.5 * log1p(lambda * s / delta) - 0.5 * lambda * (delta + s) / (delta + lambda * s)
    }

    /// g_t'(λ) = −(Δ_t² + 2Δ_tσ_t² + λσ_t⁴) / (2(Δ_t + λσ_t²)²) (derived by differentiating g_t).
    public static func gPrime(lambda: Double, t: Double, sigma2: Double = 1) -> Double {
        let (delta, s) = parameters(t, sigma2)
        let den = delta + lambda * s
        return -(delta * delta + 2 * delta * s + lambda * s * s) / (2 * den * den)
    }

    /// Energy of the tilted level density ε*(λ) = −g_t'(λ); ε*(1) = ½ (Docs/Theory.md §3.3).
    public static func epsilonStar(lambda: Double, t: Double, sigma2: Double = 1) -> Double {
        -gPrime(lambda: lambda, t: t, sigma2: sigma2)
    }

    /// Level entropy at the tilt λ: f_t(ε*(λ)) = λ g_t'(λ) − g_t(λ) (Legendre transform; increasing
    /// in λ from 0; at λ = 1 it equals ½ log1p(σ_t²/Δ_t)) (Docs/Theory.md §3.3).
    public static func levelEntropy(lambda: Double, t: Double, sigma2: Double = 1) -> Double {
        lambda * gPrime(lambda: lambda, t: t, sigma2: sigma2) - g(lambda: lambda, t: t, sigma2: sigma2)
    }

    /// Condensation parameter λ_c ∈ (0, 1]: the root of λ g_t'(λ) − g_t(λ) = α for t < t_C, and 1
    /// for t ≥ t_C (λ_c = 1 exactly at t_C) (Docs/Theory.md §3.3).
    public static func lambdaC(t: Double, alpha: Double, sigma2: Double = 1) throws -> Double {
        guard alpha > 0 else { throw GSL.failure("lambdaC", "α must be positive, got \(alpha)") }
        if levelEntropy(lambda: 1, t: t, sigma2: sigma2) <= alpha { return 1 }
        return try RootFinding.brent(in: 0...1) { levelEntropy(lambda: $0, t: t, sigma2: sigma2) - alpha }
    }

    /// Non-planted (fresh-point) participation ratio in the REM limit: E[Y2] = 1 − λ_c for
    /// t < t_C, 0 above (Poisson–Dirichlet; Docs/Theory.md §3.3).
    public static func expectedY2NonPlanted(t: Double, alpha: Double, sigma2: Double = 1) throws -> Double {
        1 - (try lambdaC(t: t, alpha: alpha, sigma2: sigma2))
    }

    /// Liquid (annealed) free energy ψ₊ = α + g_t(1) = α + ½ ln(Δ_t/(Δ_t + σ_t²)) − ½, exact for
    /// t > t_C (Docs/Theory.md §3.3).
    public static func freeEnergyLiquid(t: Double, alpha: Double, sigma2: Double = 1) -> Double {
        alpha + g(lambda: 1, t: t, sigma2: sigma2)
    }

    /// Condensed free energy ψ₊ = −ε_min, ε_min the smallest root of α = f_t(ε); ε_min = ε*(λ*)
    /// with λ* the root of λ g_t' − g_t = α (Docs/Theory.md §3.3). Physical for t ≤ t_C (then λ* = λ_c ≤ 1,
    /// ε_min ≥ ½); for t > t_C it returns the (unphysical) continuation with λ* > 1.
    public static func freeEnergyCondensed(t: Double, alpha: Double, sigma2: Double = 1) throws -> Double {
        guard alpha > 0 else { throw GSL.failure("freeEnergyCondensed", "α must be positive, got \(alpha)") }
        let k: (Double) -> Double = { levelEntropy(lambda: $0, t: t, sigma2: sigma2) - alpha }
        var hi = 1.0, steps = 0
        while k(hi) < 0 {
            hi *= 2; steps += 1
            if steps > 200 { throw GSL.failure("freeEnergyCondensed", "no λ with f_t(ε*(λ)) = α") }
        }
        let lambdaStar = try RootFinding.brent(in: 0...hi, k)
        return -epsilonStar(lambda: lambdaStar, t: t, sigma2: sigma2)
    }

    /// ψ₊(t): condensed below t_C, liquid above (Docs/Theory.md §3.3; both equal −½ at t_C).
    public static func freeEnergy(t: Double, alpha: Double, sigma2: Double = 1) throws -> Double {
        if levelEntropy(lambda: 1, t: t, sigma2: sigma2) <= alpha { return freeEnergyLiquid(t: t, alpha: alpha, sigma2: sigma2) }
        return try freeEnergyCondensed(t: t, alpha: alpha, sigma2: sigma2)
    }

    private static func parameters(_ t: Double, _ sigma2: Double) -> (delta: Double, s: Double) {
        (ForwardProcess.delta(t), sigma2 * exp(-2 * t))
    }
}
