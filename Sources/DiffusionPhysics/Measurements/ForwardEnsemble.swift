import Foundation
import GSLKit

/// The law a forward ensemble is noised under, and how its noise level is named.
public enum ForwardModel: Sendable {
    /// A diffusion model at forward time t: x = b e^{−t} + √Δ_t ξ (Docs/Theory.md §0).
    case diffusion(any ScoreModel)
    /// An exact-empirical PFGM++ / diffusion model at VE level σ: x = b + σ u, u drawn from the
    /// model's perturbation kernel at σ = 1 (Docs/PoissonFlow.md §3.2; a scale family in σ).
    case poissonFlow(PoissonFlowModel)

    var dimension: Int {
        switch self {
        case .diffusion(let m): return m.dimension
        case .poissonFlow(let m): return m.dimension
        }
    }
    var classCount: Int {
        switch self {
        case .diffusion(let m): return m.classCount
        case .poissonFlow(let m): return m.classCount
        }
    }
    var componentClasses: [Int]? {
        switch self {
        case .diffusion(let m): return m.componentClasses
        case .poissonFlow(let m): return m.posterior.classIndex
        }
    }
    /// The empirical engine when the model has one (the common-noise fast path and exact ln w need it).
    var posterior: EmpiricalPosterior? {
        switch self {
        case .diffusion(let m): return (m as? EmpiricalScore)?.posterior
        case .poissonFlow(let m): return m.posterior
        }
    }
    func makeWorkspace(capacity: Int) -> PosteriorWorkspace {
        switch self {
        case .diffusion(let m): return m.makeWorkspace(capacity: capacity)
        case .poissonFlow(let m): return m.makeWorkspace(capacity: capacity)
        }
    }

    /// x = decay·b + spread·u at `level`; the engine compares scale·x with pointScale·a_μ at
    /// variance sigma2 (diffusion: x against e^{−t} a_μ at Δ_t, finite at every t, as `EmpiricalScore`).
    struct Level { var value, decay, spread, scale, pointScale, sigma2: Double }

    func level(_ value: Double) throws -> Level {
        switch self {
        case .diffusion:
            try validateTime(value)
            let delta = ForwardProcess.delta(value)
            return Level(value: value, decay: exp(-value), spread: delta.squareRoot(),
                         scale: 1, pointScale: exp(-value), sigma2: delta)
        case .poissonFlow:
            guard value > 0, value.isFinite else { throw ModelError("σ must be finite and > 0, got \(value)") }
            return Level(value: value, decay: 1, spread: value, scale: 1, pointScale: 1, sigma2: value * value)
        }
    }

    func evaluate(_ x: Matrix<Double>, rows: Int, level: Level, workspace: PosteriorWorkspace,
                  outputs: PosteriorOutputs) throws {
        switch self {
        case .diffusion(let m): try m.evaluate(x, rows: rows, t: level.value, workspace: workspace, outputs: outputs)
        case .poissonFlow(let m): try m.evaluate(x, rows: rows, sigma: level.value, workspace: workspace, outputs: outputs)
        }
    }
}

/// Where the forward samples start: a set of origin points and, for sample i, the draw of its
/// origin row and its unit noise from its own random stream (so results do not depend on
/// chunking or threads, and every level sees the same draws: common random numbers).
public struct OriginDraws: Sendable {
    /// Candidate origins b (rows).
    public let points: Matrix<Double>
    /// The model's posterior component of each row (planted origins), or nil.
    public let components: [Int]?
    /// The class index of each row (its origin class c0), or nil.
    public let classes: [Int]?
    /// Draws sample i's origin row and fills its unit noise (d values).
    let draw: @Sendable (_ seed: UInt64, _ index: Int, _ noise: inout [Double], _ offset: Int) -> Int

    public init(points: Matrix<Double>, components: [Int]?, classes: [Int]?,
                draw: @escaping @Sendable (_ seed: UInt64, _ index: Int, _ noise: inout [Double], _ offset: Int) -> Int) {
        self.points = points
        self.components = components
        self.classes = classes
        self.draw = draw
    }

    /// The planted ensemble: μ0 uniform over the training points, ξ Gaussian; sample i from stream
    /// (seed, i, `.forward`) — exactly a sample of P_t^e (Docs/Theory.md §3.3).
    public static func planted(_ posterior: EmpiricalPosterior) -> OriginDraws {
        let n = posterior.n
        return OriginDraws(points: posterior.points, components: Array(0..<n), classes: posterior.classIndex) { seed, i, noise, offset in
            let rng = RandomStream(seed: seed, stream: UInt64(i), domain: .forward)
            let origin = rng.uniformInt(n)
            rng.fillGaussian(&noise, offset..<(offset + posterior.d))
            return origin
        }
    }

    /// Non-planted origins: rows of `points` (not training points), drawn uniformly, stream
    /// (seed, i, `.forward`); `labels` (in the training data's label values) give origin classes.
    public static func fresh(_ points: Matrix<Double>, labels: [Int]?, of posterior: EmpiricalPosterior) throws -> OriginDraws {
        let d = posterior.d
        guard points.columns == d, points.rows >= 1 else { throw ModelError("fresh points must be a non-empty set of \(d)-dimensional rows") }
        guard points.storage.allSatisfy({ $0.isFinite }) else { throw ModelError("fresh points contain NaN or infinity") }
        var classes: [Int]? = nil
        if let labels {
            guard labels.count == points.rows else { throw ModelError("\(labels.count) labels for \(points.rows) fresh points") }
            let known = posterior.classLabels
            classes = try labels.map { l in
                guard let c = known.firstIndex(of: l) else { throw ModelError("fresh label \(l) is not a class of the training data") }
                return c
            }
        }
        let rows = points.rows
        return OriginDraws(points: points, components: nil, classes: classes) { seed, i, noise, offset in
            let rng = RandomStream(seed: seed, stream: UInt64(i), domain: .forward)
            let origin = rng.uniformInt(rows)
            rng.fillGaussian(&noise, offset..<(offset + d))
            return origin
        }
    }

    /// U-turn origins (training points or population draws, each with its component) with the
    /// classes of `model`'s components; stream (seed, i, `.uTurn`) as `UTurnOrigins.draw`.
    public static func listed(_ origins: UTurnOrigins, componentClasses: [Int]?) -> OriginDraws {
        let d = origins.points.columns, rows = origins.points.rows, uniform = origins.uniform
        let classes = componentClasses.map { cc in origins.components.map { cc[$0] } }
        return OriginDraws(points: origins.points, components: origins.components, classes: classes) { seed, i, noise, offset in
            let rng = RandomStream(seed: seed, stream: UInt64(i), domain: .uTurn)
            let origin = uniform ? rng.uniformInt(rows) : i
            rng.fillGaussian(&noise, offset..<(offset + d))
            return origin
        }
    }

    /// PFGM++ marginal: μ0 uniform, u from the perturbation kernel at σ = 1 (x_σ = a_μ0 + σ u),
    /// stream (seed, i, `.poissonMarginal`) as `PoissonFlowModel.samplePrior`.
    public static func poissonMarginal(_ model: PoissonFlowModel) -> OriginDraws {
        let n = model.count, N = model.dimension
        return OriginDraws(points: model.points, components: Array(0..<n), classes: model.posterior.classIndex) { seed, i, noise, offset in
            let rng = RandomStream(seed: seed, stream: UInt64(i), domain: .poissonMarginal)
            let origin = rng.uniformInt(n)
            for j in 0..<N { noise[offset + j] = 0 }
            model.drawNoise(sigma: 1, method: .chiSquared, rng: rng, into: &noise, at: offset)
            return origin
        }
    }
}

/// Per-sample statistics a forward ensemble can record.
public struct ForwardStatistics: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// Planted origins: w_μ0, ln w_μ0 (exact, from the squared distance) and 1{argmax = μ0}.
    public static let origin = ForwardStatistics(rawValue: 1)
    /// Known origin classes: Σ_c p_c² and p_{c0}.
    public static let classes = ForwardStatistics(rawValue: 2)
    public static let all: ForwardStatistics = [.origin, .classes]
}

/// One forward ensemble: samples x_i(level) = decay·b_i + spread·u_i of `origins`, evaluated by
/// `model` at every level, with the per-sample statistics wanted (Docs/Theory.md §2.2, §3.3–3.4).
///
/// Every estimator that noises points forward and reads the posterior — E[Y2], E[w_origin], f^e,
/// the forward commitment fraction, the Rao–Blackwellised φ, PFGM++ collapse levels — is this
/// loop with a choice of model, origins and statistics.
///
/// Common noise (default): every level uses the same b_i and u_i. With the empirical engine the
/// two products B·Aᵀ and U·Aᵀ are then computed once per chunk, and each level's inner products
/// are decay·(B·Aᵀ) + spread·(U·Aᵀ): an extra level costs O(B·n), not O(B·n·d). With
/// `commonNoise = false` (or a model without the engine) each level builds x and runs the full
/// evaluation: the straightforward protocol, equal up to rounding.
public struct ForwardEnsemble: Sendable {
    public var model: ForwardModel
    public var origins: OriginDraws
    public var statistics: ForwardStatistics
    public var commonNoise: Bool
    public var threads: Int
    public var chunkSize: Int

    public init(model: ForwardModel, origins: OriginDraws, statistics: ForwardStatistics = .all,
                commonNoise: Bool = true, threads: Int = Parallel.defaultThreads,
                chunkSize: Int = Parallel.defaultChunkSize) throws {
        guard origins.points.columns == model.dimension else {
            throw ModelError("origins have d = \(origins.points.columns) but the model has d = \(model.dimension)")
        }
        (self.model, self.origins, self.statistics) = (model, origins, statistics)
        (self.commonNoise, self.threads, self.chunkSize) = (commonNoise, threads, chunkSize)
    }

    /// One sample's values at one level.
    struct Row {
        var y2, wmax: Double
        var wOrigin = Double.nan, lnW = Double.nan, isMax = Double.nan
        var agree = Double.nan, keep = Double.nan
    }

    /// Per-sample values at every level (in sample order), from `samples` draws of seed `seed`.
    public func sampleValues(levels: [Double], samples: Int, seed: UInt64,
                             progress: ProgressReporter? = nil) throws -> [ForwardSampleValues] {
        guard samples >= 2 else { throw ModelError("need at least 2 forward samples, got \(samples)") }
        let target = self.model, chunkSize = self.chunkSize
        var lv: [ForwardModel.Level] = []
        for value in levels { lv.append(try target.level(value)) }
        let d = target.dimension, n = target.posterior?.n ?? 0
        let fast = commonNoise ? target.posterior : nil
        // chunks[c][k][r]: chunk c, level k, row r.
        let chunks = try Parallel.mapChunks(count: samples, chunkSize: chunkSize, threads: threads,
                                            makeWorkspace: { EnsembleBuffers(model: target, capacity: chunkSize, d: d, n: fast == nil ? 0 : n) }) { buf, range in
            let rows = try self.chunk(range, levels: lv, seed: seed, buffers: buf, fast: fast)
            progress?.advance(range.count)
            return rows
        }
        let planted = plantedStatistics, withClasses = classStatistics
        return lv.enumerated().map { k, level in
            let rows = chunks.flatMap { $0[k] }
            return ForwardSampleValues(
                t: level.value, dimension: d, y2: rows.map(\.y2), maxWeight: rows.map(\.wmax),
                wOrigin: planted ? rows.map(\.wOrigin) : nil, logWOrigin: planted ? rows.map(\.lnW) : nil,
                argmaxIsOrigin: planted ? rows.map(\.isMax) : nil,
                classAgreement: withClasses ? rows.map(\.agree) : nil,
                originClassProbability: withClasses ? rows.map(\.keep) : nil)
        }
    }
}

extension ForwardEnsemble {
    var plantedStatistics: Bool { statistics.contains(.origin) && origins.components != nil }
    var classStatistics: Bool { statistics.contains(.classes) && model.classCount > 0 && origins.classes != nil }

    /// One chunk of samples at every level.
    func chunk(_ range: Range<Int>, levels: [ForwardModel.Level], seed: UInt64, buffers buf: EnsembleBuffers,
               fast: EmpiricalPosterior?) throws -> [[Row]] {
        let d = model.dimension, b = range.count
        let planted = plantedStatistics, withClasses = classStatistics
        let outputs: PosteriorOutputs = withClasses ? .classProbabilities : []
        var originRow = [Int](repeating: 0, count: b)
        for (r, i) in range.enumerated() {
            originRow[r] = origins.draw(seed, i, &buf.noise.storage, r * d)
            buf.origin.setRow(r, origins.points.rowSlice(originRow[r]))
        }
        let components: [Int] = origins.components.map { c in originRow.map { c[$0] } } ?? []
        if let fast {
            BLAS.multiplyTransposed(buf.origin, fast.points, into: &buf.originDots, aRows: b)
            BLAS.multiplyTransposed(buf.noise, fast.points, into: &buf.noiseDots, aRows: b)
            for r in 0..<b {
                buf.originNorm[r] = buf.origin.rowSlice(r).reduce(0) { $0 + $1 * $1 }.squareRoot()
                buf.noiseNorm[r] = buf.noise.rowSlice(r).reduce(0) { $0 + $1 * $1 }.squareRoot()
            }
        }
        let ws = buf.workspace
        var perLevel: [[Row]] = []
        perLevel.reserveCapacity(levels.count)
        for level in levels {
            for k in 0..<(b * d) { buf.x.storage[k] = buf.origin.storage[k] * level.decay + level.spread * buf.noise.storage[k] }
            if let fast {
                // s·|x| ≤ s·decay|b| + s·spread|u|: the scale of the rounding of the assembled products.
                var norms = [Double](repeating: 0, count: b)
                for r in 0..<b { norms[r] = level.scale * (level.decay * buf.originNorm[r] + level.spread * buf.noiseNorm[r]) }
                fast.evaluate(buf.x, rows: b, scale: level.scale, pointScale: level.pointScale, sigma2: level.sigma2, workspace: ws, outputs: outputs,
                              products: .combination(first: buf.originDots, firstScale: level.decay,
                                                     second: buf.noiseDots, secondScale: level.spread, errorNorms: norms))
            } else {
                try model.evaluate(buf.x, rows: b, level: level, workspace: ws, outputs: outputs)
            }
            var logW: [Double] = []
            if planted, let exact = model.posterior {
                logW = exact.logWeights(buf.x, rows: b, scale: level.scale, pointScale: level.pointScale, sigma2: level.sigma2, components: components, workspace: ws)
            }
            var rows: [Row] = []
            rows.reserveCapacity(b)
            for r in 0..<b {
                var row = Row(y2: ws.participationRatio[r], wmax: ws.maxWeight[r])
                if planted {
                    let mu = components[r]
                    row.wOrigin = ws.weights[r, mu]
                    row.lnW = logW.isEmpty ? log(row.wOrigin) : logW[r]
                    row.isMax = ws.argmax[r] == mu ? 1 : 0
                }
                if withClasses, let c0 = origins.classes?[originRow[r]] {
                    var s = 0.0
                    for c in 0..<ws.classes { let q = ws.classProbabilities[r, c]; s += q * q }
                    row.agree = s
                    row.keep = ws.classProbabilities[r, c0]
                }
                rows.append(row)
            }
            perLevel.append(rows)
        }
        return perLevel
    }
}

/// Per-worker buffers of a forward ensemble (allocated once per worker, reused by every chunk and level).
final class EnsembleBuffers {
    let workspace: PosteriorWorkspace
    var origin: Matrix<Double>, noise: Matrix<Double>, x: Matrix<Double>
    var originDots: Matrix<Double>, noiseDots: Matrix<Double>
    var originNorm: [Double], noiseNorm: [Double]

    init(model: ForwardModel, capacity: Int, d: Int, n: Int) {
        workspace = model.makeWorkspace(capacity: capacity)
        origin = Matrix(rows: capacity, columns: d)
        noise = Matrix(rows: capacity, columns: d)
        x = Matrix(rows: capacity, columns: d)
        originDots = Matrix(rows: n == 0 ? 0 : capacity, columns: n)
        noiseDots = Matrix(rows: n == 0 ? 0 : capacity, columns: n)
        originNorm = Array(repeating: 0, count: capacity)
        noiseNorm = Array(repeating: 0, count: capacity)
    }
}
