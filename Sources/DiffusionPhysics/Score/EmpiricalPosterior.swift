import Dispatch
import Foundation
import GSLKit

/// The exact posterior over n training points under any `Kernel`: the engine behind the
/// empirical diffusion score and the empirical PFGM++ field.
///
/// For particles y_i (rows of a batch, given as x_i with y_i = s·x_i) and noise level σ²:
///
///     d²_iμ = s²|x_i|² − 2 s x_i·a_μ + |a_μ|²        (one GEMM for all x_i·a_μ)
///     ln k_iμ = kernel(d²_iμ, σ²),  w_iμ = exp(ln k_iμ − max) / Σ_ν exp(ln k_iν − max)   (log-sum-exp)
///     m̂_i = Σ_μ w_iμ a_μ                                 (a second GEMM)
///
/// Small-σ guard (THEORY §1.1): the GEMM form cancels when y ≈ a_μ; its absolute error in d² is
/// bounded by c·ε·(s²|x|² + 2s|x|·max|a| + max|a|²). When that bound, times the kernel's slope,
/// exceeds `cancellationTolerance` in ln k, every candidate within `logWeightWindow` (+ twice the
/// bound) of the largest log weight is recomputed with explicit differences. Far candidates
/// carry weight < e^{−window} and cannot matter.
///
/// Speed (issue 6): both products go to BLAS; the softmax runs on eight lanes with a polynomial exp
/// (`VectorMath.exp`), fused into three cache-resident passes per row; the Gaussian kernel has a
/// vectorised fast path, any other kernel goes through `Kernel.logWeight`. `evaluate(…, threads:)`
/// splits rows into fixed blocks run on all cores (results independent of the thread count).
/// `Precision.float32` runs both products in single precision (≈2× faster on this hardware); the
/// softmax stays in float64, and the cancellation guard (with the float32 error bound) recomputes
/// near candidates in float64, so the f32 error is bounded by `cancellationTolerance` (default 1e-2
/// in log weight) plus the rounding of the mean product (tested at t ≥ 1e-2).
public final class EmpiricalPosterior: Sendable {
    /// Training points a_μ, n × d.
    public let points: Matrix<Double>
    /// Class index (0..<classCount) of each point, or nil.
    public let classIndex: [Int]?
    /// Distinct labels in class-index order.
    public let classLabels: [Int]
    public let kernel: Kernel
    /// |a_μ|².
    public let squaredNorms: [Double]
    private let maxNorm: Double
    /// Log-weight error above which near candidates are recomputed exactly.
    public let cancellationTolerance: Double
    /// Log-weight window below the maximum within which candidates are recomputed.
    public let logWeightWindow: Double
    /// Arithmetic of the two products.
    public let precision: Precision
    /// Single-precision copy of the points (empty unless `precision == .float32`).
    let pointsF: [Float]
    /// Class runs for vectorised class probabilities (nil: scattered labels, scalar path).
    let classRuns: [ClassRun]?
    /// classCount × n indicators 1[class μ = c] when labels are scattered and classes few (≤ 8).
    let classIndicators: [Double]?

    public var n: Int { points.rows }
    public var d: Int { points.columns }

    /// `cancellationTolerance` defaults to 1e-10 (float64) or 1e-2 (float32) in log weight.
    public init(points: Matrix<Double>, labels: [Int]? = nil, kernel: Kernel = .gaussian,
                precision: Precision = .float64,
                cancellationTolerance: Double? = nil, logWeightWindow: Double = 60) throws {
        guard points.rows >= 1, points.columns >= 1 else {
            throw ModelError("the empirical score needs n ≥ 1 points of dimension d ≥ 1 (got \(points.rows) × \(points.columns))")
        }
        guard points.storage.allSatisfy({ $0.isFinite }) else { throw ModelError("training points contain NaN or infinity") }
        if let labels, labels.count != points.rows {
            throw ModelError("\(labels.count) labels for \(points.rows) points")
        }
        if case .studentT(let nu) = kernel, !(nu > 0 && nu.isFinite) {
            throw ModelError("the Student-t kernel needs a finite D > 0 (use the Gaussian kernel for D = inf), got \(nu)")
        }
        self.points = points
        self.kernel = kernel
        if let cancellationTolerance, !(cancellationTolerance > 0) {
            throw ModelError("the cancellation tolerance must be > 0, got \(cancellationTolerance)")
        }
        self.precision = precision
        self.cancellationTolerance = cancellationTolerance ?? (precision == .float64 ? 1e-10 : 1e-2)
        pointsF = precision == .float32 ? points.storage.map(Float.init) : []
        self.logWeightWindow = logWeightWindow
        squaredNorms = points.rowSquaredNorms()
        maxNorm = squaredNorms.max().map { $0.squareRoot() } ?? 0
        if let labels {
            let distinct = Array(Set(labels)).sorted()
            let index = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, $0) })
            classLabels = distinct
            classIndex = labels.map { index[$0]! }
        } else {
            classLabels = []
            classIndex = nil
        }
        classRuns = EmpiricalPosterior.runs(classIndex)
        if classRuns == nil, let classIndex, classLabels.count <= 8 {
            var ind = [Double](repeating: 0, count: classLabels.count * points.rows)
            for (mu, c) in classIndex.enumerated() { ind[c * points.rows + mu] = 1 }
            classIndicators = ind
        } else {
            classIndicators = nil
        }
    }

    public var classCount: Int { classLabels.count }

    /// Maximal runs of equal class index (when there are few: datasets are usually grouped by class).
    struct ClassRun: Sendable { var start: Int, end: Int, classIndex: Int }
    private static func runs(_ index: [Int]?) -> [ClassRun]? {
        guard let index, !index.isEmpty else { return nil }
        var runs: [ClassRun] = [ClassRun(start: 0, end: 1, classIndex: index[0])]
        for mu in 1..<index.count {
            if index[mu] == runs[runs.count - 1].classIndex { runs[runs.count - 1].end = mu + 1 }
            else { runs.append(ClassRun(start: mu, end: mu + 1, classIndex: index[mu])) }
            if runs.count * 32 > index.count { return nil }
        }
        return runs
    }


    /// Evaluates rows 0..<rows of `x` at y = scale·x and noise level `sigma2` (VE variables), on the
    /// calling thread with OpenBLAS's current thread count (the samplers call this inside their
    /// workers, where BLAS is pinned to one thread).
    /// Fills weights, log-sum-exp, Y2, w_max and argmax; the mean and class probabilities if asked.
    public func evaluate(_ x: Matrix<Double>, rows: Int, scale s: Double, sigma2: Double,
                         workspace ws: PosteriorWorkspace, outputs: PosteriorOutputs) {
        checkShapes(x, rows: rows, ws)
        if rows == 0 { return }
        withRowPointers(x, ws, outputs: outputs) { p in
            product(p, 0..<rows)
            softmaxRows(p, 0..<rows, scale: s, sigma2: sigma2)
            finish(p, 0..<rows, outputs: outputs)
        }
    }

    /// The same evaluation on `threads` cores.
    ///
    /// `.rowBlocks` (default): rows are cut into blocks of `blockRows` (boundaries independent of
    /// the thread count), and each block runs product → softmax → product on one core with BLAS
    /// pinned to one thread: the results do not depend on `threads`. `.threadedBLAS`: both products
    /// over all rows with `threads` BLAS threads, the softmax split by rows (OpenBLAS's threaded
    /// products differ from the serial ones in the last bits).
    public func evaluate(_ x: Matrix<Double>, rows: Int, scale s: Double, sigma2: Double,
                         workspace ws: PosteriorWorkspace, outputs: PosteriorOutputs,
                         threads: Int, strategy: ParallelStrategy = .rowBlocks, blockRows: Int = 64) {
        checkShapes(x, rows: rows, ws)
        precondition(threads >= 1 && blockRows >= 1, "EmpiricalPosterior: threads and blockRows must be ≥ 1")
        if rows == 0 { return }
        let saved = BLAS.threads
        defer { BLAS.setThreads(saved) }
        withRowPointers(x, ws, outputs: outputs) { p in
            let blocks = (rows + blockRows - 1) / blockRows
            let block: (Int) -> Range<Int> = { b in (b * blockRows)..<min(rows, (b + 1) * blockRows) }
            switch strategy {
            case .rowBlocks:
                BLAS.setThreads(1)
                EmpiricalPosterior.forEach(blocks, workers: threads) { b in
                    let r = block(b)
                    self.product(p, r)
                    self.softmaxRows(p, r, scale: s, sigma2: sigma2)
                    self.finish(p, r, outputs: outputs)
                }
            case .threadedBLAS:
                BLAS.setThreads(threads)
                product(p, 0..<rows)
                EmpiricalPosterior.forEach(blocks, workers: threads) { b in
                    self.softmaxRows(p, block(b), scale: s, sigma2: sigma2)
                }
                finish(p, 0..<rows, outputs: outputs)
            }
        }
    }

    private func checkShapes(_ x: Matrix<Double>, rows: Int, _ ws: PosteriorWorkspace) {
        precondition(x.columns == d && rows <= ws.capacity && rows <= x.rows,
                     "EmpiricalPosterior: batch \(rows) of \(x.rows)×\(x.columns), workspace \(ws.capacity), d = \(d)")
        precondition(ws.components == n && ws.dimension == d, "EmpiricalPosterior: workspace built for another model")
    }

    /// Runs `body(0..<count)` on `workers` threads (worker w takes w, w + workers, …).
    static func forEach(_ count: Int, workers: Int, _ body: (Int) -> Void) {
        let w = max(1, min(workers, count))
        if w == 1 { for i in 0..<count { body(i) }; return }
        withoutActuallyEscaping(body) { body in
            let job = UncheckedBox(body)
            DispatchQueue.concurrentPerform(iterations: w) { worker in
                var i = worker
                while i < count { job.value(i); i += w }
            }
        }
    }

    /// Takes every pointer the phases need once, on the calling thread (workers then write
    /// disjoint rows through them; no Swift array is accessed concurrently).
    func withRowPointers<R>(_ x: Matrix<Double>, _ ws: PosteriorWorkspace, outputs: PosteriorOutputs,
                            _ body: (RowPointers) -> R) -> R {
        let scratch: FloatScratch?
        if precision == .float32 {
            if let s = ws.engineScratch as? FloatScratch { scratch = s } else {
                let s = FloatScratch(capacity: ws.capacity, n: n, d: d)
                ws.engineScratch = s
                scratch = s
            }
        } else { scratch = nil }
        return x.storage.withUnsafeBufferPointer { xs in
            ws.weights.storage.withUnsafeMutableBufferPointer { w in
                ws.mean.storage.withUnsafeMutableBufferPointer { mean in
                    ws.classProbabilities.storage.withUnsafeMutableBufferPointer { cp in
                        ws.logSumExp.withUnsafeMutableBufferPointer { lse in
                            ws.participationRatio.withUnsafeMutableBufferPointer { y2 in
                                ws.maxWeight.withUnsafeMutableBufferPointer { wmax in
                                    ws.argmax.withUnsafeMutableBufferPointer { am in
                                        let wantClasses = outputs.contains(.classProbabilities) && classIndex != nil && ws.classes == classCount
                                        var p = RowPointers(x: xs.baseAddress!, w: w.baseAddress!, mean: mean.baseAddress!,
                                                            lse: lse.baseAddress!, y2: y2.baseAddress!, wmax: wmax.baseAddress!,
                                                            argmax: am.baseAddress!, classProb: wantClasses ? cp.baseAddress : nil,
                                                            errorNorms: nil, xF: nil, dotsF: nil, meanF: nil)
                                        guard let scratch else { return body(p) }
                                        return scratch.x.withUnsafeMutableBufferPointer { xf in
                                            scratch.dots.withUnsafeMutableBufferPointer { df in
                                                scratch.mean.withUnsafeMutableBufferPointer { mf in
                                                    p.xF = xf.baseAddress; p.dotsF = df.baseAddress; p.meanF = mf.baseAddress
                                                    return body(p)
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Phase 1: the dot products x_i·a_μ of rows `r` (into `w`, or `dotsF` in single precision).
    func product(_ p: RowPointers, _ r: Range<Int>) {
        let m = r.count, n = self.n, d = self.d
        if m == 0 { return }
        if precision == .float32, let xF = p.xF, let dotsF = p.dotsF {
            for k in (r.lowerBound * d)..<(r.upperBound * d) { xF[k] = Float(p.x[k]) }
            pointsF.withUnsafeBufferPointer { a in
                Float.gemm(transposeA: false, transposeB: true, m: m, n: n, k: d, alpha: 1, a: xF + r.lowerBound * d, lda: d,
                           b: a.baseAddress!, ldb: d, beta: 0, c: dotsF + r.lowerBound * n, ldc: n)
            }
        } else {
            points.storage.withUnsafeBufferPointer { a in
                Double.gemm(transposeA: false, transposeB: true, m: m, n: n, k: d, alpha: 1, a: p.x + r.lowerBound * d, lda: d,
                            b: a.baseAddress!, ldb: d, beta: 0, c: p.w + r.lowerBound * n, ldc: n)
            }
        }
    }

    /// Phase 3: the posterior mean (second product) and class probabilities of rows `r`.
    func finish(_ p: RowPointers, _ r: Range<Int>, outputs: PosteriorOutputs) {
        let m = r.count, n = self.n, d = self.d
        if m == 0 { return }
        if outputs.contains(.mean) {
            if precision == .float32, let dotsF = p.dotsF, let meanF = p.meanF {
                pointsF.withUnsafeBufferPointer { a in
                    Float.gemm(transposeA: false, transposeB: false, m: m, n: d, k: n, alpha: 1, a: dotsF + r.lowerBound * n, lda: n,
                               b: a.baseAddress!, ldb: d, beta: 0, c: meanF + r.lowerBound * d, ldc: d)
                }
                for k in (r.lowerBound * d)..<(r.upperBound * d) { p.mean[k] = Double(meanF[k]) }
            } else {
                points.storage.withUnsafeBufferPointer { a in
                    Double.gemm(transposeA: false, transposeB: false, m: m, n: d, k: n, alpha: 1, a: p.w + r.lowerBound * n, lda: n,
                                b: a.baseAddress!, ldb: d, beta: 0, c: p.mean + r.lowerBound * d, ldc: d)
                }
            }
        }
        if let cp = p.classProb, let classRuns {
            // Classes stored in contiguous runs: vector sums over each run.
            let c = classCount
            for i in r {
                let out = cp + i * c
                for k in 0..<c { out[k] = 0 }
                let w = p.w + i * n
                for run in classRuns {
                    var acc = SIMD8<Double>(repeating: 0)
                    var mu = run.start
                    while mu + 8 <= run.end { acc += UnsafeRawPointer(w + mu).loadUnaligned(as: SIMD8<Double>.self); mu += 8 }
                    var tail = acc.sum()
                    while mu < run.end { tail += w[mu]; mu += 1 }
                    out[run.classIndex] += tail
                }
            }
        } else if let cp = p.classProb, let indicators = classIndicators {
            // Scattered labels, few classes: p_c = Σ_μ w_μ 1[class μ = c] on eight lanes.
            let c = classCount
            indicators.withUnsafeBufferPointer { ind in
                for i in r {
                    let w = p.w + i * n
                    for k in 0..<c {
                        let row = ind.baseAddress! + k * n
                        var acc = SIMD8<Double>(repeating: 0)
                        var mu = 0
                        while mu + 8 <= n {
                            acc = acc.addingProduct(UnsafeRawPointer(w + mu).loadUnaligned(as: SIMD8<Double>.self),
                                                    UnsafeRawPointer(row + mu).loadUnaligned(as: SIMD8<Double>.self))
                            mu += 8
                        }
                        var sum = acc.sum()
                        while mu < n { sum += w[mu] * row[mu]; mu += 1 }
                        cp[i * c + k] = sum
                    }
                }
            }
        } else if let cp = p.classProb, let classIndex {
            let c = classCount
            classIndex.withUnsafeBufferPointer { ci in
                for i in r {
                    let out = cp + i * c
                    for k in 0..<c { out[k] = 0 }
                    let w = p.w + i * n
                    for mu in 0..<n { out[ci[mu]] += w[mu] }
                }
            }
        }
    }

    /// Phase 2: log weights from the dot products, the cancellation guard, and the normalised
    /// softmax with its summaries, for rows `r`. Works row by row in cache.
    ///
    /// `p.errorNorms[i]`, if given, replaces s|x_i| in the cancellation bound (for dot products
    /// assembled from parts, whose rounding scales with the parts' norms).
    func softmaxRows(_ p: RowPointers, _ r: Range<Int>, scale s: Double, sigma2: Double, errorBoost: Double = 1,
                     forceDouble: Bool = false) {
        let n = self.n, d = self.d
        let kernel = self.kernel
        let slope = kernel.logWeightSlope(sigma2: sigma2, dimension: d)
        let unit = precision == .float32 && !forceDouble ? Double(Float.ulpOfOne) : Double.ulpOfOne
        let gemmErrorFactor = errorBoost * (4 + Double(d).squareRoot()) * unit
        let half = 1 / (2 * sigma2)
        let isGaussian = kernel == .gaussian
        typealias V = VectorMath.Vector
        let n8 = n & ~7
        points.storage.withUnsafeBufferPointer { aStore in
            squaredNorms.withUnsafeBufferPointer { an2p in
                let an2 = an2p.baseAddress!
                for i in r {
                    let xi = p.x + i * d
                    var vx2 = V(repeating: 0)
                    var j0 = 0
                    while j0 + 8 <= d {
                        let v = UnsafeRawPointer(xi + j0).loadUnaligned(as: V.self)
                        vx2 = vx2.addingProduct(v, v)
                        j0 += 8
                    }
                    var xn2 = vx2.sum()
                    while j0 < d { xn2 += xi[j0] * xi[j0]; j0 += 1 }
                    let sx2 = s * s * xn2
                    let w = p.w + i * n
                    let dots: UnsafeRawPointer = p.dotsF.map { UnsafeRawPointer($0 + i * n) } ?? UnsafeRawPointer(w)
                    let single = p.dotsF != nil
                    @inline(__always) func dot8(_ mu: Int) -> V {
                        single ? V(dots.loadUnaligned(fromByteOffset: mu * 4, as: SIMD8<Float>.self))
                               : dots.loadUnaligned(fromByteOffset: mu * 8, as: V.self)
                    }
                    @inline(__always) func dot1(_ mu: Int) -> Double {
                        single ? Double(dots.load(fromByteOffset: mu * 4, as: Float.self)) : dots.load(fromByteOffset: mu * 8, as: Double.self)
                    }
                    // Pass 1: log weights and their maximum.
                    var vmax = V(repeating: -.infinity)
                    var lmax = -Double.infinity
                    let base = V(repeating: sx2), twoS = V(repeating: -2 * s), zero = V(repeating: 0)
                    var mu = 0
                    if isGaussian {
                        let mh = V(repeating: -half)
                        while mu < n8 {
                            let a2 = UnsafeRawPointer(an2 + mu).loadUnaligned(as: V.self)
                            let raw = (base + a2).addingProduct(twoS, dot8(mu))
                            let d2 = raw.replacing(with: zero, where: raw .< zero)
                            let l = d2 * mh
                            UnsafeMutableRawPointer(w + mu).storeBytes(of: l, as: V.self)
                            vmax = vmax.replacing(with: l, where: l .> vmax)
                            mu += 8
                        }
                        lmax = vmax.max()
                        while mu < n {
                            let l = -max(0, sx2 - 2 * s * dot1(mu) + an2[mu]) * half
                            w[mu] = l
                            if l > lmax { lmax = l }
                            mu += 1
                        }
                    } else {
                        for mu in 0..<n {
                            let d2 = max(0, sx2 - 2 * s * dot1(mu) + an2[mu])
                            let l = kernel.logWeight(squaredDistance: d2, sigma2: sigma2, dimension: d)
                            w[mu] = l
                            if l > lmax { lmax = l }
                        }
                    }
                    // Cancellation guard: recompute near candidates with explicit differences.
                    let sxNorm = p.errorNorms?[i] ?? s * xn2.squareRoot()
                    let d2Error = gemmErrorFactor * (sxNorm * sxNorm + 2 * sxNorm * maxNorm + maxNorm * maxNorm)
                    let logError = slope * d2Error
                    if logError > cancellationTolerance {
                        let cut = lmax - (logWeightWindow + 2 * logError)
                        for mu in 0..<n where w[mu] > cut {
                            var d2 = 0.0
                            let b = mu * d
                            for j in 0..<d {
                                let diff = s * xi[j] - aStore[b + j]
                                d2 += diff * diff
                            }
                            w[mu] = kernel.logWeight(squaredDistance: d2, sigma2: sigma2, dimension: d)
                        }
                        lmax = -Double.infinity
                        for mu in 0..<n where w[mu] > lmax { lmax = w[mu] }
                    }
                    // Pass 2: exponentials and their sum.
                    let shift = V(repeating: lmax)
                    var vsum = V(repeating: 0)
                    mu = 0
                    while mu < n8 {
                        let e = VectorMath.exp(UnsafeRawPointer(w + mu).loadUnaligned(as: V.self) - shift)
                        UnsafeMutableRawPointer(w + mu).storeBytes(of: e, as: V.self)
                        vsum += e
                        mu += 8
                    }
                    var sum = vsum.sum()
                    while mu < n {
                        let e = VectorMath.exp(w[mu] - lmax)
                        w[mu] = e
                        sum += e
                        mu += 1
                    }
                    // Pass 3: normalise; Y2 and w_max (and the single-precision weights for the mean product).
                    let inv = 1 / sum
                    let vinv = V(repeating: inv)
                    var vy2 = V(repeating: 0), vw = V(repeating: 0)
                    let wf = p.dotsF.map { $0 + i * n }
                    mu = 0
                    while mu < n8 {
                        let v = UnsafeRawPointer(w + mu).loadUnaligned(as: V.self) * vinv
                        UnsafeMutableRawPointer(w + mu).storeBytes(of: v, as: V.self)
                        if let wf { UnsafeMutableRawPointer(wf + mu).storeBytes(of: SIMD8<Float>(v), as: SIMD8<Float>.self) }
                        vy2 = vy2.addingProduct(v, v)
                        vw = vw.replacing(with: v, where: v .> vw)
                        mu += 8
                    }
                    var y2 = vy2.sum(), wmax = vw.max()
                    while mu < n {
                        let v = w[mu] * inv
                        w[mu] = v
                        wf?[mu] = Float(v)
                        y2 += v * v
                        if v > wmax { wmax = v }
                        mu += 1
                    }
                    // argmax: the first index holding w_max (eight lanes at a time).
                    var best = 0
                    let vbest = V(repeating: wmax)
                    while best + 8 <= n && !any(UnsafeRawPointer(w + best).loadUnaligned(as: V.self) .== vbest) { best += 8 }
                    while best < n - 1 && w[best] != wmax { best += 1 }
                    p.lse[i] = lmax + Foundation.log(sum)
                    p.y2[i] = y2
                    p.wmax[i] = wmax
                    p.argmax[i] = best
                }
            }
        }
    }
}

/// Arithmetic of the engine's two matrix products (the softmax is always float64).
public enum Precision: String, Sendable, CaseIterable, Codable {
    /// Default: both products in double precision.
    case float64
    /// Both products in single precision (≈2× the speed): opt-in, error stated in `EmpiricalPosterior`.
    case float32
}

/// How `EmpiricalPosterior.evaluate(…, threads:)` uses the cores.
public enum ParallelStrategy: String, Sendable, CaseIterable {
    /// Fixed blocks of rows, each run end to end on one core (BLAS pinned to one thread).
    case rowBlocks
    /// Products BLAS-threaded over all rows, the softmax split by rows.
    case threadedBLAS
}

/// Single-precision scratch, kept in the workspace (allocated on first use, then reused).
final class FloatScratch {
    var x: [Float], dots: [Float], mean: [Float]
    init(capacity: Int, n: Int, d: Int) {
        x = Array(repeating: 0, count: capacity * d)
        dots = Array(repeating: 0, count: capacity * n)
        mean = Array(repeating: 0, count: capacity * d)
    }
}

/// Pointers to one evaluation's inputs and outputs; worker threads write disjoint rows.
struct RowPointers: @unchecked Sendable {
    var x: UnsafePointer<Double>
    var w: UnsafeMutablePointer<Double>
    var mean: UnsafeMutablePointer<Double>
    var lse: UnsafeMutablePointer<Double>
    var y2: UnsafeMutablePointer<Double>
    var wmax: UnsafeMutablePointer<Double>
    var argmax: UnsafeMutablePointer<Int>
    var classProb: UnsafeMutablePointer<Double>?
    var errorNorms: UnsafePointer<Double>?
    var xF: UnsafeMutablePointer<Float>?
    var dotsF: UnsafeMutablePointer<Float>?
    var meanF: UnsafeMutablePointer<Float>?
}

/// Hands a non-escaping closure to `concurrentPerform` (which waits for every iteration).
private final class UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
