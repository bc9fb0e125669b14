import Foundation
import GSLKit

/// Where a pixel sits relative to the border for a P × P window (r = (P − 1)/2): `interior` if the
/// whole window is inside the image, `corner` if it crosses two borders (one horizontal, one
/// vertical), else `edge`. For bbELS the dictionary sizes follow this split (Docs/LocalScores.md §1).
public enum PixelRegion: String, Sendable, Codable, CaseIterable {
    case interior, edge, corner

    public static func of(row: Int, col: Int, height H: Int, width W: Int, patch P: Int) -> PixelRegion {
        let r = (P - 1) / 2
        let rowCut = row < r || H - 1 - row < r, colCut = col < r || W - 1 - col < r
        if rowCut && colCut { return .corner }
        return rowCut || colCut ? .edge : .interior
    }
}

/// One pixel of a forward collapse map (Docs/LocalScores.md §7 "Per-pixel collapse times").
public struct LocalPixelCollapse: Sendable, Codable {
    public var row: Int
    public var col: Int
    public var region: PixelRegion
    /// |𝒟_i|.
    public var dictionarySize: Int
    /// d_i: the entries of the window that carry data (P²C for circular padding; the in-frame
    /// entries for zero padding — padded entries are 0 in every patch and in the query).
    public var dimension: Int
    /// α_i = ln|𝒟_i| / d_i.
    public var alpha: Double
    /// σ_i² = tr Cov(𝒟_i)/d_i, the mean variance per entry of the patch data set.
    public var variance: Double
    /// Measured t_C^(i): E[Y2_i](t) = ½ solved on the fixed planted samples (nil: no bracket).
    public var tC: SolvedCrossing?
    /// Eq. 10 with d → d_i, n → |𝒟_i|, σ² → σ_i² (Docs/Theory.md §3.2; the REM condensation of §3.3).
    public var tCGaussian: Double?
    /// Gaussian-spectrum t_C of the patch data set's covariance (Docs/Theory.md §3.2; nil if not computed).
    public var tCSpectrum: Double?
    /// E[Y2_i] as t → 0⁺: the mean over μ0 of 1/m, m the multiplicity of the planted window in 𝒟_i
    /// (identical patches share the weight for ever). A crossing of ½ needs y2Limit > ½. nil if a
    /// planted window is not in 𝒟_i (ELS_ref off its valid positions).
    public var y2Limit: Double?
}

/// Mean, standard deviation and count of a per-pixel quantity over a set of pixels.
public struct PixelSummary: Sendable, Codable, Equatable {
    public var mean: Double
    public var spread: Double
    public var count: Int

    public init(_ values: [Double]) {
        let v = values.filter(\.isFinite)
        count = v.count
        mean = v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count)
        let m = mean
        spread = v.count > 1 ? (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1)).squareRoot() : 0
    }
}

/// Per-pixel forward collapse times of a local machine (Docs/LocalScores.md §7).
public struct LocalCollapseMap: Sendable, Codable {
    public var machine: LocalMachine
    public var patch: Int
    public var shape: ImageShape
    public var samples: Int
    public var seed: UInt64
    /// Row-major pixels.
    public var pixels: [LocalPixelCollapse]
    /// t where the pixel average (1/HW) Σ_i E[Y2_i] = ½, with its delta-method error.
    public var pixelAverage: SolvedCrossing?
    /// The bracketing grid and the pixel-averaged E[Y2] on it (mean over samples ± SE).
    public var grid: [Double]
    public var averageCurve: [MeanEstimate]

    /// Measured t_C^(i) over the pixels of `region` (all if nil); pixels without a crossing are left out.
    public func measuredSummary(_ region: PixelRegion? = nil) -> PixelSummary {
        PixelSummary(pixels.filter { region == nil || $0.region == region }.map { $0.tC?.t ?? .nan })
    }
    /// The eq. 10 prediction over the same pixels (those with a measured crossing).
    public func predictedSummary(_ region: PixelRegion? = nil) -> PixelSummary {
        PixelSummary(pixels.filter { (region == nil || $0.region == region) && $0.tC != nil }.map { $0.tCGaussian ?? .nan })
    }
    /// The Gaussian-spectrum prediction over the same pixels.
    public func spectrumSummary(_ region: PixelRegion? = nil) -> PixelSummary {
        PixelSummary(pixels.filter { (region == nil || $0.region == region) && $0.tC != nil }.map { $0.tCSpectrum ?? .nan })
    }
}

/// Forward (planted) per-pixel collapse times of a local machine (Docs/LocalScores.md §7, §2):
/// sample s draws μ0 uniform and z ~ N(0, I_d) from stream (seed, s, `.forward`) exactly as the
/// global planted ensemble (`OriginDraws.planted`), x_s(t) = e^{−t} a_μ0 + √Δ_t z, and pixel i reads
/// Y2_i(x_s(t), t) = Σ_φ (w_φ^(i))². t_C^(i) solves E[Y2_i](t) = ½ on these fixed samples (common
/// random numbers across t and across pixels), and the pixel-averaged crossing solves
/// (1/HW) Σ_i E[Y2_i](t) = ½.
///
/// Why a type of its own rather than `ForwardEnsemble`: the ensemble solves one root of one scalar
/// statistic per call and re-evaluates the whole model at each Brent step; here every pixel has
/// its own root, so all H·W Brent iterations run in lockstep and one pass over the samples
/// evaluates each pixel at its own t. That needs the per-pixel weights at a per-pixel time, which
/// the difference form gives for free: with E_φ = |X_i − e^{−t}φ|²/(2Δ) and X_i = e^{−t}q_i + √Δ ζ_i
/// (q_i, ζ_i the windows of a_μ0 and z),
///
///     −E_φ = −(e^{−2t} A_φ + 2 e^{−t}√Δ B_φ)/(2Δ) − |ζ_i|²/2,  A_φ = |q_i − φ|²,  B_φ = ζ_i·(q_i − φ),
///
/// and the last term is common to all φ. A and B do not depend on t: one computation per sample and
/// pass (LS: three box-sum passes of `PatchKernels.boxLogWeights`; the others: two im2col products
/// per group and image), then any t costs one exp per entry. The root solver is Brent's method
/// (`BrentIteration`), the error the delta method of `SolvedCrossing` (Docs/Conventions.md).
public struct LocalForwardCollapse: Sendable {
    public let model: LocalScore
    public var threads: Int
    public var chunkSize: Int
    /// Root tolerance on t.
    public var tolerance: Double
    /// Compute the Gaussian-spectrum prediction (one eigen-decomposition per dictionary).
    public var spectrum: Bool
    /// LS by box sums (default) or by the generic im2col products (a cross-check).
    var boxSums = true

    public init(model: LocalScore, threads: Int = Parallel.defaultThreads, chunkSize: Int = 16,
                tolerance: Double = 1e-7, spectrum: Bool = true) throws {
        guard case .fixed = model.rule else {
            throw ModelError("per-pixel collapse times need a fixed --patch (the patch data set is defined for one P)", parameter: "patch")
        }
        guard tolerance > 0 else { throw ModelError("the root tolerance must be > 0", parameter: "tolerance") }
        self.model = model
        self.threads = threads
        self.chunkSize = chunkSize
        self.tolerance = tolerance
        self.spectrum = spectrum
    }

    /// Default bracketing grid: 20 times log-spaced on [10⁻⁸, 4]. Image data quantised to 1/255
    /// separate their nearest patches only at Δ_t ≲ 10⁻⁵, so the grid starts far below the usual t_min.
    public static let defaultGrid: [Double] = grid(points: 20)

    /// `points` times log-spaced on [10⁻⁸, 4].
    public static func grid(points: Int) -> [Double] {
        (0..<points).map { 1e-8 * pow(4e8, Double($0) / Double(max(points - 1, 1))) }
    }

    /// The forward collapse map of `model` from `samples` planted samples of `seed`; `grid` only
    /// brackets the roots (any order; the roots do not move with it beyond the bracket chosen).
    public static func measure(model: LocalScore, samples: Int, grid: [Double] = defaultGrid, seed: UInt64,
                               threads: Int = Parallel.defaultThreads, spectrum: Bool = true,
                               progress: ProgressReporter? = nil) throws -> LocalCollapseMap {
        try LocalForwardCollapse(model: model, threads: threads, spectrum: spectrum)
            .measure(samples: samples, grid: grid, seed: seed, progress: progress)
    }

    var patch: Int { model.rule.patch(at: 1) }

    /// d_i per pixel (see `LocalPixelCollapse.dimension`).
    func dimensions() -> [Int] {
        let s = model.shape, P = patch, r = (P - 1) / 2
        return (0..<s.pixels).map { p in
            if model.machine.circular { return P * P * s.channels }
            let row = p / s.width, col = p % s.width
            let h = min(row, r) + min(s.height - 1 - row, r) + 1, w = min(col, r) + min(s.width - 1 - col, r) + 1
            return h * w * s.channels
        }
    }

    public func measure(samples: Int, grid: [Double] = defaultGrid, seed: UInt64,
                        progress: ProgressReporter? = nil) throws -> LocalCollapseMap {
        guard samples >= 2 else { throw ModelError("need at least 2 forward samples, got \(samples)", parameter: "samples") }
        let times = Array(Set(grid)).sorted()
        guard times.count >= 2 else { throw ModelError("a crossing needs at least two bracket times", parameter: "times") }
        for t in times { try validateTime(t) }
        let shape = model.shape, hw = shape.pixels, P = patch
        let draws = try PlantedDraws(model: model, samples: samples, seed: seed)
        let engine = PixelTimeEngine(model: model, patch: P, boxSums: boxSums)
        // Passes: the grid, ~10–15 lockstep Brent steps, the slope pass; progress in samples per pass.
        let stage = progress
        func run(_ request: PassRequest) throws -> PassSums {
            let parts = try Parallel.mapChunks(count: samples, chunkSize: chunkSize, threads: threads,
                                               makeWorkspace: { engine.makeWorkspace() }) { ws, range in
                var sums = PassSums(request)
                for s in range { engine.accumulate(sample: draws.origin[s], noise: draws.noise.row(s), request: request, into: &sums, workspace: &ws) }
                stage?.advance(range.count)
                return sums
            }
            var total = PassSums(request)
            for p in parts { total.add(p) }
            return total
        }
        // 1. Grid: every pixel at every grid time; brackets per pixel and for the pixel average.
        let gridSums = try run(PassRequest(pixels: hw, perPixel: Array(repeating: [], count: hw), common: times))
        let S = Double(samples)
        // First strict passage through ½ in increasing t: a curve that only touches ½ (values in
        // identical pairs: E[Y2_i] = ½ up to rounding until the pairs separate) has no crossing.
        func bracket(_ means: [Double]) -> Int? {
            means.indices.dropLast().first { k in
                let a = means[k] - 0.5, b = means[k + 1] - 0.5, eps = 1e-12
                return (a > eps && b <= 0) || (a < -eps && b >= 0)
            }
        }
        // The tolerance is also relative to the bracket (roots far below 10⁻⁶ occur on quantised images).
        func solver(_ m: [Double], _ k: Int) -> BrentIteration {
            BrentIteration(lo: times[k], hi: times[k + 1], fLo: m[k] - 0.5, fHi: m[k + 1] - 0.5, tolerance: min(tolerance, 1e-3 * times[k]))
        }
        var solvers: [BrentIteration?] = (0..<hw).map { i in
            let m = times.indices.map { gridSums.pixelCommon[i * times.count + $0] / S }
            return bracket(m).map { solver(m, $0) }
        }
        let avgMeans = times.indices.map { gridSums.commonSum[$0] / S }
        var avgSolver = bracket(avgMeans).map { solver(avgMeans, $0) }
        let averageCurve = times.indices.map { k in
            MeanEstimate(mean: avgMeans[k], standardError: Self.standardError(sum: gridSums.commonSum[k], squares: gridSums.commonSquares[k], count: samples),
                         count: samples)
        }
        // 2. Lockstep Brent: each pass evaluates every unconverged pixel at its own next t.
        var passes = 1
        for _ in 0..<100 {
            var perPixel = [[Double]](repeating: [], count: hw)
            var pending = false
            for i in 0..<hw { if let t = solvers[i]?.next() { perPixel[i] = [t]; pending = true } }
            var common: [Double] = []
            if let t = avgSolver?.next() { common = [t]; pending = true }
            if !pending { break }
            let sums = try run(PassRequest(pixels: hw, perPixel: perPixel, common: common))
            passes += 1
            for i in 0..<hw where !perPixel[i].isEmpty { solvers[i]!.receive(sums.pixelSum[i][0] / S - 0.5) }
            if !common.isEmpty { avgSolver!.receive(sums.commonSum[0] / S - 0.5) }
        }
        // 3. Delta method: SE(ȳ(t̂)) at the root, slope by a central difference on the same samples.
        func step(_ b: BrentIteration) -> Double { min(max(1e-5 * b.width, 10 * b.tolerance), 0.5 * b.root) }
        var perPixel = [[Double]](repeating: [], count: hw)
        for i in 0..<hw { if let b = solvers[i] { let h = step(b); perPixel[i] = [b.root - h, b.root, b.root + h] } }
        let common = avgSolver.map { b in [b.root - step(b), b.root, b.root + step(b)] } ?? []
        let final = try run(PassRequest(pixels: hw, perPixel: perPixel, common: common))
        passes += 1
        func crossing(_ b: BrentIteration, sums: [Double], squares: Double) -> SolvedCrossing {
            let h = step(b), slope = (sums[2] - sums[0]) / S / (2 * h)
            let se = Self.standardError(sum: sums[1], squares: squares, count: samples) / max(abs(slope), .leastNormalMagnitude)
            return SolvedCrossing(t: b.root, standardError: se, slope: slope, tolerance: b.tolerance, evaluations: passes)
        }
        let predictions = try PatchPredictions(model: model, patch: P, dimensions: dimensions(), spectrum: spectrum)
        let sizes = model.machine.dictionarySizes(height: shape.height, width: shape.width, patch: P, images: model.images.rows)
        let dims = dimensions()
        let pixels = (0..<hw).map { i in
            let row = i / shape.width, col = i % shape.width
            return LocalPixelCollapse(row: row, col: col, region: .of(row: row, col: col, height: shape.height, width: shape.width, patch: P),
                                      dictionarySize: sizes[i], dimension: dims[i],
                                      alpha: log(Double(sizes[i])) / Double(dims[i]), variance: predictions.variance[i],
                                      tC: solvers[i].map { crossing($0, sums: final.pixelSum[i], squares: final.pixelSquares[i][1]) },
                                      tCGaussian: predictions.gaussian[i], tCSpectrum: predictions.spectrum[i],
                                      y2Limit: predictions.y2Limit[i])
        }
        let average = avgSolver.map { crossing($0, sums: final.commonSum, squares: final.commonSquares[1]) }
        return LocalCollapseMap(machine: model.machine, patch: P, shape: shape, samples: samples, seed: seed, pixels: pixels,
                                pixelAverage: average, grid: times, averageCurve: averageCurve)
    }

    static func standardError(sum: Double, squares: Double, count: Int) -> Double {
        let n = Double(count), m = sum / n
        return (max(0, squares - n * m * m) / (n - 1) / n).squareRoot()
    }

    /// Per-pixel Y2_i of planted sample `sample` (stream (seed, sample, `.forward`)) with pixel i at
    /// time times[i] — the engine of `measure`, exposed for tests.
    func participationRatios(sample: Int, seed: UInt64, times: [Double]) throws -> [Double] {
        let draws = try PlantedDraws(model: model, samples: sample + 1, seed: seed)
        let engine = PixelTimeEngine(model: model, patch: patch, boxSums: boxSums)
        let hw = model.shape.pixels
        let request = PassRequest(pixels: hw, perPixel: times.map { [$0] }, common: [])
        var sums = PassSums(request)
        var ws = engine.makeWorkspace()
        engine.accumulate(sample: draws.origin[sample], noise: draws.noise.row(sample), request: request, into: &sums, workspace: &ws)
        return sums.pixelSum.map { $0[0] }
    }

    /// The planted state x_s(t) = e^{−t} a_μ0 + √Δ_t z of sample s (for tests and cross-checks).
    func plantedState(sample: Int, seed: UInt64, t: Double) throws -> [Double] {
        let draws = try PlantedDraws(model: model, samples: sample + 1, seed: seed)
        let a = model.images.row(draws.origin[sample]), z = draws.noise.row(sample)
        let decay = exp(-t), sd = ForwardProcess.delta(t).squareRoot()
        return (0..<a.count).map { decay * a[$0] + sd * z[$0] }
    }
}

/// The planted draws of the global ensemble (`OriginDraws.planted`): origin row and unit noise of each sample.
struct PlantedDraws {
    var origin: [Int]
    var noise: Matrix<Double>

    init(model: LocalScore, samples: Int, seed: UInt64) throws {
        let posterior = try EmpiricalPosterior(points: model.images)
        let draws = OriginDraws.planted(posterior)
        var noise = Matrix<Double>(rows: samples, columns: model.dimension)
        origin = (0..<samples).map { s in draws.draw(seed, s, &noise.storage, s * model.dimension) }
        self.noise = noise
    }
}

/// Which times one pass evaluates: per pixel its own list, and common times at every pixel (whose
/// pixel average is accumulated per sample).
struct PassRequest {
    var pixels: Int
    var perPixel: [[Double]]
    var common: [Double]
}

/// Sums over samples of one pass.
struct PassSums {
    var pixelSum: [[Double]]
    var pixelSquares: [[Double]]
    /// Per pixel and common time (pixel-major), Σ_s Y2_i.
    var pixelCommon: [Double]
    /// Per common time, Σ_s ȳ_s and Σ_s ȳ_s², ȳ_s the pixel average of sample s.
    var commonSum: [Double]
    var commonSquares: [Double]

    init(_ r: PassRequest) {
        pixelSum = r.perPixel.map { Array(repeating: 0, count: $0.count) }
        pixelSquares = pixelSum
        pixelCommon = Array(repeating: 0, count: r.pixels * r.common.count)
        commonSum = Array(repeating: 0, count: r.common.count)
        commonSquares = commonSum
    }

    mutating func add(_ o: PassSums) {
        for i in pixelSum.indices {
            for k in pixelSum[i].indices { pixelSum[i][k] += o.pixelSum[i][k]; pixelSquares[i][k] += o.pixelSquares[i][k] }
        }
        for k in pixelCommon.indices { pixelCommon[k] += o.pixelCommon[k] }
        for k in commonSum.indices { commonSum[k] += o.commonSum[k]; commonSquares[k] += o.commonSquares[k] }
    }
}

/// Per-pixel participation ratios at per-pixel times from the t-independent A, B of the difference
/// form (see `LocalForwardCollapse`).
struct PixelTimeEngine {
    let model: LocalScore
    let patch: Int
    let boxSums: Bool
    let groups: [PatchGroup]
    /// [group][image] patches (empty when they would exceed `LocalScore.cacheLimit`).
    let cache: [[LocalScore.ImagePatches]]

    init(model: LocalScore, patch: Int, boxSums: Bool) {
        self.model = model
        self.patch = patch
        self.boxSums = boxSums && model.machine == .ls
        let s = model.shape
        groups = self.boxSums ? [] : model.machine.groups(height: s.height, width: s.width, patch: patch)
        let size = groups.reduce(0) { $0 + $1.positions.count } * model.images.rows * patch * patch * s.channels
        if !self.boxSums && size <= LocalScore.cacheLimit {
            cache = groups.map { g in (0..<model.images.rows).map {
                LocalScore.patches(of: model.images.rowSlice($0), group: g, patch: patch, shape: s, circular: model.machine.circular)
            } }
        } else {
            cache = []
        }
    }

    struct Workspace {
        var a: Matrix<Double>, plus: Matrix<Double>, zero: [Double], cumulative: [Double], zbox: [Double]
        var state: [PixelLogSumExp]
    }

    func makeWorkspace() -> Workspace {
        let n = model.images.rows, hw = model.shape.pixels
        return Workspace(a: Matrix(rows: boxSums ? n : 0, columns: hw), plus: Matrix(rows: boxSums ? n : 0, columns: hw),
                         zero: Array(repeating: 0, count: model.dimension), cumulative: [], zbox: Array(repeating: 0, count: hw),
                         state: [])
    }

    /// Times of pixel i in a request: its own, then the common ones.
    @inline(__always) func times(_ r: PassRequest, _ i: Int) -> [Double] { r.perPixel[i] + r.common }

    func accumulate(sample mu0: Int, noise z: [Double], request r: PassRequest, into sums: inout PassSums, workspace ws: inout Workspace) {
        let hw = model.shape.pixels
        ws.state = (0..<hw).map { PixelLogSumExp(times: times(r, $0)) }
        if boxSums { accumulateBox(mu0: mu0, z: z, ws: &ws) } else { accumulateGroups(mu0: mu0, z: z, ws: &ws) }
        let nc = r.common.count
        var avg = [Double](repeating: 0, count: nc)
        for i in 0..<hw {
            let y = ws.state[i].participationRatios()
            let own = r.perPixel[i].count
            for k in 0..<own { sums.pixelSum[i][k] += y[k]; sums.pixelSquares[i][k] += y[k] * y[k] }
            for k in 0..<nc { sums.pixelCommon[i * nc + k] += y[own + k]; avg[k] += y[own + k] }
        }
        for k in 0..<nc {
            let m = avg[k] / Double(hw)
            sums.commonSum[k] += m
            sums.commonSquares[k] += m * m
        }
    }

    /// LS: A[μ, i] = box_i |a_μ0 − a_μ|², B = ½(box_i |a_μ0 + z − a_μ|² − box_i |z|² − A).
    func accumulateBox(mu0: Int, z: [Double], ws: inout Workspace) {
        let s = model.shape, r = (patch - 1) / 2, hw = s.pixels, n = model.images.rows
        let a0 = model.images.row(mu0)
        // boxLogWeights returns −Σ_box D/(2σ²); σ² = ½ gives −Σ_box D.
        PatchKernels.boxLogWeights(height: s.height, width: s.width, channels: s.channels, radius: r, x: a0,
                                   images: model.images, decay: 1, sigma2: 0.5, into: &ws.a)
        let shifted = (0..<a0.count).map { a0[$0] + z[$0] }
        PatchKernels.boxLogWeights(height: s.height, width: s.width, channels: s.channels, radius: r, x: shifted,
                                   images: model.images, decay: 1, sigma2: 0.5, into: &ws.plus)
        PatchKernels.boxLogWeights(height: s.height, width: s.width, channels: s.channels, radius: r, x: z,
                                   image: ws.zero[...], decay: 1, sigma2: 0.5, into: &ws.zbox, cumulative: &ws.cumulative)
        var aRow = [Double](repeating: 0, count: n), bRow = aRow
        for i in 0..<hw {
            let zz = -ws.zbox[i]
            for mu in 0..<n {
                let a = -ws.a.storage[mu * hw + i]
                aRow[mu] = a
                bRow[mu] = 0.5 * (-ws.plus.storage[mu * hw + i] - zz - a)
            }
            aRow[mu0] = 0
            bRow[mu0] = 0
            ws.state[i].merge(a: aRow, b: bRow, count: n)
        }
    }

    /// ELS_ref, ELS_circ, bbELS (and LS as a cross-check): per group and image, A = |q|² − 2q·φ + |φ|²
    /// and B = ζ·q − ζ·φ from two im2col products.
    func accumulateGroups(mu0: Int, z: [Double], ws: inout Workspace) {
        let s = model.shape, n = model.images.rows
        let a0 = model.images.rowSlice(mu0)
        for (gi, g) in groups.enumerated() where !g.positions.isEmpty {
            let q = PatchKernels.im2col(height: s.height, width: s.width, channels: s.channels, patch: patch, image: a0,
                                        positions: g.pixels, circular: model.machine.circular)
            let zq = PatchKernels.im2col(height: s.height, width: s.width, channels: s.channels, patch: patch, image: z[...],
                                         positions: g.pixels, circular: model.machine.circular)
            let qn = q.rowSquaredNorms()
            let m = g.pixels.count, np = g.positions.count, dP = q.columns
            var zdotq = [Double](repeating: 0, count: m)
            for k in 0..<m { var acc = 0.0; for e in 0..<dP { acc += zq.storage[k * dP + e] * q.storage[k * dP + e] }; zdotq[k] = acc }
            var dots = Matrix<Double>(rows: m, columns: np), zdots = Matrix<Double>(rows: m, columns: np)
            var aRow = [Double](repeating: 0, count: np), bRow = aRow
            for mu in 0..<n {
                let ip = cache.isEmpty
                    ? LocalScore.patches(of: model.images.rowSlice(mu), group: g, patch: patch, shape: s, circular: model.machine.circular)
                    : cache[gi][mu]
                BLAS.multiplyTransposed(q, ip.patches, into: &dots)
                BLAS.multiplyTransposed(zq, ip.patches, into: &zdots)
                for k in 0..<m {
                    for j in 0..<np {
                        aRow[j] = max(0, qn[k] - 2 * dots.storage[k * np + j] + ip.norms[j])
                        bRow[j] = zdotq[k] - zdots.storage[k * np + j]
                    }
                    ws.state[g.pixels[k]].merge(a: aRow, b: bRow, count: np)
                }
            }
        }
    }
}

/// Streamed Σ e^{L} and Σ e^{2L} at several times for one pixel, L = −(c₁A + c₂B),
/// c₁ = e^{−2t}/(2Δ_t), c₂ = e^{−t}/√Δ_t; Y2 = Σe^{2(L−M)}/(Σe^{L−M})².
struct PixelLogSumExp {
    var c1: [Double], c2: [Double]
    var m: [Double], s1: [Double], s2: [Double]

    init(times: [Double]) {
        c1 = times.map { exp(-2 * $0) / (2 * ForwardProcess.delta($0)) }
        c2 = times.map { exp(-$0) / ForwardProcess.delta($0).squareRoot() }
        m = Array(repeating: -.infinity, count: times.count)
        s1 = Array(repeating: 0, count: times.count)
        s2 = s1
    }

    mutating func merge(a: [Double], b: [Double], count: Int) {
        var logits = [Double](repeating: 0, count: count)
        for k in c1.indices {
            let u = c1[k], v = c2[k]
            var top = -Double.infinity
            for j in 0..<count { let l = -(u * a[j] + v * b[j]); logits[j] = l; if l > top { top = l } }
            for j in 0..<count { logits[j] -= top }
            let e = VectorMath.exp(logits)
            var t1 = 0.0, t2 = 0.0
            for j in 0..<count { t1 += e[j]; t2 += e[j] * e[j] }
            if top > m[k] {
                let f = exp(m[k] - top)
                s1[k] = s1[k] * f + t1
                s2[k] = s2[k] * f * f + t2
                m[k] = top
            } else {
                let f = exp(top - m[k])
                s1[k] += t1 * f
                s2[k] += t2 * f * f
            }
        }
    }

    func participationRatios() -> [Double] { c1.indices.map { s2[$0] / (s1[$0] * s1[$0]) } }
}

/// Brent's method (van Wijngaarden–Dekker–Brent: inverse quadratic interpolation, secant and
/// bisection with a guaranteed bracket) as a state machine, so that many roots can advance in
/// lockstep, each function evaluation supplied from outside: `next()` gives the abscissa to
/// evaluate (nil once converged, root = `root`), `receive(_:)` takes f there.
public struct BrentIteration: Sendable {
    var a, b, c, fa, fb, fc, d, e: Double
    /// Absolute tolerance on the root.
    public let tolerance: Double
    /// The initial bracket width.
    public let width: Double

    /// Requires f(lo)·f(hi) ≤ 0.
    public init(lo: Double, hi: Double, fLo: Double, fHi: Double, tolerance: Double) {
        (a, b, c, fa, fb, fc) = (lo, hi, hi, fLo, fHi, fHi)
        d = hi - lo
        e = d
        self.tolerance = tolerance
        width = hi - lo
    }

    /// The current best estimate of the root.
    public var root: Double { b }

    public mutating func next() -> Double? {
        if (fb > 0 && fc > 0) || (fb < 0 && fc < 0) {
            c = a; fc = fa; d = b - a; e = d
        }
        if abs(fc) < abs(fb) {
            a = b; b = c; c = a
            fa = fb; fb = fc; fc = fa
        }
        let tol1 = 2 * Double.ulpOfOne * abs(b) + 0.5 * tolerance
        let xm = 0.5 * (c - b)
        if abs(xm) <= tol1 || fb == 0 { return nil }
        if abs(e) >= tol1 && abs(fa) > abs(fb) {
            let s = fb / fa
            var p: Double, q: Double
            if a == c {
                p = 2 * xm * s
                q = 1 - s
            } else {
                let qq = fa / fc, r = fb / fc
                p = s * (2 * xm * qq * (qq - r) - (b - a) * (r - 1))
                q = (qq - 1) * (r - 1) * (s - 1)
            }
            if p > 0 { q = -q }
            p = abs(p)
            let min1 = 3 * xm * q - abs(tol1 * q), min2 = abs(e * q)
            if 2 * p < min(min1, min2) {
                e = d; d = p / q
            } else {
                d = xm; e = d
            }
        } else {
            d = xm; e = d
        }
        a = b; fa = fb
        b += abs(d) > tol1 ? d : (xm >= 0 ? tol1 : -tol1)
        return b
    }

    public mutating func receive(_ f: Double) { fb = f }
}

/// The collapse-time predictions of each pixel's patch data set 𝒟_i (Docs/Theory.md §3.2–3.3 with
/// d → d_i, n → |𝒟_i|): eq. 10 with σ_i² = tr Cov/d_i, and the Gaussian-spectrum t_C. Pixels
/// sharing a dictionary (a group) share one computation.
struct PatchPredictions {
    var variance: [Double]
    var gaussian: [Double?]
    var spectrum: [Double?]
    var y2Limit: [Double?]

    init(model: LocalScore, patch P: Int, dimensions: [Int], spectrum withSpectrum: Bool) throws {
        let s = model.shape, hw = s.pixels
        variance = Array(repeating: .nan, count: hw)
        gaussian = Array(repeating: nil, count: hw)
        spectrum = Array(repeating: nil, count: hw)
        y2Limit = Array(repeating: nil, count: hw)
        // Keyed by a fingerprint of the reduced patch matrix (its hash, shape and first two moments),
        // not the matrix itself: one key per distinct dictionary, O(1) memory each (a matrix key kept
        // every LS dictionary alive: ~HW·n·d_P doubles).
        struct Fingerprint: Hashable { var hash: Int; var rows: Int; var columns: Int; var sum: Double; var sumOfSquares: Double }
        var cache: [Fingerprint: (trace: Double, spectrum: Double?)] = [:]
        for g in model.machine.groups(height: s.height, width: s.width, patch: P) where !g.positions.isEmpty {
            let blocks = (0..<model.images.rows).map {
                LocalScore.patches(of: model.images.rowSlice($0), group: g, patch: P, shape: s, circular: model.machine.circular).patches
            }
            let cols = blocks[0].columns
            let points = Matrix(rows: blocks.reduce(0) { $0 + $1.rows }, columns: cols, storage: blocks.flatMap(\.storage))
            let count = points.rows
            // Columns that are zero in every patch (padding, empty background) change neither the
            // variance nor the spectrum: without them, equal data sets (e.g. every pixel at the
            // full window) share one computation.
            let live = (0..<cols).filter { e in (0..<count).contains { points.storage[$0 * cols + e] != 0 } }
            let reduced = Matrix(rows: count, columns: live.count, storage: (0..<count).flatMap { r in live.map { points.storage[r * cols + $0] } })
            let (trace, specT): (Double, Double?)
            var hasher = Hasher()
            hasher.combine(reduced.storage)
            let key = Fingerprint(hash: hasher.finalize(), rows: count, columns: live.count, sum: reduced.storage.reduce(0, +),
                                  sumOfSquares: reduced.storage.reduce(0) { $0 + $1 * $1 })
            if let known = cache[key] {
                (trace, specT) = (known.trace, known.spectrum)
            } else {
                // Population variance per entry (the planted E[Y2] depends on differences only).
                var tr = 0.0
                for e in 0..<live.count {
                    var m = 0.0
                    for r in 0..<count { m += reduced.storage[r * live.count + e] }
                    m /= Double(count)
                    var v = 0.0
                    for r in 0..<count { let u = reduced.storage[r * live.count + e] - m; v += u * u }
                    tr += v / Double(count)
                }
                var st: Double? = nil
                if withSpectrum, count >= 2, !live.isEmpty {
                    let sp = try DataSpectrum(points: reduced)
                    st = try CollapseTheory.tCSpectrum(eigenvalues: sp.eigenvalues, n: Double(count))
                }
                (trace, specT) = (tr, st)
                cache[key] = (tr, st)
            }
            var multiplicity: [[Double]: Int] = [:]
            for r in 0..<count { multiplicity[Array(points.storage[(r * cols)..<((r + 1) * cols)]), default: 0] += 1 }
            for i in g.pixels {
                var limit = 0.0, found = true
                for mu in 0..<model.images.rows where found {
                    let w = PatchKernels.im2col(height: s.height, width: s.width, channels: s.channels, patch: P,
                                                image: model.images.rowSlice(mu), positions: [i], circular: model.machine.circular)
                    if let m = multiplicity[w.storage] { limit += 1 / Double(m) } else { found = false }
                }
                y2Limit[i] = found ? limit / Double(model.images.rows) : nil
                let d = Double(dimensions[i]), v = trace / d
                variance[i] = v
                gaussian[i] = count > 1 && v > 0 ? CollapseTheory.tCGaussian(n: Double(count), d: d, sigma2: v) : nil
                spectrum[i] = specT
            }
        }
    }
}
