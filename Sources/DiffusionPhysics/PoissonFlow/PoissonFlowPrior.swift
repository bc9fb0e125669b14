import Foundation
import GSLKit

/// How the Student-t (PFGM++) perturbation is drawn (Docs/PoissonFlow.md §3.2). Both give the same law.
public enum PoissonFlowNoise: String, Sendable, Codable, CaseIterable {
    /// Gaussian scale mixture: x = y + σ g / √(χ²_D / D).
    case chiSquared = "chi2"
    /// Authors' sampler: B ~ Beta(N/2, D/2), R = r √(B/(1 − B)), x = y + R g/|g|.
    case betaPrime = "beta"
}

/// The exact prior of PFGM++ at any σ: the empirical mixture (1/n) Σ_i p_σ(·|y_i) (Docs/PoissonFlow.md §3.7).
extension PoissonFlowModel {
    /// P(R²/r² ≤ t) = I_{t/(1+t)}(N/2, D/2) for the kernel radius R = |x − y| (t ~ BetaPrime(N/2, D/2)).
    public static func radiusCDF(_ t: Double, N: Int, D: Double) throws -> Double {
        guard t >= 0 else { return 0 }
        if t.isInfinite { return 1 }
        return try Special.betaIncomplete(a: 0.5 * Double(N), b: 0.5 * D, x: t / (1 + t))
    }

    /// One kernel displacement x − y at noise level σ into `out[range]` (finite D: Student-t; D = ∞: Gaussian).
    public func drawNoise(sigma: Double, method: PoissonFlowNoise, rng: RandomStream,
                          into out: inout [Double], at offset: Int) {
        let N = dimension
        rng.fillGaussian(&out, offset..<(offset + N))
        if isDiffusion {
            for j in offset..<(offset + N) { out[j] *= sigma }
            return
        }
        switch method {
        case .chiSquared:
            let s = sigma / (rng.chiSquared(D) / D).squareRoot()
            for j in offset..<(offset + N) { out[j] *= s }
        case .betaPrime:
            var g2 = 0.0
            for j in offset..<(offset + N) { g2 += out[j] * out[j] }
            let b = rng.beta(0.5 * Double(N), 0.5 * D)
            let radius = r(sigma: sigma) * (b / (1 - b)).squareRoot()
            let s = radius / g2.squareRoot()
            for j in offset..<(offset + N) { out[j] *= s }
        }
    }

    /// `count` draws from p_σ: point i uses stream (seed, i, domain), picks y uniformly, adds kernel noise.
    /// Returns the draws and the training point each came from.
    public func samplePrior(sigma: Double, count: Int, seed: UInt64, method: PoissonFlowNoise = .chiSquared,
                            domain: StreamDomain = .trajectory) throws -> (points: Matrix<Double>, origins: [Int]) {
        guard sigma > 0, sigma.isFinite else { throw ModelError("σ must be finite and > 0, got \(sigma)") }
        guard count >= 0 else { throw ModelError("count must be ≥ 0") }
        let N = dimension
        var x = Matrix<Double>(rows: count, columns: N)
        var origins = [Int](repeating: 0, count: count)
        for i in 0..<count {
            let rng = RandomStream(seed: seed, stream: UInt64(i), domain: domain)
            origins[i] = rng.uniformInt(self.count)
            drawNoise(sigma: sigma, method: method, rng: rng, into: &x.storage, at: i * N)
            for j in 0..<N { x.storage[i * N + j] += points[origins[i], j] }
        }
        return (x, origins)
    }
}

/// One-sample Kolmogorov–Smirnov statistic and its asymptotic p-value.
public struct KolmogorovSmirnov: Sendable, Codable, Equatable {
    public var statistic: Double
    public var pValue: Double
    public var count: Int

    /// D_n = sup |F_n − F| for `values` against the continuous CDF `cdf`.
    public init(_ values: [Double], cdf: (Double) throws -> Double) rethrows {
        let v = values.sorted()
        let n = Double(v.count)
        var dn = 0.0
        for (i, x) in v.enumerated() {
            let f = try cdf(x)
            dn = max(dn, f - Double(i) / n, Double(i + 1) / n - f)
        }
        statistic = dn
        count = v.count
        // Kolmogorov distribution with Stephens' small-n correction.
        let s = (n.squareRoot() + 0.12 + 0.11 / n.squareRoot()) * dn
        var p = 0.0
        for k in 1...100 {
            let term = 2 * (k % 2 == 1 ? 1.0 : -1.0) * exp(-2 * Double(k * k) * s * s)
            p += term
            if abs(term) < 1e-16 { break }
        }
        pValue = min(1, max(0, s < 0.2 ? 1 : p))
    }
}
