import Foundation
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

// MARK: - Gaussian mixtures fitted to labelled data (Docs/Theory.md §2.5)

/// Which covariance a fitted mixture's classes carry (Docs/Theory.md §2.5).
public enum CovarianceFit: String, Sendable, Codable, CaseIterable {
    /// Linear discriminant analysis: one pooled within-class covariance Σ_w shared by every class.
    case pooled = "lda"
    /// Quadratic discriminant analysis: each class its own covariance Σ_c.
    case perClass = "qda"
}

/// When a fitted covariance is shrunk towards a multiple of the identity (Docs/Theory.md §2.5).
public enum ShrinkagePolicy: String, Sendable, Codable {
    /// Ledoit–Wolf when the points behind the covariance do not exceed the dimension (n_c ≤ d per
    /// class; n − k ≤ d pooled), else the unbiased sample covariance.
    case automatic
    /// Ledoit–Wolf always (its intensity → 0 as n → ∞, so the fit stays consistent).
    case always
    /// The unbiased sample covariance always (singular when n_c ≤ d).
    case none
}

/// A symmetric positive semi-definite covariance in its eigenbasis, C = Vᵀ diag(λ) V (rows of
/// `basis` are the eigenvectors), decomposed once by GSL's `SymmetricEigen`.
public struct EigenCovariance: Sendable, Equatable {
    /// Eigenvalues λ_j, descending, clamped at ≥ 0.
    public let eigenvalues: [Double]
    /// d × d; row j is the unit eigenvector of `eigenvalues[j]`.
    public let basis: Matrix<Double>
    /// Ledoit–Wolf intensity ρ ∈ [0, 1] applied (0: none).
    public let shrinkage: Double
    /// Points behind the estimate (0 for a covariance given exactly).
    public let count: Int

    public var d: Int { eigenvalues.count }

    /// Decomposes the symmetric matrix `matrix` (only its lower triangle is read).
    public init(_ matrix: Matrix<Double>, shrinkage: Double = 0, count: Int = 0) throws {
        let (values, vectors) = try SymmetricEigen.eigensystem(of: matrix)
        let d = matrix.rows
        var basis = Matrix<Double>(rows: d, columns: d)
        for i in 0..<d { for j in 0..<d { basis[j, i] = vectors[i, j] } }
        self.eigenvalues = values.map { max(0, $0) }
        self.basis = basis
        self.shrinkage = shrinkage
        self.count = count
    }

    /// C_t = C e^{−2t} + Δ_t I has eigenvalues λ_j e^{−2t} + Δ_t in the same basis (Docs/Theory.md §2.5).
    public func noisedEigenvalues(t: Double) -> [Double] {
        let decay = exp(-2 * t), delta = ForwardProcess.delta(t)
        return eigenvalues.map { $0 * decay + delta }
    }

    /// The projections V v of a vector (coordinates of v in the eigenbasis).
    public func project(_ v: [Double]) -> [Double] {
        precondition(v.count == d)
        return (0..<d).map { j in
            var s = 0.0
            for i in 0..<d { s += basis[j, i] * v[i] }
            return s
        }
    }
}

/// A Gaussian mixture P₀ = Σ_c π_c N(μ_c, Σ_c) with full covariances, fitted class by class to
/// labelled data (or given exactly): weights π_c = n_c/n, means μ_c, per-class covariances Σ_c
/// (QDA) and the pooled within-class covariance Σ_w (LDA), each decomposed once.
///
/// Covariances (Docs/Theory.md §2.5): the unbiased sample covariance, or — under `ShrinkagePolicy`
/// — the Ledoit–Wolf estimate Σ̂ = ρ μ I + (1 − ρ) S, S = XᵀX/n_c the maximum-likelihood
/// covariance of the class-centred points, μ = tr S/d, ρ = min(b̄², δ²)/δ² with
/// δ² = ‖S − μI‖²_F and b̄² = n_c⁻² Σ_k ‖x_k x_kᵀ − S‖²_F = n_c⁻² (Σ_k |x_k|⁴ − n_c ‖S‖²_F)
/// (Ledoit & Wolf 2004, J. Multivar. Anal. 88, 365). Shrunk covariances have every eigenvalue
/// ≥ ρμ > 0. The noised class c is N(μ_c e^{−t}, C_c(t)), C_c(t) = V_cᵀ(Λ_c e^{−2t} + Δ_t)V_c.
public struct FittedGaussianMixture: Sendable {
    /// The label value of each class (sorted), and its printable name.
    public let labels: [Int]
    public let classNames: [String]
    /// Points per class (0 for a mixture given exactly).
    public let counts: [Int]
    /// π_c, summing to 1.
    public let weights: [Double]
    /// k × d, row c is μ_c.
    public let means: Matrix<Double>
    /// Σ_c (QDA), one per class.
    public let classCovariances: [EigenCovariance]
    /// Σ_w (LDA): Σ_c (n_c − 1) S_c/(n − k) for a fit, Σ_c π_c Σ_c for exact parameters.
    public let pooledCovariance: EigenCovariance
    /// The shrinkage policy of the fit (nil: exact parameters).
    public let shrinkagePolicy: ShrinkagePolicy?

    public var k: Int { weights.count }
    public var d: Int { means.columns }

    /// The covariance of class c under `fit`.
    public func covariance(_ c: Int, _ fit: CovarianceFit) -> EigenCovariance {
        fit == .pooled ? pooledCovariance : classCovariances[c]
    }

    /// Fits every labelled class of `data` (at least two classes, each with ≥ 2 points).
    public init(fitting data: Dataset, shrinkage: ShrinkagePolicy = .automatic) throws {
        guard let all = data.labels else { throw DataError("\(data.name): fitting a Gaussian mixture needs class labels") }
        let classes = data.classes
        guard classes.count >= 2 else { throw DataError("\(data.name): fitting a class mixture needs at least two classes") }
        let d = data.d, n = data.n
        var means = Matrix<Double>(rows: classes.count, columns: d)
        var covs: [EigenCovariance] = [], counts: [Int] = []
        var pooledScatter = Matrix<Double>(rows: d, columns: d)
        var pooledRows: [[Double]] = []
        for (c, label) in classes.enumerated() {
            let rows = all.indices.filter { all[$0] == label }
            guard rows.count >= 2 else { throw DataError("\(data.name): class \(data.className(label)) has \(rows.count) point; a covariance needs ≥ 2") }
            var x = data.points.rows(rows)
            var mu = [Double](repeating: 0, count: d)
            for r in 0..<x.rows { for j in 0..<d { mu[j] += x[r, j] } }
            mu = mu.map { $0 / Double(rows.count) }
            means.setRow(c, mu)
            for r in 0..<x.rows { for j in 0..<d { x[r, j] -= mu[j] } }
            let shrink = shrinkage == .always || (shrinkage == .automatic && rows.count <= d)
            covs.append(try Self.covariance(centred: x, shrink: shrink))
            counts.append(rows.count)
            let scatter = BLAS.gramTransposed(x)
            for i in 0..<(d * d) { pooledScatter.storage[i] += scatter.storage[i] }
            if shrinkage != .none { for r in 0..<x.rows { pooledRows.append(x.row(r)) } }
        }
        let dof = n - classes.count
        let shrinkPooled = shrinkage == .always || (shrinkage == .automatic && dof <= d)
        if shrinkPooled {
            let x = Matrix(rows: pooledRows.count, columns: d, storage: pooledRows.flatMap { $0 })
            pooledCovariance = try Self.covariance(centred: x, shrink: true)
        } else {
            for i in 0..<(d * d) { pooledScatter.storage[i] /= Double(max(dof, 1)) }
            pooledCovariance = try EigenCovariance(pooledScatter, count: n)
        }
        self.labels = classes
        self.classNames = classes.map { data.className($0) }
        self.counts = counts
        self.weights = counts.map { Double($0) / Double(n) }
        self.means = means
        self.classCovariances = covs
        self.shrinkagePolicy = shrinkage
    }

    /// Exact parameters: weights (normalised), means (k × d) and full covariances (d × d each);
    /// the pooled covariance is Σ_c π_c Σ_c.
    public init(weights: [Double], means: Matrix<Double>, covariances: [Matrix<Double>], classNames: [String]? = nil) throws {
        let k = means.rows, d = means.columns
        guard k >= 1, d >= 1, weights.count == k, covariances.count == k else {
            throw DataError("FittedGaussianMixture: \(k) means, \(weights.count) weights, \(covariances.count) covariances")
        }
        guard weights.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw DataError("FittedGaussianMixture: weights must be > 0") }
        guard covariances.allSatisfy({ $0.rows == d && $0.columns == d }) else { throw DataError("FittedGaussianMixture: covariances must be d × d") }
        let total = weights.reduce(0, +)
        let w = weights.map { $0 / total }
        var pooled = Matrix<Double>(rows: d, columns: d)
        for (c, m) in covariances.enumerated() { for i in 0..<(d * d) { pooled.storage[i] += w[c] * m.storage[i] } }
        self.labels = Array(0..<k)
        self.classNames = classNames ?? (0..<k).map(String.init)
        self.counts = Array(repeating: 0, count: k)
        self.weights = w
        self.means = means
        self.classCovariances = try covariances.map { try EigenCovariance($0) }
        self.pooledCovariance = try EigenCovariance(pooled)
        self.shrinkagePolicy = nil
    }

    /// The isotropic mixture `law` (Σ_c = σ_c² I) as exact parameters.
    public init(exactly law: GaussianMixtureModel) throws {
        let d = law.d
        let covs = law.variances.map { v -> Matrix<Double> in
            var m = Matrix<Double>(rows: d, columns: d)
            for j in 0..<d { m[j, j] = v }
            return m
        }
        try self.init(weights: law.weights, means: law.means, covariances: covs)
    }

    /// The covariance of class-centred rows `x` (n_c × d): Ledoit–Wolf if `shrink`, else unbiased.
    static func covariance(centred x: Matrix<Double>, shrink: Bool) throws -> EigenCovariance {
        let n = x.rows, d = x.columns
        guard shrink else { return try EigenCovariance(BLAS.gramTransposed(x, alpha: 1 / Double(n - 1)), count: n) }
        var s = BLAS.gramTransposed(x, alpha: 1 / Double(n))
        var trace = 0.0
        for j in 0..<d { trace += s[j, j] }
        let mu = trace / Double(d)
        var normS2 = 0.0, delta2 = 0.0
        for i in 0..<d {
            for j in 0..<d {
                let v = s[i, j]
                normS2 += v * v
                let e = v - (i == j ? mu : 0)
                delta2 += e * e
            }
        }
        var fourth = 0.0
        for r in 0..<n { let q = x.rowSlice(r).reduce(0) { $0 + $1 * $1 }; fourth += q * q }
        let b2 = max(0, (fourth - Double(n) * normS2) / (Double(n) * Double(n)))
        let rho = delta2 > 0 ? min(b2, delta2) / delta2 : 1
        for i in 0..<d {
            for j in 0..<d { s[i, j] *= (1 - rho) }
            s[i, i] += rho * mu
        }
        return try EigenCovariance(s, shrinkage: rho, count: n)
    }

    /// n i.i.d. points of P₀ with their class labels; point i uses only
    /// `RandomStream(seed:stream: i, domain: .data)` (class, then d normals z, a = μ_c + Vᵀ √λ ∘ z).
    public func sample(n: Int, seed: UInt64) throws -> Dataset {
        guard n >= 1 else { throw DataError("sample: n must be ≥ 1 (got \(n))") }
        let d = self.d
        var storage = [Double](repeating: 0, count: n * d)
        var labels = [Int](repeating: 0, count: n)
        var z = [Double](repeating: 0, count: d)
        let roots = classCovariances.map { $0.eigenvalues.map { $0.squareRoot() } }
        for i in 0..<n {
            let rng = RandomStream(seed: seed, stream: UInt64(i), domain: .data)
            let c = k == 1 ? 0 : rng.categorical(weights[...])
            labels[i] = c
            rng.fillGaussian(&z, 0..<d)
            let cov = classCovariances[c]
            for j in 0..<d {
                let u = roots[c][j] * z[j]
                if u == 0 { continue }
                for l in 0..<d { storage[i * d + l] += u * cov.basis[j, l] }
            }
            for l in 0..<d { storage[i * d + l] += means[c, l] }
        }
        return try Dataset(points: Matrix(rows: n, columns: d, storage: storage), labels: labels,
                           name: "fitted-gmm\(k) sample n=\(n)")
    }
}
