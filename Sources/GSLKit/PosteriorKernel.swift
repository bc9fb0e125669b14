import CVectorKernels
import Dispatch
import Foundation

// The numerical core of the posterior engine: a log-sum-exp softmax over n components for a
// batch of particles, with its two matrix products. This file is the only place above the C
// modules where the engine touches raw pointers (the `PosteriorRows` handle below); everything
// it exposes takes and returns `Matrix` values and arrays. The physics (which kernel, which
// scale, what the weights mean) lives in DiffusionPhysics' `EmpiricalPosterior`
// (Docs/Engine.md).

/// Arithmetic of the engine's two matrix products (the softmax is always float64).
public enum Precision: String, Sendable, CaseIterable, Codable {
    /// Default: both products in double precision.
    case float64
    /// Both products in single precision (≈2× the speed): opt-in; the cancellation guard bounds
    /// the error of the log weights by `BatchedSoftmax.cancellationTolerance` (Docs/Engine.md).
    case float32
}

/// What an evaluation should produce beyond the weights and their summaries.
public struct PosteriorOutputs: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// The posterior mean m̂ = Σ_μ w_μ a_μ (the second matrix product). Samplers need it;
    /// forward-sampling estimators (Y2, f^e, φ) do not.
    public static let mean = PosteriorOutputs(rawValue: 1)
    /// Posterior class probabilities p_c = Σ_{μ ∈ c} w_μ.
    public static let classProbabilities = PosteriorOutputs(rawValue: 2)
    public static let all: PosteriorOutputs = [.mean, .classProbabilities]
}

/// How `BatchedSoftmax.evaluate(…, threads:)` uses the cores.
public enum ParallelStrategy: String, Sendable, CaseIterable {
    /// Fixed blocks of rows, each run end to end on one core (BLAS on one thread): results do
    /// not depend on the thread count.
    case rowBlocks
    /// Products BLAS-threaded over all rows, the softmax split by rows (OpenBLAS's threaded
    /// products differ from the serial ones in the last bits).
    case threadedBLAS
}

/// Reusable buffers for one batch of up to `capacity` particles: nothing is allocated per step.
///
/// After an evaluation, rows `0..<rows` hold, per particle: the normalised posterior weights
/// over the components (training points, or mixture components), their log-sum-exp, the
/// participation ratio Y2 = Σ w², w_max, argmax, ln P(x) (written by the model), and (if asked)
/// the posterior mean and class probabilities.
public final class PosteriorWorkspace {
    public let capacity: Int
    public let dimension: Int
    public let components: Int
    public let classes: Int
    /// capacity × components: posterior weights w_μ (rows sum to 1).
    public var weights: Matrix<Double>
    /// capacity × dimension: posterior mean m̂ = Σ_μ w_μ a_μ.
    public var mean: Matrix<Double>
    /// capacity × classes: p_c.
    public var classProbabilities: Matrix<Double>
    /// ln Σ_μ exp(ln k_μ) of the kernel log weights (before the model's normalisation).
    public var logSumExp: [Double]
    /// ln P(x): the normalised log density of the model at the particle (set by the model).
    public var logDensity: [Double]
    /// Y2 = Σ_μ w_μ².
    public var participationRatio: [Double]
    /// max_μ w_μ.
    public var maxWeight: [Double]
    /// argmax_μ w_μ (the first index holding the maximum).
    public var argmax: [Int]
    /// Single-precision scratch of the float32 products (allocated on first use).
    var floatX: [Float] = [], floatDots: [Float] = [], floatMean: [Float] = []

    public init(capacity: Int, dimension: Int, components: Int, classes: Int) {
        self.capacity = capacity
        self.dimension = dimension
        self.components = components
        self.classes = classes
        weights = Matrix(rows: capacity, columns: components)
        mean = Matrix(rows: capacity, columns: dimension)
        classProbabilities = Matrix(rows: capacity, columns: max(classes, 0))
        logSumExp = Array(repeating: 0, count: capacity)
        logDensity = Array(repeating: 0, count: capacity)
        participationRatio = Array(repeating: 0, count: capacity)
        maxWeight = Array(repeating: 0, count: capacity)
        argmax = Array(repeating: 0, count: capacity)
    }

    /// Weights of particle `row`.
    public func weights(row: Int) -> ArraySlice<Double> { weights.rowSlice(row) }

    fileprivate func ensureFloatScratch() {
        if floatDots.count != capacity * components {
            floatX = Array(repeating: 0, count: capacity * dimension)
            floatDots = Array(repeating: 0, count: capacity * components)
            floatMean = Array(repeating: 0, count: capacity * dimension)
        }
    }
}

/// The kernel as the engine needs it: ln k as a function of the squared distance d², and a bound
/// on its slope |∂ ln k/∂ d²| (which turns the rounding error of d² into an error of ln k).
public struct LogWeightRule: Sendable {
    public enum Form: Sendable {
        /// ln k = −d²/(2σ²): the vectorised fast path.
        case gaussian(sigma2: Double)
        /// Any other kernel, evaluated element by element.
        case general(@Sendable (Double) -> Double)
    }
    public let form: Form
    public let slope: Double

    public init(form: Form, slope: Double) {
        self.form = form
        self.slope = slope
    }

    /// ln k(d²).
    @inlinable public func callAsFunction(_ d2: Double) -> Double {
        switch form {
        case .gaussian(let sigma2): return -d2 / (2 * sigma2)
        case .general(let f): return f(d2)
        }
    }
}

/// Where the inner products x_i·a_μ of an evaluation come from.
public enum InnerProducts: Sendable {
    /// The engine computes them (one GEMM, in the engine's precision).
    case compute
    /// Supplied as `firstScale·first + secondScale·second` (rows × n each, float64), e.g.
    /// e^{−t} B·Aᵀ + √Δ_t Z·Aᵀ for forward samples x = b e^{−t} + √Δ_t z with common noise.
    /// `errorNorms[i]` replaces s|x_i| in the cancellation bound (the rounding of an assembled
    /// product scales with its parts' norms).
    case combination(first: Matrix<Double>, firstScale: Double, second: Matrix<Double>, secondScale: Double,
                     errorNorms: [Double])
}

/// Softmax over n components of a batch of particles, with its two products (Docs/Engine.md):
///
///     d²_iμ = |s x_i − c a_μ|² = s²|x_i|² − 2 s c x_i·a_μ + c²|a_μ|²   (one GEMM for all x_i·a_μ)
///     ln k_iμ = rule(d²_iμ),  w_iμ = exp(ln k_iμ − max) / Σ_ν exp(ln k_iν − max)   (log-sum-exp)
///     m̂_i = Σ_μ w_iμ a_μ                                 (a second GEMM)
///
/// `s` scales the particles and `c` (`pointScale`, default 1) the components. The diffusion
/// score passes s = 1, c = e^{−t}, σ² = Δ_t (the x variables of Docs/Theory.md §1.1), which stays
/// finite for every t > 0, where the VE form s = eᵗ, σ² = e^{2t} − 1 overflows for t ≳ 355.
///
/// Small-distance guard: the GEMM form cancels when s·x ≈ c·a_μ; its absolute error in d² is
/// bounded by k·ε·(s²|x|² + 2s|x|·c max|a| + c² max|a|²). When that bound, times the rule's slope,
/// exceeds `cancellationTolerance` in ln k, every candidate within `logWeightWindow` (+ twice the
/// bound) of the largest log weight is recomputed with explicit differences. Far candidates
/// carry weight < e^{−window} and cannot matter.
///
/// The softmax passes run in C (`CVectorKernels`), compiled for AVX-512, AVX2 + FMA and the
/// baseline and chosen at run time.
public final class BatchedSoftmax: Sendable {
    /// Components a_μ, n × d.
    public let points: Matrix<Double>
    /// |a_μ|².
    public let squaredNorms: [Double]
    public let precision: Precision
    /// Log-weight error above which near candidates are recomputed exactly.
    public let cancellationTolerance: Double
    /// Log-weight window below the maximum within which candidates are recomputed.
    public let logWeightWindow: Double
    /// Class index (0..<classCount) of each component, or nil.
    public let classIndex: [Int]?
    public let classCount: Int
    private let maxNorm: Double
    private let pointsF: [Float]
    /// Maximal runs of equal class (nil: scattered labels).
    private let classRuns: [ClassRun]?
    /// classCount × n indicators 1[class μ = c] when labels are scattered and classes few (≤ 8).
    private let classIndicators: [Double]?

    public var n: Int { points.rows }
    public var d: Int { points.columns }
    /// True when class probabilities are summed over contiguous runs of equal class (the fast
    /// path for data grouped by class).
    public var usesClassRuns: Bool { classRuns != nil }

    /// `cancellationTolerance` defaults to 1e-10 (float64) or 1e-2 (float32) in log weight.
    /// The caller validates the points (finite, n, d ≥ 1) and class indices (0..<classCount).
    public init(points: Matrix<Double>, classIndex: [Int]?, classCount: Int, precision: Precision = .float64,
                cancellationTolerance: Double? = nil, logWeightWindow: Double = 60) {
        self.points = points
        self.precision = precision
        self.cancellationTolerance = cancellationTolerance ?? (precision == .float64 ? 1e-10 : 1e-2)
        self.logWeightWindow = logWeightWindow
        self.classIndex = classIndex
        self.classCount = classCount
        squaredNorms = points.rowSquaredNorms()
        maxNorm = squaredNorms.max().map { $0.squareRoot() } ?? 0
        pointsF = precision == .float32 ? points.storage.map(Float.init) : []
        classRuns = BatchedSoftmax.runs(classIndex)
        if classRuns == nil, let classIndex, classCount <= 8 {
            var ind = [Double](repeating: 0, count: classCount * points.rows)
            for (mu, c) in classIndex.enumerated() { ind[c * points.rows + mu] = 1 }
            classIndicators = ind
        } else {
            classIndicators = nil
        }
    }

    struct ClassRun: Sendable { var start: Int, end: Int, classIndex: Int }

    /// Runs of equal class index, when there are few (datasets are usually grouped by class).
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

    /// Evaluates rows 0..<rows of `x` at y = scale·x: weights, log-sum-exp, Y2, w_max and argmax;
    /// the mean and class probabilities if asked.
    ///
    /// `threads > 1` runs on that many workers. `.rowBlocks`: rows are cut into blocks of
    /// `blockRows` (boundaries independent of the thread count), each run product → softmax →
    /// product on one worker: results do not depend on `threads` (one worker runs the whole batch as
    /// one block, bit-identical to the blocks). `.threadedBLAS`: both products
    /// over all rows with `threads` BLAS threads, the softmax split by rows. Supplied products
    /// (`.combination`) are float64 whatever the engine's precision.
    public func evaluate(_ x: Matrix<Double>, rows: Int, scale s: Double, pointScale c: Double = 1, rule: LogWeightRule,
                         workspace ws: PosteriorWorkspace, outputs: PosteriorOutputs,
                         products: InnerProducts = .compute, threads: Int = 1,
                         strategy: ParallelStrategy = .rowBlocks, blockRows: Int = 64) {
        precondition(x.columns == d && rows <= ws.capacity && rows <= x.rows,
                     "BatchedSoftmax: batch \(rows) of \(x.rows)×\(x.columns), workspace \(ws.capacity), d = \(d)")
        precondition(ws.components == n && ws.dimension == d, "BatchedSoftmax: workspace built for another model")
        precondition(threads >= 1 && blockRows >= 1, "BatchedSoftmax: threads and blockRows must be ≥ 1")
        precondition(s.isFinite && c.isFinite && c >= 0, "BatchedSoftmax: scales must be finite (s = \(s), c = \(c))")
        if rows == 0 { return }
        Threads.pinBLAS()
        var supplied: (Matrix<Double>, Double, Matrix<Double>, Double, [Double])? = nil
        if case .combination(let g, let a, let z, let b, let norms) = products {
            precondition(g.columns == n && z.columns == n && g.rows >= rows && z.rows >= rows && norms.count >= rows,
                         "BatchedSoftmax: supplied products have the wrong shape")
            supplied = (g, a, z, b, norms)
        }
        let single = precision == .float32 && supplied == nil
        if single { ws.ensureFloatScratch() }
        let wantClasses = outputs.contains(.classProbabilities) && classIndex != nil && ws.classes == classCount
        let blocks = (rows + blockRows - 1) / blockRows
        let block: (Int) -> Range<Int> = { b in (b * blockRows)..<min(rows, (b + 1) * blockRows) }
        let empty = Matrix<Double>(rows: 0, columns: n)
        let (g, ga, z, zb, norms) = supplied ?? (empty, 0, empty, 0, [])
        PosteriorRows.with(x, ws, single: single, classes: wantClasses, first: g, second: z, errorNorms: norms) { p in
            let phases = Phases(engine: self, rows: p, scale: s, rule: rule, outputs: outputs, pointScale: c,
                                scaledNorms: c == 1 ? nil : squaredNorms.map { c * c * $0 },
                                supplied: supplied != nil, firstScale: ga, secondScale: zb)
            if strategy == .threadedBLAS && threads > 1 && supplied == nil {
                Threads.withBLASThreads(threads) { phases.product(0..<rows) }
                BatchedSoftmax.forEach(blocks, workers: threads) { b in phases.softmax(block(b)) }
                Threads.withBLASThreads(threads) { phases.finish(0..<rows) }
            } else if min(threads, blocks) == 1 {
                // One worker: the whole batch in one product, one softmax pass and one mean
                // product. Per-block BLAS calls would repack the n × d points once per block
                // (B = 256, n = 10⁴, d = 784: four blocks of 64 cost 1.3× one call on one core).
                // BLAS accumulates every element of C in the same k-order whatever the rows of the
                // call, so this equals the blocked run bit for bit (EngineTests.testThreadOwnership).
                phases.product(0..<rows)
                phases.softmax(0..<rows)
                phases.finish(0..<rows)
            } else {
                BatchedSoftmax.forEach(blocks, workers: threads) { b in
                    let r = block(b)
                    phases.product(r)
                    phases.softmax(r)
                    phases.finish(r)
                }
            }
        }
    }

    /// ln w_iμ_i for one chosen component per row, after `evaluate` of the same rows:
    /// ln w = ln k(|s x_i − a_μ|²) − LSE_i with the squared distance by explicit differences, so
    /// the value is exact where w itself underflows (f^e = −(1/d) E[ln w_origin] stays finite).
    /// Capped at 0 (ln w ≤ 0 exactly; the LSE carries the products' rounding, ≤ the guard's tolerance).
    public func logWeights(_ x: Matrix<Double>, rows: Int, scale s: Double, pointScale c: Double = 1, rule: LogWeightRule,
                           components: [Int], workspace ws: PosteriorWorkspace) -> [Double] {
        precondition(components.count >= rows && x.columns == d, "BatchedSoftmax.logWeights: shapes")
        return (0..<rows).map { i in
            min(0, rule(exactSquaredDistance(x, row: i, scale: s, pointScale: c, component: components[i])) - ws.logSumExp[i])
        }
    }

    /// |s·x_i − c·a_μ|² by explicit differences.
    public func exactSquaredDistance(_ x: Matrix<Double>, row i: Int, scale s: Double, pointScale c: Double = 1,
                                     component mu: Int) -> Double {
        let d = self.d
        var d2 = 0.0
        for j in 0..<d {
            let u = s * x.storage[i * d + j] - c * points.storage[mu * d + j]
            d2 += u * u
        }
        return d2
    }

    /// rows × n squared distances |s·x_i − a_μ|² by explicit differences (exact; for single
    /// points and small batches: O(rows·n·d) scalar work).
    public func squaredDistances(_ x: Matrix<Double>, rows: Int, scale s: Double, pointScale c: Double = 1) -> Matrix<Double> {
        var out = Matrix<Double>(rows: rows, columns: n)
        for i in 0..<rows {
            for mu in 0..<n { out.storage[i * n + mu] = exactSquaredDistance(x, row: i, scale: s, pointScale: c, component: mu) }
        }
        return out
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

    fileprivate func withPoints<R>(_ body: (UnsafePointer<Double>) -> R) -> R {
        points.storage.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
    fileprivate func withPointsF<R>(_ body: (UnsafePointer<Float>) -> R) -> R {
        pointsF.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
    fileprivate func withSquaredNorms<R>(_ body: (UnsafePointer<Double>) -> R) -> R {
        squaredNorms.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
    fileprivate var runs: [ClassRun]? { classRuns }
    fileprivate var indicators: [Double]? { classIndicators }
    fileprivate var largestNorm: Double { maxNorm }
}

/// Vectorised elementary functions (the engine's exp, for callers and tests).
public enum VectorMath {
    /// eˣ element by element through the engine's polynomial: ≤ 2 ulp on [−708, 709]; inputs
    /// below −708 flush to 0; NaN propagates.
    public static func exp(_ x: [Double]) -> [Double] {
        var out = [Double](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xs in
            out.withUnsafeMutableBufferPointer { o in
                if let xb = xs.baseAddress, let ob = o.baseAddress { vk_exp(xb, ob, x.count) }
            }
        }
        return out
    }

    /// The instruction set the vector kernels run on here: "avx512", "avx2+fma" or "baseline".
    public static var instructionSet: String {
        switch vk_instruction_level() {
        case 2: return "avx512"
        case 1: return "avx2+fma"
        default: return "baseline"
        }
    }
}

// MARK: - The sealed pointer handle

/// Pointers to one evaluation's inputs and outputs, taken once on the calling thread; workers
/// then read shared inputs and write disjoint rows through them.
private struct PosteriorRows: @unchecked Sendable {
    var x: UnsafePointer<Double>
    var w: UnsafeMutablePointer<Double>
    var mean: UnsafeMutablePointer<Double>
    var lse: UnsafeMutablePointer<Double>
    var y2: UnsafeMutablePointer<Double>
    var wmax: UnsafeMutablePointer<Double>
    var argmax: UnsafeMutablePointer<Int>
    var classProb: UnsafeMutablePointer<Double>?
    var first: UnsafePointer<Double>?
    var second: UnsafePointer<Double>?
    var errorNorms: UnsafePointer<Double>?
    var xF: UnsafeMutablePointer<Float>?
    var dotsF: UnsafeMutablePointer<Float>?
    var meanF: UnsafeMutablePointer<Float>?

    static func with<R>(_ x: Matrix<Double>, _ ws: PosteriorWorkspace, single: Bool, classes: Bool,
                        first: Matrix<Double>, second: Matrix<Double>, errorNorms: [Double],
                        _ body: (PosteriorRows) -> R) -> R {
        x.storage.withUnsafeBufferPointer { xs in
        ws.weights.storage.withUnsafeMutableBufferPointer { w in
        ws.mean.storage.withUnsafeMutableBufferPointer { mean in
        ws.classProbabilities.storage.withUnsafeMutableBufferPointer { cp in
        ws.logSumExp.withUnsafeMutableBufferPointer { lse in
        ws.participationRatio.withUnsafeMutableBufferPointer { y2 in
        ws.maxWeight.withUnsafeMutableBufferPointer { wmax in
        ws.argmax.withUnsafeMutableBufferPointer { am in
        first.storage.withUnsafeBufferPointer { g in
        second.storage.withUnsafeBufferPointer { z in
        errorNorms.withUnsafeBufferPointer { en in
            var p = PosteriorRows(x: xs.baseAddress!, w: w.baseAddress!, mean: mean.baseAddress!, lse: lse.baseAddress!,
                                  y2: y2.baseAddress!, wmax: wmax.baseAddress!, argmax: am.baseAddress!,
                                  classProb: classes ? cp.baseAddress : nil,
                                  first: g.baseAddress, second: z.baseAddress,
                                  errorNorms: errorNorms.isEmpty ? nil : en.baseAddress,
                                  xF: nil, dotsF: nil, meanF: nil)
            guard single else { return body(p) }
            return ws.floatX.withUnsafeMutableBufferPointer { xf in
                ws.floatDots.withUnsafeMutableBufferPointer { df in
                    ws.floatMean.withUnsafeMutableBufferPointer { mf in
                        p.xF = xf.baseAddress; p.dotsF = df.baseAddress; p.meanF = mf.baseAddress
                        return body(p)
                    }
                }
            }
        }}}}}}}}}}}
    }
}

/// The three phases of one evaluation over a range of rows.
private struct Phases: @unchecked Sendable {
    let engine: BatchedSoftmax
    let rows: PosteriorRows
    let scale: Double, rule: LogWeightRule, outputs: PosteriorOutputs
    /// c of d² = |s x − c a|², and c²|a_μ|² when c ≠ 1 (nil: the stored |a_μ|²).
    let pointScale: Double, scaledNorms: [Double]?
    /// Supplied products: first·firstScale + second·secondScale.
    let supplied: Bool, firstScale: Double, secondScale: Double

    /// Phase 1: the inner products x_i·a_μ of rows `r` (into the weights, or `dotsF` in single
    /// precision), or the supplied linear combination.
    func product(_ r: Range<Int>) {
        let m = r.count, n = engine.n, d = engine.d, p = rows
        if m == 0 { return }
        if supplied, let g = p.first, let z = p.second {
            let o = r.lowerBound * n
            vk_linear_combination(g + o, firstScale, z + o, secondScale, p.w + o, m * n)
        } else if let xF = p.xF, let dotsF = p.dotsF {
            for k in (r.lowerBound * d)..<(r.upperBound * d) { xF[k] = Float(p.x[k]) }
            engine.withPointsF { a in
                gemm(transposeA: false, transposeB: true, m: m, n: n, k: d, alpha: 1, a: xF + r.lowerBound * d, lda: d,
                           b: a, ldb: d, beta: 0, c: dotsF + r.lowerBound * n, ldc: n)
            }
        } else {
            engine.withPoints { a in
                gemm(transposeA: false, transposeB: true, m: m, n: n, k: d, alpha: 1, a: p.x + r.lowerBound * d, lda: d,
                            b: a, ldb: d, beta: 0, c: p.w + r.lowerBound * n, ldc: n)
            }
        }
    }

    /// |a_μ|² scaled by c² (the stored norms when c = 1).
    private func withNorms<R>(_ body: (UnsafePointer<Double>) -> R) -> R {
        guard let scaledNorms else { return engine.withSquaredNorms(body) }
        return scaledNorms.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// Phase 2: log weights from the inner products, the cancellation guard, and the normalised
    /// softmax with its summaries, row by row in cache.
    func softmax(_ r: Range<Int>) {
        let n = engine.n, d = engine.d, p = rows, s = scale, c = pointScale
        // Rounding unit of the products, and twice the bound for supplied (assembled) ones.
        let unit = p.dotsF != nil ? Double(Float.ulpOfOne) : Double.ulpOfOne
        let gemmErrorFactor = (supplied ? 2 : 1) * (4 + Double(d).squareRoot()) * unit
        let maxNorm = c * engine.largestNorm
        withNorms { an2 in
            engine.withPoints { a in
                for i in r {
                    let xi = p.x + i * d
                    let xn2 = vk_dot(xi, xi, d)
                    let sx2 = s * s * xn2
                    let w = p.w + i * n
                    let dotsF: UnsafePointer<Float>? = p.dotsF.map { UnsafePointer($0 + i * n) }
                    var lmax: Double
                    switch rule.form {
                    case .gaussian(let sigma2):
                        lmax = vk_gaussian_log_weights(w, dotsF, an2, n, sx2, s * c, 1 / (2 * sigma2), w)
                    case .general(let f):
                        vk_squared_distances(w, dotsF, an2, n, sx2, s * c, w)
                        lmax = -.infinity
                        for mu in 0..<n {
                            let l = f(w[mu])
                            w[mu] = l
                            if l > lmax { lmax = l }
                        }
                    }
                    // Cancellation guard: recompute near candidates with explicit differences.
                    let sxNorm = p.errorNorms?[i] ?? s * xn2.squareRoot()
                    let d2Error = gemmErrorFactor * (sxNorm * sxNorm + 2 * sxNorm * maxNorm + maxNorm * maxNorm)
                    let logError = rule.slope * d2Error
                    if logError > engine.cancellationTolerance {
                        let cut = lmax - (engine.logWeightWindow + 2 * logError)
                        for mu in 0..<n where w[mu] > cut {
                            var d2 = 0.0
                            let b = a + mu * d
                            for j in 0..<d {
                                let u = s * xi[j] - c * b[j]
                                d2 += u * u
                            }
                            w[mu] = rule(d2)
                        }
                        lmax = vk_max(w, n)
                    }
                    let sum = vk_exp_shifted_sum(w, n, lmax)
                    var y2 = 0.0, wmax = 0.0, best = 0
                    vk_normalise(w, p.dotsF.map { $0 + i * n }, n, 1 / sum, &y2, &wmax, &best)
                    p.lse[i] = lmax + Foundation.log(sum)
                    p.y2[i] = y2
                    p.wmax[i] = wmax
                    p.argmax[i] = best
                }
            }
        }
    }

    /// Phase 3: the posterior mean (second product) and class probabilities of rows `r`.
    func finish(_ r: Range<Int>) {
        let m = r.count, n = engine.n, d = engine.d, p = rows
        if m == 0 { return }
        if outputs.contains(.mean) {
            if let dotsF = p.dotsF, let meanF = p.meanF {
                engine.withPointsF { a in
                    gemm(transposeA: false, transposeB: false, m: m, n: d, k: n, alpha: 1, a: dotsF + r.lowerBound * n, lda: n,
                               b: a, ldb: d, beta: 0, c: meanF + r.lowerBound * d, ldc: d)
                }
                for k in (r.lowerBound * d)..<(r.upperBound * d) { p.mean[k] = Double(meanF[k]) }
            } else {
                engine.withPoints { a in
                    gemm(transposeA: false, transposeB: false, m: m, n: d, k: n, alpha: 1, a: p.w + r.lowerBound * n, lda: n,
                                b: a, ldb: d, beta: 0, c: p.mean + r.lowerBound * d, ldc: d)
                }
            }
        }
        guard let cp = p.classProb, let classIndex = engine.classIndex else { return }
        let c = engine.classCount
        if let runs = engine.runs {
            // Classes stored in contiguous runs: vector sums over each run.
            for i in r {
                let out = cp + i * c, w = p.w + i * n
                for k in 0..<c { out[k] = 0 }
                for run in runs { out[run.classIndex] += vk_sum(w + run.start, run.end - run.start) }
            }
        } else if let indicators = engine.indicators {
            // Scattered labels, few classes: p_c = Σ_μ w_μ 1[class μ = c].
            indicators.withUnsafeBufferPointer { ind in
                for i in r { for k in 0..<c { cp[i * c + k] = vk_dot(p.w + i * n, ind.baseAddress! + k * n, n) } }
            }
        } else {
            classIndex.withUnsafeBufferPointer { ci in
                for i in r {
                    let out = cp + i * c, w = p.w + i * n
                    for k in 0..<c { out[k] = 0 }
                    for mu in 0..<n { out[ci[mu]] += w[mu] }
                }
            }
        }
    }
}

/// Hands a non-escaping closure to `concurrentPerform` (which waits for every iteration).
private final class UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
