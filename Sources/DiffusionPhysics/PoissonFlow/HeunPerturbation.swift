import Foundation
import GSLKit

/// Controlled errors of a Heun run, the robustness protocols of Docs/PoissonFlow.md §11.2:
///
///     noise injection (`generate_alpha.py`):  x ← x + α σ_k ξ,  ξ ~ N(0, I), before the step from σ_k
///     denoiser error (an imperfect network):  m̂ ← m̂ + ε |m̂| u,  u uniform on the unit sphere, at every evaluation
///
/// Every draw comes from the trajectory's own stream (`StreamPlan`, purpose `.fieldPerturbation`),
/// so a perturbed run does not depend on the thread count. With α = ε = 0 the perturbation is
/// inactive and the run is the unperturbed one, bit for bit (no stream is touched).
public struct HeunPerturbation: Sendable, Equatable, Codable {
    /// α ≥ 0: noise injected per step, in units of the current σ.
    public var noiseInjection: Double
    /// ε ≥ 0: relative error of the denoiser, in a random direction.
    public var denoiserError: Double

    public init(noiseInjection: Double = 0, denoiserError: Double = 0) {
        self.noiseInjection = noiseInjection
        self.denoiserError = denoiserError
    }

    public var isActive: Bool { noiseInjection != 0 || denoiserError != 0 }

    public func validate() throws {
        guard noiseInjection >= 0, noiseInjection.isFinite else { throw ModelError("α must be finite and ≥ 0, got \(noiseInjection)", parameter: "alpha") }
        guard denoiserError >= 0, denoiserError.isFinite else { throw ModelError("ε must be finite and ≥ 0, got \(denoiserError)", parameter: "epsilon") }
    }

    /// x_r ← x_r + α σ ξ_r for every row r (row r draws from `rngs[r]`).
    func inject(_ x: inout Matrix<Double>, sigma: Double, rngs: [RandomStream]) {
        guard noiseInjection != 0 else { return }
        let d = x.columns, s = noiseInjection * sigma
        for (r, rng) in rngs.enumerated() {
            for j in (r * d)..<((r + 1) * d) { x.storage[j] += s * rng.gaussian() }
        }
    }

    /// m̂_r ← m̂_r + ε |m̂_r| u_r in the workspace (after an evaluation with `.mean`).
    func perturbMean(_ ws: PosteriorWorkspace, rows b: Int, dimension d: Int, rngs: [RandomStream]) {
        guard denoiserError != 0 else { return }
        var g = [Double](repeating: 0, count: d)
        for r in 0..<b {
            rngs[r].fillGaussian(&g, 0..<d)
            var gn = 0.0, mn = 0.0
            for j in 0..<d { gn += g[j] * g[j]; mn += ws.mean[r, j] * ws.mean[r, j] }
            guard gn > 0 else { continue }
            let c = denoiserError * mn.squareRoot() / gn.squareRoot()
            for j in 0..<d { ws.mean[r, j] += c * g[j] }
        }
    }
}
