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

/// Per-sample forward-sampling values at one time t, in sample order (THEORY §3.3–3.4).
public struct ForwardSampleValues: Sendable {
    public var t: Double
    /// Data dimension d (for f^e = −(1/d) ln w_origin).
    public var dimension: Int
    public var y2: [Double]
    public var maxWeight: [Double]
    /// Planted only: w_μ0, ln w_μ0 and 1{argmax = μ0}.
    public var wOrigin: [Double]?
    public var logWOrigin: [Double]?
    public var argmaxIsOrigin: [Double]?
    /// Labelled data only: Σ_c p_c² and p_{c0}.
    public var classAgreement: [Double]?
    public var originClassProbability: [Double]?

    /// Means with standard errors.
    public var estimate: ForwardEstimate {
        ForwardEstimate(t: t, samples: y2.count, y2: MeanEstimate(y2), wOrigin: wOrigin.map { MeanEstimate($0) },
                        argmaxIsOrigin: argmaxIsOrigin.map { MeanEstimate($0) },
                        excessEntropy: logWOrigin.map { l in MeanEstimate(l.map { -$0 / Double(dimension) }) },
                        maxWeight: MeanEstimate(maxWeight), classAgreement: classAgreement.map { MeanEstimate($0) },
                        originClassProbability: originClassProbability.map { MeanEstimate($0) })
    }
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
    ///
    /// Uses the common random numbers (THEORY §3.3): every time sees the same origins b_i and
    /// noises z_i, so x_i(t)·a_ν = e^{−t} b_i·a_ν + √Δ_t z_i·a_ν. Per chunk of samples the two
    /// products B·Aᵀ (rows of the Gram matrix for planted origins) and Z·Aᵀ are computed once;
    /// each time then costs O(B·n) (+ O(B·d) to form x for |x|² and the cancellation guard)
    /// instead of O(B·n·d). The estimates equal the per-time evaluation up to rounding; the
    /// guard uses a bound that covers the rounding of the assembled products.
    public func estimate(times: [Double], samples: Int, origins: ForwardOrigins = .planted, seed: UInt64,
                         progress: ProgressReporter? = nil) throws -> [ForwardEstimate] {
        try sampleValues(times: times, samples: samples, origins: origins, seed: seed, progress: progress).map(\.estimate)
    }

    /// The per-sample values behind `estimate` (same draws, same fast path), one entry per time:
    /// for estimators that need more than means (bootstrap intervals, paired differences).
    public func sampleValues(times: [Double], samples: Int, origins: ForwardOrigins = .planted, seed: UInt64,
                             progress: ProgressReporter? = nil) throws -> [ForwardSampleValues] {
        guard samples >= 2 else { throw ModelError("need at least 2 forward samples, got \(samples)") }
        for t in times { try validateTime(t) }
        let posterior = score.posterior
        let d = score.dimension, n = score.componentCount
        let classes = score.componentClasses
        var originClasses: [Int]? = nil
        let originPoints: Matrix<Double>
        switch origins {
        case .planted: originPoints = score.points
        case .fresh(let m, let labels):
            guard m.columns == d, m.rows >= 1 else { throw ModelError("fresh points must be a non-empty set of \(d)-dimensional rows") }
            guard m.storage.allSatisfy({ $0.isFinite }) else { throw ModelError("fresh points contain NaN or infinity") }
            if let labels {
                guard labels.count == m.rows else { throw ModelError("\(labels.count) labels for \(m.rows) fresh points") }
                let known = posterior.classLabels
                originClasses = try labels.map { l in
                    guard let c = known.firstIndex(of: l) else { throw ModelError("fresh label \(l) is not a class of the training data") }
                    return c
                }
            }
            originPoints = m
        }
        let planted: Bool
        if case .planted = origins { planted = true } else { planted = false }
        let wantsClasses = score.classCount > 0 && (planted || originClasses != nil)
        let chunkSize = self.chunkSize
        // chunks[c][k][r]: chunk c, time k, row r.
        let chunks = try Parallel.mapChunks(count: samples, chunkSize: chunkSize, threads: threads,
                                            makeWorkspace: { CommonNoiseWorkspace(score: score, capacity: chunkSize) }) { cw, range in
            let b = range.count
            let ws = cw.posterior
            // Same draws as the reference path: stream i gives the origin, then d normals.
            var originIndex = [Int](repeating: 0, count: b)
            for (r, i) in range.enumerated() {
                let rng = RandomStream(seed: seed, stream: UInt64(i), domain: .forward)
                originIndex[r] = rng.uniformInt(originPoints.rows)
                rng.fillGaussian(&cw.noise.storage, (r * d)..<((r + 1) * d))
                for j in 0..<d { cw.origin.storage[r * d + j] = originPoints.storage[originIndex[r] * d + j] }
            }
            BLAS.multiplyTransposed(cw.origin, posterior.points, into: &cw.originDots, aRows: b)
            BLAS.multiplyTransposed(cw.noise, posterior.points, into: &cw.noiseDots, aRows: b)
            for r in 0..<b {
                var a2 = 0.0, z2 = 0.0
                for j in (r * d)..<((r + 1) * d) {
                    a2 += cw.origin.storage[j] * cw.origin.storage[j]
                    z2 += cw.noise.storage[j] * cw.noise.storage[j]
                }
                cw.originNorm[r] = a2.squareRoot()
                cw.noiseNorm[r] = z2.squareRoot()
            }
            var perTime: [[SampleRow]] = []
            perTime.reserveCapacity(times.count)
            for t in times {
                let decay = exp(-t), sd = ForwardProcess.delta(t).squareRoot()
                let scale = exp(t), sigma2 = ForwardProcess.sigmaVE2(t)
                cw.origin.storage.withUnsafeBufferPointer { o in
                    cw.noise.storage.withUnsafeBufferPointer { z in
                        cw.x.storage.withUnsafeMutableBufferPointer { x in
                            for k in 0..<(b * d) { x[k] = o[k] * decay + sd * z[k] }
                        }
                    }
                }
                // s·|x| ≤ |b| + σ|z|: the scale of the rounding of the assembled dot products.
                for r in 0..<b { cw.errorNorms[r] = cw.originNorm[r] + scale * sd * cw.noiseNorm[r] }
                cw.originDots.storage.withUnsafeBufferPointer { g in
                    cw.noiseDots.storage.withUnsafeBufferPointer { za in
                        ws.weights.storage.withUnsafeMutableBufferPointer { w in
                            var k = 0
                            let m = b * n, m8 = m & ~7
                            let vd = SIMD8<Double>(repeating: decay), vs = SIMD8<Double>(repeating: sd)
                            while k < m8 {
                                let gv = UnsafeRawPointer(g.baseAddress! + k).loadUnaligned(as: SIMD8<Double>.self)
                                let zv = UnsafeRawPointer(za.baseAddress! + k).loadUnaligned(as: SIMD8<Double>.self)
                                UnsafeMutableRawPointer(w.baseAddress! + k).storeBytes(of: (gv * vd).addingProduct(zv, vs), as: SIMD8<Double>.self)
                                k += 8
                            }
                            while k < m { w[k] = g[k] * decay + sd * za[k]; k += 1 }
                        }
                    }
                }
                let outputs: PosteriorOutputs = wantsClasses ? .classProbabilities : []
                cw.errorNorms.withUnsafeBufferPointer { en in
                    posterior.withRowPointers(cw.x, ws, outputs: outputs) { p0 in
                        var p = p0
                        p.errorNorms = en.baseAddress
                        p.dotsF = nil; p.xF = nil; p.meanF = nil   // the products here are float64
                        posterior.softmaxRows(p, 0..<b, scale: scale, sigma2: sigma2, errorBoost: 2, forceDouble: true)
                        posterior.finish(p, 0..<b, outputs: outputs.subtracting(.mean))
                    }
                }
                perTime.append((0..<b).map { r in
                    let mu = originIndex[r]
                    return SampleRow(ws, row: r, origin: mu, planted: planted,
                                     originClass: wantsClasses ? (planted ? classes![mu] : originClasses![mu]) : nil)
                })
            }
            return perTime
        }
        var results: [ForwardSampleValues] = []
        for (k, t) in times.enumerated() {
            let rows = chunks.flatMap { $0[k] }
            results.append(ForwardSampleValues(
                t: t, dimension: d, y2: rows.map(\.y2), maxWeight: rows.map(\.wmax),
                wOrigin: planted ? rows.map(\.wOrigin) : nil, logWOrigin: planted ? rows.map(\.lnW) : nil,
                argmaxIsOrigin: planted ? rows.map(\.isMax) : nil,
                classAgreement: wantsClasses ? rows.map(\.agree) : nil,
                originClassProbability: wantsClasses ? rows.map(\.keep) : nil))
            progress?.advance()
        }
        return results
    }

    /// The straightforward per-time protocol (the papers' code): at every t, build x and run the
    /// full engine (one product of cost O(B·n·d) per time). Kept as the reference of the tests.
    public func estimateReference(times: [Double], samples: Int, origins: ForwardOrigins = .planted, seed: UInt64,
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
                return range.enumerated().map { r, i in
                    let mu = draws[i].origin
                    return SampleRow(ws, row: r, origin: mu, planted: planted,
                                     originClass: wantsClasses ? (planted ? classes![mu] : originClasses![mu]) : nil)
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

/// Per-worker buffers of the common-noise path (allocated once per worker, reused by every chunk and time).
final class CommonNoiseWorkspace {
    let posterior: PosteriorWorkspace
    var origin: Matrix<Double>, noise: Matrix<Double>, x: Matrix<Double>
    var originDots: Matrix<Double>, noiseDots: Matrix<Double>
    var originNorm: [Double], noiseNorm: [Double], errorNorms: [Double]
    init(score: EmpiricalScore, capacity: Int) {
        let d = score.dimension, n = score.componentCount
        posterior = score.makeWorkspace(capacity: capacity)
        origin = Matrix(rows: capacity, columns: d)
        noise = Matrix(rows: capacity, columns: d)
        x = Matrix(rows: capacity, columns: d)
        originDots = Matrix(rows: capacity, columns: n)
        noiseDots = Matrix(rows: capacity, columns: n)
        originNorm = Array(repeating: 0, count: capacity)
        noiseNorm = Array(repeating: 0, count: capacity)
        errorNorms = Array(repeating: 0, count: capacity)
    }
}

/// One forward sample's values, read off the workspace after its evaluation.
struct SampleRow {
    var y2, wmax, wOrigin, lnW, isMax, agree, keep: Double

    /// Planted samples also give w_μ0, ln w_μ0 (−∞ if it underflowed) and 1{argmax = μ0};
    /// with an origin class c0, Σ_c p_c² and p_{c0}.
    init(_ ws: PosteriorWorkspace, row r: Int, origin mu: Int, planted: Bool, originClass c0: Int?) {
        y2 = ws.participationRatio[r]
        wmax = ws.maxWeight[r]
        wOrigin = .nan; lnW = .nan; isMax = .nan; agree = .nan; keep = .nan
        if planted {
            let w = ws.weights[r, mu]
            wOrigin = w
            lnW = w > 1e-300 ? log(w) : -Double.greatestFiniteMagnitude
            isMax = ws.argmax[r] == mu ? 1 : 0
        }
        if let c0 {
            var s = 0.0
            for c in 0..<ws.classes { let q = ws.classProbabilities[r, c]; s += q * q }
            agree = s
            keep = ws.classProbabilities[r, c0]
        }
    }
}
