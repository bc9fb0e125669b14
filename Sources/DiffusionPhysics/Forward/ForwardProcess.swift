import Foundation
import GSLKit

/// The forward (noising) Ornstein–Uhlenbeck process dx = −x dt + √2 dW and its aliases
/// (Docs/Theory.md §0): x(t) | a ~ N(a e^{−t}, Δ_t I).
public enum ForwardProcess {
    /// Δ_t = 1 − e^{−2t}, computed as −expm1(−2t) (Docs/Theory.md §0, §6: t = 1e−6 gives 1.999998e−6).
    @inlinable
    public static func delta(_ t: Double) -> Double { -expm1(-2 * t) }

    /// VE noise variance σ_VE²(t) = e^{2t} − 1 = expm1(2t) (Docs/Theory.md §0).
    @inlinable
    public static func sigmaVE2(_ t: Double) -> Double { expm1(2 * t) }

    /// Inverse of the VE map: t = ½ ln(1 + σ_VE²) = ½ log1p(σ_VE²) (Docs/Theory.md §0).
    public static func time(fromSigmaVE sigma: Double) -> Double { 0.5 * log1p(sigma * sigma) }

    /// Variance per direction of a noised N(·, σ² I) cluster: Γ_t = Δ_t + σ² e^{−2t} (Docs/Theory.md §2.2).
    @inlinable
    public static func gamma(t: Double, sigma2: Double) -> Double { delta(t) + sigma2 * exp(-2 * t) }

    /// Forward time of DDPM step `k` (0-based) of `L` steps with β linear from `betaMin` to
    /// `betaMax`: t(k) = −½ ln ᾱ_k = −½ Σ_{s≤k} log1p(−β_s), β_s = βmin + (βmax − βmin) s/(L − 1)
    /// (Docs/Theory.md §0; k = 99 → 0.054340, k = 999 → 5.058857).
    public static func ddpmTime(step k: Int, steps L: Int = 1000,
                                betaMin: Double = 1e-4, betaMax: Double = 2e-2) -> Double {
        precondition(L >= 2 && (0..<L).contains(k), "DDPM step \(k) outside 0..<\(L)")
        var sum = 0.0
        for s in 0...k {
            let beta = betaMin + (betaMax - betaMin) * Double(s) / Double(L - 1)
            sum += log1p(-beta)
        }
        return -0.5 * sum
    }
}
