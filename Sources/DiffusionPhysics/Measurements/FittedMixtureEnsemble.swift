import Foundation
import GSLKit

extension StreamDomain {
    /// Monte-Carlo samples of a fitted Gaussian mixture (class, then d normals): one stream per sample.
    public static let fittedMixture = StreamDomain(rawValue: 0xF17E)
}

/// Per-sample values of a fitted mixture's Monte Carlo at one time t (Docs/Theory.md §2.5).
public struct FittedMixtureValues: Sendable {
    public var t: Double
    /// Σ_c p_c(x, t)² with p_c the fitted mixture's exact posterior (mean: φ(t)).
    public var agreement: [Double]
    /// ln p_{c0}(x, t), c0 the class x was drawn from (mean: −H(C | X_t), the conditional class entropy).
    public var logOriginPosterior: [Double]
}

/// Monte Carlo over a fitted Gaussian mixture noised to time t (Docs/Theory.md §2.5): sample i draws
/// its class c0 ~ π and z ~ N(0, I_d) once, from `RandomStream(seed:stream: i, domain: .fittedMixture)`,
/// and at every t is x_i = μ_{c0} e^{−t} + V_{c0}ᵀ (√(Λ_{c0} e^{−2t} + Δ_t) ∘ z_i): common random numbers,
/// so the sample means are smooth in t and their crossings are roots (solved by Brent as
/// `ForwardEnsemble.solveCrossing` does for the measured curve).
///
/// The posterior is exact for the fitted law: ln π_c − ½ ln det C_c(t) − ½ |y_c|²_{C_c(t)}, y_c the
/// coordinates of x − μ_c e^{−t} in class c's eigenbasis. In class c0's own basis y = √(·) ∘ z; in
/// another class's basis y = (√(·) ∘ z)·W + e^{−t} V_c(μ_{c0} − μ_c) with W = V_{c0} V_cᵀ precomputed,
/// so one time costs one B × d × d product per ordered pair of distinct classes (none for `.pooled`).
public struct FittedMixtureEnsemble: Sendable {
    public let mixture: FittedGaussianMixture
    public let fit: CovarianceFit
    public let samples: Int
    public let seed: UInt64
    public var threads: Int
    /// Class c0 of each sample, and the indices of the samples of each class.
    let origin: [Int]
    let groups: [[Int]]
    /// samples × d unit normals.
    let noise: Matrix<Double>
    /// cross[c0][c] = V_{c0} V_cᵀ (nil when c = c0 or the basis is shared).
    let cross: [[Matrix<Double>?]]
    /// gaps[c0][c] = V_c (μ_{c0} − μ_c).
    let gaps: [[[Double]]]

    public init(mixture: FittedGaussianMixture, fit: CovarianceFit, samples: Int, seed: UInt64,
                threads: Int = Parallel.defaultThreads) throws {
        guard samples >= 2 else { throw ModelError("need at least 2 Monte-Carlo samples, got \(samples)") }
        let k = mixture.k, d = mixture.d
        var origin = [Int](repeating: 0, count: samples)
        var noise = Matrix<Double>(rows: samples, columns: d)
        for i in 0..<samples {
            let rng = RandomStream(seed: seed, stream: UInt64(i), domain: .fittedMixture)
            origin[i] = k == 1 ? 0 : rng.categorical(mixture.weights[...])
            rng.fillGaussian(&noise.storage, (i * d)..<((i + 1) * d))
        }
        self.origin = origin
        self.groups = (0..<k).map { c in origin.indices.filter { origin[$0] == c } }
        self.noise = noise
        var cross: [[Matrix<Double>?]] = Array(repeating: Array(repeating: nil, count: k), count: k)
        var gaps: [[[Double]]] = Array(repeating: Array(repeating: [], count: k), count: k)
        for c0 in 0..<k {
            for c in 0..<k {
                let cov = mixture.covariance(c, fit)
                gaps[c0][c] = cov.project((0..<d).map { mixture.means[c0, $0] - mixture.means[c, $0] })
                if fit == .perClass, c != c0 {
                    var w = Matrix<Double>(rows: d, columns: d)
                    BLAS.multiplyTransposed(mixture.covariance(c0, fit).basis, cov.basis, into: &w)
                    cross[c0][c] = w
                }
            }
        }
        self.cross = cross
        self.gaps = gaps
        (self.mixture, self.fit, self.samples, self.seed, self.threads) = (mixture, fit, samples, seed, threads)
    }

    /// Per-sample values at each time (t > 0), in sample order.
    public func values(at times: [Double]) throws -> [FittedMixtureValues] {
        for t in times { guard t.isFinite, t > 0 else { throw ModelError("times must be finite and > 0, got \(t)", parameter: "times") } }
        let k = mixture.k, d = mixture.d
        // Work items: (class c0, range of its samples); results stored by sample index.
        let chunk = 256
        var items: [(c0: Int, rows: ArraySlice<Int>)] = []
        for c0 in 0..<k {
            let g = groups[c0]
            for s in stride(from: 0, to: g.count, by: chunk) { items.append((c0, g[s..<min(g.count, s + chunk)])) }
        }
        let ensemble = self
        let results = try Parallel.mapChunks(count: items.count, chunkSize: 1, threads: threads, makeWorkspace: { () }) { _, range in
            let item = items[range.lowerBound]
            return ensemble.evaluate(c0: item.c0, rows: Array(item.rows), times: times)
        }
        var agreement = Array(repeating: [Double](repeating: 0, count: samples), count: times.count)
        var logOrigin = agreement
        for (item, r) in zip(items, results) {
            for (a, i) in item.rows.enumerated() {
                for l in 0..<times.count {
                    agreement[l][i] = r.agreement[l][a]
                    logOrigin[l][i] = r.logOrigin[l][a]
                }
            }
        }
        _ = d
        return times.indices.map { FittedMixtureValues(t: times[$0], agreement: agreement[$0], logOriginPosterior: logOrigin[$0]) }
    }

    /// One class's block of samples at every time.
    func evaluate(c0: Int, rows: [Int], times: [Double]) -> (agreement: [[Double]], logOrigin: [[Double]]) {
        let k = mixture.k, d = mixture.d, b = rows.count
        var agreement: [[Double]] = [], logOrigin: [[Double]] = []
        var u = Matrix<Double>(rows: b, columns: d)
        var y = Matrix<Double>(rows: b, columns: d)
        var logLik = [Double](repeating: 0, count: b * k)
        for t in times {
            let decay = exp(-t)
            let own = mixture.covariance(c0, fit).noisedEigenvalues(t: t)
            let ownRoot = own.map { $0.squareRoot() }
            for (r, i) in rows.enumerated() {
                for j in 0..<d { u[r, j] = ownRoot[j] * noise[i, j] }
            }
            for c in 0..<k {
                let variances = mixture.covariance(c, fit).noisedEigenvalues(t: t)
                let logDet = variances.reduce(0) { $0 + log($1) }
                let base = log(mixture.weights[c]) - 0.5 * logDet
                let gap = gaps[c0][c]
                if let w = cross[c0][c] {
                    BLAS.multiply(u, w, into: &y)
                } else {
                    y.storage = u.storage
                }
                for r in 0..<b {
                    var q = 0.0
                    for j in 0..<d {
                        let v = y[r, j] + decay * gap[j]
                        q += v * v / variances[j]
                    }
                    logLik[r * k + c] = base - 0.5 * q
                }
            }
            var agree = [Double](repeating: 0, count: b), lnOrigin = [Double](repeating: 0, count: b)
            for r in 0..<b {
                var top = -Double.infinity
                for c in 0..<k { top = max(top, logLik[r * k + c]) }
                var s = 0.0
                for c in 0..<k { s += exp(logLik[r * k + c] - top) }
                let lse = top + log(s)
                var a = 0.0
                for c in 0..<k { let p = exp(logLik[r * k + c] - lse); a += p * p }
                agree[r] = a
                lnOrigin[r] = logLik[r * k + c0] - lse
            }
            agreement.append(agree)
            logOrigin.append(lnOrigin)
        }
        return (agreement, logOrigin)
    }

    /// φ(t) = E[Σ_c p_c²] with its SE at each time.
    public func phi(at times: [Double]) throws -> [(t: Double, phi: MeanEstimate)] {
        try values(at: times).map { ($0.t, MeanEstimate($0.agreement)) }
    }

    /// Solves φ(t) = `level` on this fixed sample set: the first sign change on `bracket`, then Brent
    /// (Docs/Engine.md, `ForwardEnsemble.solveCrossing`); SE by the delta method. Nil without a bracket.
    public func phiCrossing(level: Double, bracket: [Double], tolerance: Double = 1e-7) throws -> SolvedCrossing? {
        try MonteCarloCrossing.solve(level: level, bracket: bracket, tolerance: tolerance, last: false) { ts in
            try self.values(at: ts).map(\.agreement)
        }
    }
}

/// Brent root of a Monte-Carlo mean on a fixed sample set (common random numbers), with the delta-method
/// SE — the procedure of `ForwardEnsemble.solveCrossing` for any per-sample statistic.
enum MonteCarloCrossing {
    /// `values(ts)` returns the per-sample values at each t (same samples at every t). `last`: take the
    /// last sign change on the grid (largest root) instead of the first.
    static func solve(level: Double, bracket grid: [Double], tolerance: Double, last: Bool,
                      values: ([Double]) throws -> [[Double]]) throws -> SolvedCrossing? {
        let times = Array(Set(grid)).sorted()
        guard times.count >= 2 else { throw ModelError("a crossing needs at least two bracket points", parameter: "times") }
        var evaluations = 0
        func means(_ ts: [Double]) throws -> [[Double]] { evaluations += 1; return try values(ts) }
        func mean(_ y: [Double]) -> Double { y.reduce(0, +) / Double(y.count) }
        let coarse = try means(times).map(mean)
        let candidates = coarse.indices.dropLast().filter { (coarse[$0] - level) * (coarse[$0 + 1] - level) <= 0 }
        guard let k = last ? candidates.last : candidates.first else { return nil }
        let lo = times[k], hi = times[k + 1]
        let root: Double
        if coarse[k] == level { root = lo } else if coarse[k + 1] == level { root = hi } else {
            root = try RootFinding.brent(in: lo...hi, absoluteTolerance: tolerance, relativeTolerance: 0) { t in
                try mean(means([t])[0]) - level
            }
        }
        let h = max(1e-5 * (hi - lo), 10 * tolerance)
        let around = try means([max(root - h, root / 2), root, root + h])
        let slope = (mean(around[2]) - mean(around[0])) / (root + h - max(root - h, root / 2))
        let se = MeanEstimate(around[1]).standardError / max(abs(slope), .leastNormalMagnitude)
        return SolvedCrossing(t: root, standardError: se, slope: slope, tolerance: tolerance, evaluations: evaluations)
    }
}
