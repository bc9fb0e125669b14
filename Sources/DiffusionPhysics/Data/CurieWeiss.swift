import Foundation
import GSLKit

/// The Curie–Weiss law of N Ising spins, P(s) ∝ exp(β M²/(2N)), s ∈ {−1, +1}^N, M = Σ_i s_i
/// (Docs/Theory.md §2.4, "Curie–Weiss data"), held through the exact finite-N law of the
/// magnetisation
///
///     P(M) ∝ C(N, (N+M)/2) exp(β M²/(2N)),     M = −N, −N+2, …, N,
///
/// computed in the log domain (ln C by ln Γ, normalised by log-sum-exp). Given M, every spin
/// configuration with that M is equally likely, so sampling is exact: M from P(M), then
/// k = (N+M)/2 up-spins at uniformly random sites.
///
/// Classes: the sign of M (label 1 "plus" for M > 0, 0 "minus" for M < 0); a tie M = 0 (even N)
/// takes the sign of the first spin s₁. The label is a function of s, odd under the global flip
/// s → −s, so the two classes have probability ½ exactly.
public struct CurieWeissModel: Sendable, Equatable {
    /// Number of spins N (the data dimension d).
    public let spins: Int
    /// Inverse temperature β ≥ 0.
    public let beta: Double
    /// P(M = 2k − N) for k = 0…N up-spins (sums to 1).
    public let probabilities: [Double]

    /// Validates N ≥ 1 and finite β ≥ 0, then tabulates P(M).
    public init(spins: Int, beta: Double) throws {
        guard spins >= 1 else { throw DataError("curie-weiss: N must be ≥ 1 (got \(spins))") }
        guard spins <= 100_000_000 else { throw DataError("curie-weiss: N = \(spins) is too large (at most 10⁸ spins)") }
        guard beta.isFinite, beta >= 0 else { throw DataError("curie-weiss: beta must be finite and ≥ 0 (got \(beta))") }
        self.spins = spins
        self.beta = beta
        let n = Double(spins)
        let lnFactN = try Special.lnGamma(n + 1)
        var logs = [Double](repeating: 0, count: spins + 1)
        for k in 0...spins {
            let m = Double(2 * k - spins)
            logs[k] = lnFactN - (try Special.lnGamma(Double(k) + 1)) - (try Special.lnGamma(n - Double(k) + 1)) + beta * m * m / (2 * n)
        }
        let top = logs.max()!
        var p = logs.map { exp($0 - top) }
        let z = p.reduce(0, +)
        for k in p.indices { p[k] /= z }
        probabilities = p
    }

    /// The magnetisation M = 2k − N of the table entry k.
    public func magnetisation(_ k: Int) -> Int { 2 * k - spins }

    /// E[M²] under the exact finite-N law.
    public var secondMoment: Double {
        var s = 0.0
        for (k, p) in probabilities.enumerated() { let m = Double(magnetisation(k)); s += p * m * m }
        return s
    }

    /// Top eigenvalue of the spin covariance, exactly: Λ = E[M²]/N [exact].
    ///
    /// The law is exchangeable with E[s_i] = 0, so C = (1 − c) I + c 11ᵀ with c = E[s_i s_j] (i ≠ j);
    /// its eigenvalue along 1/√N is 1ᵀC1/N = E[M²]/N, the others 1 − c. For β ≥ 0, c ≥ 0 and
    /// E[M²]/N is the top one (Docs/Theory.md §2.4).
    public var covarianceTopEigenvalue: Double { secondMoment / Double(spins) }

    /// The other N − 1 eigenvalues of the spin covariance, 1 − c, c = (E[M²] − N)/(N(N − 1)) (1 for N = 1).
    public var covarianceBulkEigenvalue: Double {
        guard spins > 1 else { return 1 }
        let n = Double(spins)
        return 1 - (secondMoment - n) / (n * (n - 1))
    }

    /// The mean-field Λ = 1 − m_β² + N m_β² (Docs/Theory.md §2.4) [asymptotic]: the two states ±m_β
    /// as product measures, neglecting the correlated fluctuations inside a state.
    public var meanFieldTopEigenvalue: Double {
        let m = Self.meanFieldMagnetisation(beta: beta)
        return 1 - m * m + Double(spins) * m * m
    }

    /// The positive root m_β of m = tanh(βm) (0 for β ≤ 1), by Brent on (0, 1].
    public static func meanFieldMagnetisation(beta: Double) -> Double {
        guard beta > 1 else { return 0 }
        // g(m) = tanh(βm) − m is > 0 just above 0 (slope β − 1 > 0) and < 0 at m = 1.
        let lo = min(1e-3, 0.5 * (1 - 1 / beta))
        return (try? RootFinding.brent(in: lo...1, absoluteTolerance: 1e-15, relativeTolerance: 0) { m in tanh(beta * m) - m }) ?? .nan
    }

    /// Laplace expansion of the exact Λ for β > 1 [asymptotic, derived in Docs/Theory.md §2.4]:
    /// Λ = N m² + c_β + O(1/N), c_β = χ + 2m²(χ/(1 − m²) − χ²/(1 − m²)²), χ = (1 − m²)/(1 − β(1 − m²)).
    public static func largeNTopEigenvalue(spins: Int, beta: Double) -> Double? {
        guard beta > 1 else { return nil }
        let m = meanFieldMagnetisation(beta: beta), q = 1 - m * m
        let chi = q / (1 - beta * q)
        return Double(spins) * m * m + chi + 2 * m * m * (chi / q - chi * chi / (q * q))
    }

    /// At β = 1, Λ/√N → 12^{1/2} Γ(3/4)/Γ(1/4) = 1.1708… [asymptotic, Docs/Theory.md §2.4]: M/N^{3/4}
    /// has the density ∝ exp(−y⁴/12), so t_S = ½ ln(1 + Λ) grows like ¼ ln N.
    public static var criticalAmplitude: Double {
        12.0.squareRoot() * tgamma(0.75) / tgamma(0.25)
    }

    /// Draws M from the exact table with one uniform (inverse CDF); `cumulative` from `cumulativeTable`.
    func drawUpSpins(_ rng: RandomStream, cumulative: [Double]) -> Int {
        let u = rng.uniform()
        var lo = 0, hi = cumulative.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cumulative[mid] > u { hi = mid } else { lo = mid + 1 }
        }
        // Skip zero-probability entries that a u at a rounding edge could land on.
        while probabilities[lo] == 0, lo > 0 { lo -= 1 }
        return lo
    }

    var cumulativeTable: [Double] {
        var c = [Double](repeating: 0, count: probabilities.count)
        var s = 0.0
        for (k, p) in probabilities.enumerated() { s += p; c[k] = s }
        c[c.count - 1] = max(s, 1)
        return c
    }

    /// n i.i.d. configurations as rows of ±1 (n × N), labelled by the sign of M (ties: s₁). Point i
    /// uses only `RandomStream(seed: seed, stream: i, domain: .data)`: one uniform for M, then the
    /// sites sequentially (site j is up with probability ups left / sites left), so each point
    /// depends on (seed, i) alone.
    public func sample(n: Int, seed: UInt64) throws -> Dataset {
        guard n >= 1 else { throw DataError("curie-weiss: n must be ≥ 1 (got \(n))") }
        let N = spins
        guard Double(n) * Double(N) <= 2e9 else { throw DataError("curie-weiss: n·N = \(n)·\(N) values is too large") }
        let cumulative = cumulativeTable
        var storage = [Double](repeating: -1, count: n * N)
        var labels = [Int](repeating: 0, count: n)
        for i in 0..<n {
            let rng = RandomStream(seed: seed, stream: UInt64(i), domain: .data)
            var ups = drawUpSpins(rng, cumulative: cumulative)
            let k = ups
            let base = i * N
            for j in 0..<N where ups > 0 {
                if rng.uniform() * Double(N - j) < Double(ups) {
                    storage[base + j] = 1
                    ups -= 1
                }
            }
            let m = 2 * k - N
            labels[i] = m > 0 || (m == 0 && storage[base] > 0) ? 1 : 0
        }
        return try Dataset(points: Matrix(rows: n, columns: N, storage: storage), labels: labels,
                           classNames: ["minus", "plus"], name: "curie-weiss sample n=\(n)")
    }
}

extension CurieWeissModel {
    /// The option text of a `curie-weiss:` spec with the key `N` (spins, upper case) renamed
    /// `spins`, so that it does not collide with `n` (samples) once keys are lower-cased.
    static func renamingSpinCount(_ options: String) -> String {
        options.split(separator: ",", omittingEmptySubsequences: false).map { raw -> String in
            let token = raw.trimmingCharacters(in: .whitespaces)
            guard let eq = token.firstIndex(of: "="), token[..<eq].trimmingCharacters(in: .whitespaces) == "N" else { return String(raw) }
            return "spins" + token[eq...]
        }.joined(separator: ",")
    }
}
