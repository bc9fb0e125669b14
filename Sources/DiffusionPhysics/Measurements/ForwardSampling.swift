import Foundation
import GSLKit

/// Which points are noised forward (THEORY §3.3–3.4).
public enum ForwardOrigins: Sendable {
    /// The planted ensemble: x = a_μ0 e^{−t} + √Δ_t ξ with μ0 uniform over the training set —
    /// exactly a sample of P_t^e, the law the backward dynamics visits.
    case planted
    /// The non-planted ensemble: fresh points (rows) not in the training set, e.g. new draws of
    /// the population or a test split; x = b e^{−t} + √Δ_t ξ.
    case fresh(Matrix<Double>, labels: [Int]?)
}

/// Forward-sampling estimates at one time t, each with its standard error (THEORY §2.2, §3.3–3.4).
public struct ForwardEstimate: Sendable, Codable, Equatable {
    public var t: Double
    public var samples: Int
    /// E[Y2], Y2 = Σ_μ w_μ².  Planted: = E[w_origin] = φ_C(t) exactly.
    public var y2: MeanEstimate
    /// E[w_μ0] (planted only).
    public var wOrigin: MeanEstimate?
    /// P(argmax_μ w_μ = μ0) (planted only): the forward commitment fraction.
    public var argmaxIsOrigin: MeanEstimate?
    /// f^e(t) = −(1/d) E[ln w_μ0] (planted only; THEORY §3.3, the low-variance estimator).
    public var excessEntropy: MeanEstimate?
    /// E[max_μ w_μ].
    public var maxWeight: MeanEstimate
    /// Rao–Blackwellised speciation φ(t) = E[Σ_c p_c²] (labelled data only).
    public var classAgreement: MeanEstimate?
    /// E[p_{c0}(x, t)]: the probability that the posterior keeps the origin's class — the
    /// U-turn estimator of φ (labelled data only; equal to classAgreement by Nishimori).
    public var originClassProbability: MeanEstimate?
}

/// Forward-sampling measurements with the exact empirical posterior.
///
/// Sample i uses stream `RandomStream(seed:stream: i, domain: .forward)` for its origin μ0 and noise ξ, the same
/// at every time of the grid: common random numbers, so a curve over t is smooth and differences
/// between times are sharper, while each point keeps its own correct SE (errors of different
/// times are correlated).
public struct ForwardSampling: Sendable {
    public let score: EmpiricalScore
    public var threads: Int
    public var chunkSize: Int

    public init(score: EmpiricalScore, threads: Int = Parallel.defaultThreads, chunkSize: Int = Parallel.defaultChunkSize) {
        self.score = score
        self.threads = threads
        self.chunkSize = chunkSize
    }

    /// Estimates at each time in `times` from `samples` forward samples of `origins`.
    public func estimate(times: [Double], samples: Int, origins: ForwardOrigins = .planted, seed: UInt64,
                         progress: ProgressReporter? = nil) throws -> [ForwardEstimate] {
        guard samples >= 2 else { throw ModelError("need at least 2 forward samples, got \(samples)") }
        for t in times { try validateTime(t) }
        let d = score.dimension, n = score.componentCount
        let classes = score.componentClasses
        var originClasses: [Int]? = nil
        if case .fresh(let m, let labels) = origins {
            guard m.columns == d, m.rows >= 1 else { throw ModelError("fresh points must be a non-empty set of \(d)-dimensional rows") }
            if let labels, let known = score.posterior.classLabels as [Int]? {
                originClasses = try labels.map { l in
                    guard let c = known.firstIndex(of: l) else { throw ModelError("fresh label \(l) is not a class of the training data") }
                    return c
                }
            }
        }
        // Per-sample draws, shared by all times.
        let draws: [(origin: Int, noise: [Double])] = (0..<samples).map { i in
            let rng = RandomStream(seed: seed, stream: UInt64(i), domain: .forward)
            let count: Int
            switch origins {
            case .planted: count = n
            case .fresh(let m, _): count = m.rows
            }
            let origin = rng.uniformInt(count)
            var noise = [Double](repeating: 0, count: d)
            rng.fillGaussian(&noise, 0..<d)
            return (origin, noise)
        }
        let planted: Bool
        if case .planted = origins { planted = true } else { planted = false }
        let wantsClasses = score.classCount > 0 && (planted || originClasses != nil)
        var results: [ForwardEstimate] = []
        for t in times {
            let decay = exp(-t), sd = ForwardProcess.delta(t).squareRoot()
            struct Row { var y2, wmax, wOrigin, lnW, isMax, agree, keep: Double }
            let chunks = try Parallel.mapChunks(count: samples, chunkSize: chunkSize, threads: threads,
                                                makeWorkspace: { score.makeWorkspace(capacity: chunkSize) }) { ws, range in
                var x = Matrix<Double>(rows: range.count, columns: d)
                for (r, i) in range.enumerated() {
                    let (mu, xi) = draws[i]
                    for j in 0..<d {
                        let a: Double
                        switch origins {
                        case .planted: a = score.points[mu, j]
                        case .fresh(let m, _): a = m[mu, j]
                        }
                        x[r, j] = a * decay + sd * xi[j]
                    }
                }
                try score.evaluate(x, rows: range.count, t: t, workspace: ws, outputs: wantsClasses ? .classProbabilities : [])
                return range.enumerated().map { r, i -> Row in
                    let mu = draws[i].origin
                    var row = Row(y2: ws.participationRatio[r], wmax: ws.maxWeight[r], wOrigin: .nan, lnW: .nan,
                                  isMax: .nan, agree: .nan, keep: .nan)
                    if planted {
                        let w = ws.weights[r, mu]
                        row.wOrigin = w
                        // ln w_μ0 = ln k_μ0 − LSE, from the weight unless it underflowed.
                        row.lnW = w > 1e-300 ? log(w) : -Double.greatestFiniteMagnitude
                        row.isMax = ws.argmax[r] == mu ? 1 : 0
                    }
                    if wantsClasses {
                        var s = 0.0
                        for c in 0..<score.classCount { let p = ws.classProbabilities[r, c]; s += p * p }
                        row.agree = s
                        let c0 = planted ? classes![mu] : originClasses![mu]
                        row.keep = ws.classProbabilities[r, c0]
                    }
                    return row
                }
            }
            let rows = chunks.flatMap { $0 }
            var e = ForwardEstimate(t: t, samples: samples, y2: MeanEstimate(rows.map(\.y2)), wOrigin: nil,
                                    argmaxIsOrigin: nil, excessEntropy: nil, maxWeight: MeanEstimate(rows.map(\.wmax)),
                                    classAgreement: nil, originClassProbability: nil)
            if planted {
                e.wOrigin = MeanEstimate(rows.map(\.wOrigin))
                e.argmaxIsOrigin = MeanEstimate(rows.map(\.isMax))
                let fe = MeanEstimate(rows.map { -$0.lnW / Double(d) })
                e.excessEntropy = fe
            }
            if wantsClasses {
                e.classAgreement = MeanEstimate(rows.map(\.agree))
                e.originClassProbability = MeanEstimate(rows.map(\.keep))
            }
            results.append(e)
            progress?.advance()
        }
        return results
    }
}
