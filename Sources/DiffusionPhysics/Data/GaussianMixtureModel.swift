import GSLKit

/// Direction of the mean m of the symmetric two-class mixture (Docs/Theory.md §2.2).
public enum MeanDirection: Sendable, Equatable {
    /// m = m̃ · (1, …, 1).
    case ones
    /// m uniformly distributed on the sphere |m| = m̃√d, drawn from `RandomStream(seed: seed, domain: .model)`.
    case random(seed: UInt64)
}

/// A population law P₀ = Σ_c π_c N(μ_c, σ_c² I): isotropic Gaussian mixture in ℝᵈ.
public struct GaussianMixtureModel: Sendable, Equatable {
    /// k × d, row c is the mean μ_c.
    public let means: Matrix<Double>
    /// Isotropic variance σ_c² of each component.
    public let variances: [Double]
    /// Mixture weights π_c (normalised to sum 1).
    public let weights: [Double]

    /// Validates k ≥ 1, d ≥ 1, finite means, `variances.count == weights.count == k`,
    /// variances ≥ 0 and finite, weights > 0 and finite; weights are normalised to sum 1.
    public init(means: Matrix<Double>, variances: [Double], weights: [Double]) throws {
        let k = means.rows
        guard k >= 1, means.columns >= 1 else {
            throw DataError("GaussianMixtureModel: means must be k × d with k, d ≥ 1 (got \(means.rows) × \(means.columns))")
        }
        guard variances.count == k, weights.count == k else {
            throw DataError("GaussianMixtureModel: \(k) means but \(variances.count) variances and \(weights.count) weights")
        }
        guard means.storage.allSatisfy(\.isFinite) else { throw DataError("GaussianMixtureModel: non-finite mean") }
        guard variances.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            throw DataError("GaussianMixtureModel: variances must be finite and ≥ 0 (got \(variances))")
        }
        guard weights.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw DataError("GaussianMixtureModel: weights must be finite and > 0 (got \(weights))")
        }
        let total = weights.reduce(0, +)
        self.means = means
        self.variances = variances
        self.weights = weights.map { $0 / total }
    }

    public var d: Int { means.columns }
    public var k: Int { means.rows }

    /// Symmetric two-class mixture ½N(+m, σ²I) + ½N(−m, σ²I) with |m|² = d·m̃² (Docs/Theory.md §2.2).
    /// `.ones` → m = m̃·(1,…,1); `.random(seed)` → uniformly random direction scaled to |m| = m̃√d.
    public static func twoClass(d: Int, mTilde: Double, sigma: Double,
                                direction: MeanDirection = .ones) throws -> GaussianMixtureModel {
        guard d >= 1 else { throw DataError("twoClass: d must be ≥ 1 (got \(d))") }
        guard mTilde.isFinite, mTilde >= 0 else { throw DataError("twoClass: mtilde must be finite and ≥ 0 (got \(mTilde))") }
        guard sigma.isFinite, sigma >= 0 else { throw DataError("twoClass: sigma must be finite and ≥ 0 (got \(sigma))") }
        var m: [Double]
        switch direction {
        case .ones:
            m = [Double](repeating: mTilde, count: d)
        case .random(let seed):
            let rng = RandomStream(seed: seed, domain: .model)
            var norm2 = 0.0
            repeat {
                m = (0..<d).map { _ in rng.gaussian() }
                norm2 = m.reduce(0) { $0 + $1 * $1 }
            } while norm2 == 0
            let scale = mTilde * Double(d).squareRoot() / norm2.squareRoot()
            m = m.map { $0 * scale }
        }
        let means = Matrix(rows: 2, columns: d, storage: m + m.map { -$0 })
        return try GaussianMixtureModel(means: means, variances: [sigma * sigma, sigma * sigma], weights: [0.5, 0.5])
    }

    /// One component N(0, σ²I).
    public static func isotropicGaussian(d: Int, sigma: Double) throws -> GaussianMixtureModel {
        guard d >= 1 else { throw DataError("isotropicGaussian: d must be ≥ 1 (got \(d))") }
        guard sigma.isFinite, sigma >= 0 else { throw DataError("isotropicGaussian: sigma must be finite and ≥ 0 (got \(sigma))") }
        return try GaussianMixtureModel(means: Matrix(rows: 1, columns: d), variances: [sigma * sigma], weights: [1])
    }

    /// n i.i.d. points; `labels[i]` is the component of point i. Point i uses only
    /// `RandomStream(seed: seed, stream: UInt64(i), domain: .data)` (one uniform for the component, then d normals),
    /// so each point depends on (seed, i) alone.
    public func sample(n: Int, seed: UInt64) throws -> Dataset {
        guard n >= 1 else { throw DataError("sample: n must be ≥ 1 (got \(n))") }
        let d = self.d
        var storage = [Double](repeating: 0, count: n * d)
        var labels = [Int](repeating: 0, count: n)
        let sds = variances.map { $0.squareRoot() }
        for i in 0..<n {
            let rng = RandomStream(seed: seed, stream: UInt64(i), domain: .data)
            let c = k == 1 ? 0 : rng.categorical(weights[...])
            labels[i] = c
            let s = sds[c]
            let base = i * d, mBase = c * d
            for j in 0..<d { storage[base + j] = means.storage[mBase + j] + s * rng.gaussian() }
        }
        let name = k == 2 ? "gmm2 sample n=\(n)" : "gmm\(k) sample n=\(n)"
        return try Dataset(points: Matrix(rows: n, columns: d, storage: storage), labels: labels, name: name)
    }

    /// Top eigenvalue Λ of the population covariance for the symmetric two-class model:
    /// Λ = |m|² + σ² = d m̃² + σ² (Docs/Theory.md §2.2). Nil unless k = 2, π = (½, ½), μ₂ = −μ₁, σ₁ = σ₂.
    public var covarianceTopEigenvalue: Double? {
        guard k == 2, weights[0] == weights[1], variances[0] == variances[1] else { return nil }
        var m2 = 0.0
        for j in 0..<d {
            let a = means[0, j], b = means[1, j]
            guard a == -b else { return nil }
            m2 += a * a
        }
        return m2 + variances[0]
    }
}
