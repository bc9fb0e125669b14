import Foundation
import GSLKit

/// Everything a local machine knows at one noisy image x and time t (Docs/LocalScores.md §1–2).
/// Per-pixel arrays are row-major: pixel p = row·W + col; per-coordinate arrays (row, col, channel).
public struct LocalPosterior: Sendable {
    public var shape: ImageShape
    public var patch: Int
    /// m̂_i = Σ_φ w_φ^(i) φ(0) (d values).
    public var posteriorMean: [Double]
    /// F_i = (e^{−t} m̂_i − x_i)/Δ_t (d values).
    public var score: [Double]
    /// Y2_i = Σ_φ (w_φ^(i))² per pixel.
    public var participationRatio: [Double]
    /// S_i = −Σ_φ w_φ^(i) ln w_φ^(i) per pixel (nats).
    public var entropy: [Double]
    /// |𝒟_i| per pixel.
    public var dictionarySizes: [Int]
    /// n × HW: ln of the posterior mass of training image μ at pixel i (Σ over its patches in 𝒟_i);
    /// 0 rows unless sources were asked for.
    public var sourceLogMass: Matrix<Double>

    /// ln Σ_φ e^{−E_φ^(i)} per pixel (the normaliser of w^(i)).
    public var logSumExp: [Double]

    /// Posterior mass of each training image averaged over pixels, (1/HW) Σ_i Σ_{φ from μ} w_φ^(i).
    public var imageMass: [Double] {
        let n = sourceLogMass.rows, hw = shape.pixels
        if n == 0 { return [] }
        var shifted = sourceLogMass.storage
        for mu in 0..<n { for i in 0..<hw { shifted[mu * hw + i] -= logSumExp[i] } }
        let w = VectorMath.exp(shifted)
        return (0..<n).map { mu in w[(mu * hw)..<((mu + 1) * hw)].reduce(0, +) / Double(hw) }
    }

    /// Per pixel, the training image with the largest posterior mass (the source map, Docs/LocalScores.md §6).
    public var sourceMap: [Int] {
        (0..<shape.pixels).map { i in
            var best = 0
            for mu in 0..<sourceLogMass.rows where sourceLogMass[mu, i] > sourceLogMass[best, i] { best = mu }
            return best
        }
    }
}

/// A local exact score machine (LS, ELS, ELS_circ, bbELS) on an image data set
/// (Docs/LocalScores.md §1): pixel i sees its P × P window X_i and a dictionary 𝒟_i of patches,
///
///     E_φ^(i) = |X_i − e^{−t} φ|²/(2Δ_t),  w^(i) = softmax(−E^(i)),  m̂_i = Σ_φ w_φ^(i) φ(0),
///     F_i = (e^{−t} m̂_i − x_i)/Δ_t,
///
/// one weight per (pixel, patch) shared by the C channels. The kernel is the engine's Gaussian one;
/// only "which points, for which pixel" changes. LS runs by the difference form and 2-D box sums
/// (cost independent of P); the equivariant machines by im2col products (BLAS) with a streamed
/// per-pixel log-sum-exp (Docs/LocalScores.md §3).
///
/// As a `ScoreModel` the batch posterior mean is the per-pixel m̂; the "weights" over the n images
/// are the pixel-averaged source masses, Y2 is the pixel mean of Y2_i, ln P is NaN (the field is
/// not a gradient for 1 < P < full: no density exists, Docs/LocalScores.md §2 item 8), and the
/// "posterior draw" returns m̂ (no joint posterior exists).
public final class LocalScore: ScoreModel, @unchecked Sendable {
    public let machine: LocalMachine
    public let shape: ImageShape
    public let rule: PatchRule
    /// n × d training images.
    public let images: Matrix<Double>
    public let labels: [Int]?
    public let classIndex: [Int]?
    public let classCount: Int
    private let prepared: [Int: Prepared]

    /// The patches of every group and image for one P (computed once if they fit the cache).
    struct Prepared: Sendable {
        var groups: [PatchGroup]
        /// [group][image] (empty if not cached).
        var patches: [[ImagePatches]]
    }
    struct ImagePatches: Sendable {
        var patches: Matrix<Double>
        var norms: [Double]
        var centres: [Double]
    }

    /// Doubles the dictionary cache may hold, 384 MB (beyond it, patches are rebuilt per evaluation).
    public static let cacheLimit = 48_000_000

    public init(machine: LocalMachine, images: Matrix<Double>, shape: ImageShape, patch rule: PatchRule,
                labels: [Int]? = nil) throws {
        try shape.check(dimension: images.columns, source: "local score")
        guard images.rows >= 1 else { throw DataError("local score: no training images") }
        guard shape.channels <= PixelPosteriorAccumulator.maxChannels else {
            throw DataError("local score: at most \(PixelPosteriorAccumulator.maxChannels) channels, got \(shape.channels)")
        }
        guard images.storage.allSatisfy({ $0.isFinite }) else { throw DataError("local score: non-finite training image") }
        for p in rule.allPatches {
            guard p >= 1, p % 2 == 1 else { throw ModelError("--patch must be odd and ≥ 1, got \(p)", parameter: "patch") }
            if machine == .els, p > min(shape.height, shape.width) {
                throw ModelError("els needs P ≤ min(H, W) = \(min(shape.height, shape.width)) (it uses valid patches only), got P = \(p)",
                                 parameter: "patch")
            }
        }
        if let labels, labels.count != images.rows { throw DataError("local score: \(labels.count) labels for \(images.rows) images") }
        self.machine = machine
        self.shape = shape
        self.rule = rule
        self.images = images
        self.labels = labels
        if let labels {
            let classes = Array(Set(labels)).sorted()
            let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
            classIndex = labels.map { index[$0]! }
            classCount = classes.count
        } else {
            classIndex = nil
            classCount = 0
        }
        var prepared: [Int: Prepared] = [:]
        if machine != .ls {
            var budget = Self.cacheLimit
            for p in rule.allPatches {
                let groups = machine.groups(height: shape.height, width: shape.width, patch: p)
                let size = groups.reduce(0) { $0 + $1.positions.count } * images.rows * p * p * shape.channels
                var cached: [[ImagePatches]] = []
                if size <= budget {
                    budget -= size
                    cached = groups.map { g in (0..<images.rows).map { Self.patches(of: images.rowSlice($0), group: g, patch: p, shape: shape, circular: machine.circular) } }
                }
                prepared[p] = Prepared(groups: groups, patches: cached)
            }
        }
        self.prepared = prepared
    }

    /// A local machine on a data set that knows its image shape (or with an explicit `shape`).
    public convenience init(machine: LocalMachine, dataset: Dataset, shape: ImageShape? = nil, patch rule: PatchRule) throws {
        guard let s = shape ?? dataset.imageShape else {
            throw DataError("\(dataset.name): the data have no image shape (give --image-shape H×W[×C])")
        }
        try self.init(machine: machine, images: dataset.points, shape: s, patch: rule, labels: dataset.labels)
    }

    static func patches(of image: ArraySlice<Double>, group: PatchGroup, patch p: Int, shape: ImageShape,
                        circular: Bool) -> ImagePatches {
        let m = PatchKernels.im2col(height: shape.height, width: shape.width, channels: shape.channels, patch: p,
                                    image: image, positions: group.positions, circular: circular)
        let C = shape.channels, base = image.startIndex
        var centres = [Double](repeating: 0, count: group.positions.count * C)
        for (k, j) in group.positions.enumerated() { for c in 0..<C { centres[k * C + c] = image[base + j * C + c] } }
        return ImagePatches(patches: m, norms: m.rowSquaredNorms(), centres: centres)
    }

    public var dimension: Int { shape.dimension }
    public var componentCount: Int { images.rows }
    public var componentClasses: [Int]? { classIndex }

    /// The machine's posterior at one noisy image x (d values) and time t > 0; with `sources`, the
    /// per-pixel source masses of every training image too.
    public func posterior(at x: [Double], t: Double, sources: Bool = true) throws -> LocalPosterior {
        guard x.count == dimension else {
            throw ModelError("x has \(x.count) values but the images have H·W·C = \(dimension)", parameter: "x")
        }
        guard x.allSatisfy({ $0.isFinite }) else { throw ModelError("x has non-finite values", parameter: "x") }
        try validateTime(t)
        return compute(x, t: t, sources: sources)
    }

    func compute(_ x: [Double], t: Double, sources: Bool) -> LocalPosterior {
        let H = shape.height, W = shape.width, C = shape.channels, hw = shape.pixels, n = images.rows
        let p = rule.patch(at: t), r = (p - 1) / 2
        let delta = ForwardProcess.delta(t), decay = exp(-t)
        var acc = PixelPosteriorAccumulator(pixels: hw, channels: C)
        var logMass = Matrix<Double>(rows: sources ? n : 0, columns: hw)
        if machine == .ls {
            acc.reduceLS(height: H, width: W, radius: r, x: x, images: images, decay: decay, sigma2: delta,
                         logWeights: &logMass)
        } else {
            let prep = prepared[p]!
            for (gi, g) in prep.groups.enumerated() where !g.positions.isEmpty {
                let q = PatchKernels.im2col(height: H, width: W, channels: C, patch: p, image: x[...], positions: g.pixels,
                                            circular: machine.circular)
                let qn = q.rowSquaredNorms()
                var dots = Matrix<Double>(rows: g.pixels.count, columns: g.positions.count)
                for mu in 0..<n {
                    let ip = prep.patches.isEmpty
                        ? Self.patches(of: images.rowSlice(mu), group: g, patch: p, shape: shape, circular: machine.circular)
                        : prep.patches[gi][mu]
                    BLAS.multiplyTransposed(q, ip.patches, into: &dots)
                    let lm = acc.mergeRows(dots: dots, rows: g.pixels.count, queryNorms: qn, entryNorms: ip.norms,
                                           centres: ip.centres, pixelIndex: g.pixels, decay: decay, sigma2: delta)
                    if sources { for (k, i) in g.pixels.enumerated() { logMass.storage[mu * hw + i] = lm[k] } }
                }
            }
        }
        let (mean, y2, entropy, lse) = acc.finish()
        var score = mean
        for j in 0..<dimension { score[j] = (decay * mean[j] - x[j]) / delta }
        return LocalPosterior(shape: shape, patch: p, posteriorMean: mean, score: score, participationRatio: y2,
                              entropy: entropy,
                              dictionarySizes: machine.dictionarySizes(height: H, width: W, patch: p, images: n),
                              sourceLogMass: logMass, logSumExp: lse)
    }

    /// Batch evaluation for the samplers (see the type's note on what the workspace holds).
    public func evaluate(_ x: Matrix<Double>, rows: Int, t: Double, workspace ws: PosteriorWorkspace,
                         outputs: PosteriorOutputs) throws {
        try validateTime(t)
        let n = images.rows, d = dimension
        for row in 0..<rows {
            let xr = x.row(row)
            guard xr.allSatisfy({ $0.isFinite }) else {
                throw ModelError("state has non-finite values at t = \(t)", parameter: "t")
            }
            let post = compute(xr, t: t, sources: true)
            for j in 0..<d { ws.mean.storage[row * d + j] = post.posteriorMean[j] }
            let mass = post.imageMass
            var best = 0
            for mu in 0..<n {
                ws.weights.storage[row * n + mu] = mass[mu]
                if mass[mu] > mass[best] { best = mu }
            }
            ws.argmax[row] = best
            ws.maxWeight[row] = mass[best]
            ws.participationRatio[row] = post.participationRatio.reduce(0, +) / Double(shape.pixels)
            ws.logSumExp[row] = .nan
            ws.logDensity[row] = .nan
            if outputs.contains(.classProbabilities), let classIndex, classCount > 0 {
                for c in 0..<classCount { ws.classProbabilities[row, c] = 0 }
                for mu in 0..<n { ws.classProbabilities.storage[row * classCount + classIndex[mu]] += mass[mu] }
            }
        }
    }

    /// No joint posterior exists for a local machine: returns the per-pixel posterior mean m̂ (from
    /// the last `evaluate`) and the image of largest pixel-averaged mass.
    public func posteriorDraw(row: Int, x: Matrix<Double>, t: Double, workspace ws: PosteriorWorkspace,
                              rng: RandomStream, into a: inout [Double]) -> Int {
        a = ws.mean.row(row)
        return ws.argmax[row]
    }

    /// The Jacobian J_ik = ∂F_i/∂x_k (d × d, row-major) at x, t (Docs/LocalScores.md §2 item 8):
    ///
    ///     J_ik = −δ_ik/Δ + (e^{−2t}/Δ²) Σ_{o: i+o = k} Cov_{w^(i)}(φ(0), φ(o)),
    ///
    /// per channel pair. Brute force over every pixel's dictionary (small images only: d ≤ 4096).
    public func jacobian(at x: [Double], t: Double) throws -> Matrix<Double> {
        guard x.count == dimension, dimension <= 4096 else {
            throw ModelError("jacobian: x must have d = \(dimension) values and d ≤ 4096", parameter: "x")
        }
        try validateTime(t)
        let H = shape.height, W = shape.width, C = shape.channels, n = images.rows, d = dimension
        let p = rule.patch(at: t), r = (p - 1) / 2
        let delta = ForwardProcess.delta(t), decay = exp(-t)
        let circular = machine.circular
        // Per pixel: its dictionary as (image, position) pairs.
        var dictionary = [[(Int, Int)]](repeating: [], count: H * W)
        if machine == .ls {
            for i in 0..<(H * W) { dictionary[i] = (0..<n).map { ($0, i) } }
        } else {
            for g in machine.groups(height: H, width: W, patch: p) {
                let entries = (0..<n).flatMap { mu in g.positions.map { (mu, $0) } }
                for i in g.pixels { dictionary[i] = entries }
            }
        }
        var jac = Matrix<Double>(rows: d, columns: d)
        for i in 0..<(H * W) {
            let xi = PatchKernels.im2col(height: H, width: W, channels: C, patch: p, image: x[...], positions: [i], circular: circular)
            let entries = dictionary[i]
            var phis: [[Double]] = []
            var logw: [Double] = []
            for (mu, j) in entries {
                let phi = PatchKernels.im2col(height: H, width: W, channels: C, patch: p, image: images.rowSlice(mu),
                                              positions: [j], circular: circular).storage
                var e = 0.0
                for q in 0..<phi.count { let u = xi.storage[q] - decay * phi[q]; e += u * u }
                phis.append(phi)
                logw.append(-e / (2 * delta))
            }
            let m = logw.max()!
            var w = logw.map { exp($0 - m) }
            let s = w.reduce(0, +)
            w = w.map { $0 / s }
            let dP = p * p * C
            var meanPhi = [Double](repeating: 0, count: dP)
            for (k, phi) in phis.enumerated() { for q in 0..<dP { meanPhi[q] += w[k] * phi[q] } }
            let row = i / W, col = i % W, centre = (r * p + r) * C
            for orow in -r...r {
                for ocol in -r...r {
                    var kr = row + orow, kc = col + ocol
                    if circular {
                        kr = ((kr % H) + H) % H
                        kc = ((kc % W) + W) % W
                    } else if kr < 0 || kr >= H || kc < 0 || kc >= W { continue }
                    let k = kr * W + kc, q0 = ((orow + r) * p + (ocol + r)) * C
                    for c in 0..<C {
                        for c2 in 0..<C {
                            var cov = 0.0
                            for (e, phi) in phis.enumerated() {
                                cov += w[e] * (phi[centre + c] - meanPhi[centre + c]) * (phi[q0 + c2] - meanPhi[q0 + c2])
                            }
                            jac[i * C + c, k * C + c2] += decay * decay / (delta * delta) * cov
                        }
                    }
                }
            }
            for c in 0..<C { jac[i * C + c, i * C + c] -= 1 / delta }
        }
        return jac
    }
}
