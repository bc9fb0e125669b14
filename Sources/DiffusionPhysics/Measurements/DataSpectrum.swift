import Foundation
import GSLKit

/// Eigenvalues of the data covariance C0 (unbiased, per-feature centred), through GSL's symmetric
/// eigensolver: the d × d covariance when n ≥ d, else the n × n Gram matrix of the centred data
/// (same non-zero spectrum). Feeds t_S = ½ ln Λ (Docs/Theory.md §2.1) and the Gaussian-spectrum t_C bound
/// (Docs/Theory.md §3.2).
public struct DataSpectrum: Sendable, Codable, Equatable {
    /// Eigenvalues, descending (at most min(n − 1, d) non-zero ones).
    public var eigenvalues: [Double]
    /// Whether the n × n Gram matrix was used (n < d).
    public var usedGram: Bool

    /// Λ, the largest eigenvalue.
    public var lambda: Double { eigenvalues.first ?? 0 }

    public init(eigenvalues: [Double], usedGram: Bool) {
        self.eigenvalues = eigenvalues
        self.usedGram = usedGram
    }

    /// The spectrum of `points` (n ≥ 2 rows).
    public init(points: Matrix<Double>) throws {
        let n = points.rows, d = points.columns
        guard n >= 2 else { throw ModelError("the covariance spectrum needs n ≥ 2 points") }
        var centred = points
        for j in 0..<d {
            var m = 0.0
            for i in 0..<n { m += points[i, j] }
            m /= Double(n)
            for i in 0..<n { centred[i, j] -= m }
        }
        let scale = 1 / Double(n - 1)
        if n >= d {
            let c = BLAS.gramTransposed(centred, alpha: scale)
            eigenvalues = try SymmetricEigen.eigenvalues(of: c)
            usedGram = false
        } else {
            var g = Matrix<Double>(rows: n, columns: n)
            BLAS.multiplyTransposed(centred, centred, into: &g, alpha: scale)
            eigenvalues = Array(try SymmetricEigen.eigenvalues(of: g).prefix(d))
            usedGram = true
        }
        eigenvalues = eigenvalues.map { max(0, $0) }
    }

    /// The three labelled speciation-time conventions of Docs/Theory.md §2.1 from Λ.
    public var speciationTimes: SpeciationTimes { SpeciationTheory.tS(lambda: lambda) }
}
