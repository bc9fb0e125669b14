import Foundation
import GSLKit

/// The memorised fraction of samples generated with a local machine and its mosaic diagnostics
/// (Docs/LocalScores.md §7): a sample is memorised iff its gap ratio d₁/d₂ to the training set is
/// < 1/3 (Docs/Theory.md §3.4 M4); the standard error is a bootstrap over samples. Per sample, the
/// source map at the last level (per pixel the training image of largest posterior mass) gives the
/// number of distinct source images and the copy fraction (share of pixels whose source is the
/// nearest training image). For LS, the local-consistency residual ([KG] Theorem 4.1, Docs/LocalScores.md §7):
/// max_i |x₀(i) − a_{src(i)}(i)| over pixels and channels, x₀ the returned sample and src(i) the
/// pixel's source image at the last level, whose patch centre at pixel i is a_{src(i)}(i); → 0 when
/// every pixel's weights have condensed on one patch (small t_min).
///
/// Shift-aware version (for the translation-equivariant machines ELS_ref and ELS_circ): distances
/// to every circular translate of every training image, d_μ = min_s |x − T_s a_μ|, and the gap
/// ratio d₁/d₂ of the two smallest over distinct images (`ShiftAwareNeighbours`); memorised iff < 1/3.
public struct LocalMemorization: Sendable, Codable {
    public var samples: Int
    /// f_mem and its bootstrap standard error.
    public var fraction: Double
    public var fractionStderr: Double
    public var gapRatios: [Double]
    public var nearest: [Int]
    /// Mean number of distinct source images per sample (with its standard error).
    public var distinctSources: MeanEstimate
    /// Mean copy fraction (with its standard error).
    public var copyFraction: MeanEstimate
    /// The shift-aware f_mem (bootstrap SE, same resamples as `fraction`) and per-sample reports;
    /// nil unless asked for.
    public var shiftAwareFraction: MeanEstimate?
    public var shiftAware: [ShiftAwareNeighbour]?
    /// LS only: the mean over samples of the local-consistency residual (with its standard error).
    public var consistencyResidual: MeanEstimate?

    /// The threshold on d₁/d₂.
    public static let threshold = 1.0 / 3

    /// Measures `samples` (rows) against the model's training images; `lastStates` at time `tLast`
    /// give the source maps. `seed` drives the bootstrap (1000 resamples). With `shiftAware`, also
    /// the shift-aware gap ratios over all circular translates (any machine; meaningful for the
    /// equivariant ones, Docs/LocalScores.md §7).
    public static func measure(model: LocalScore, samples: Matrix<Double>, lastStates: Matrix<Double>, tLast: Double,
                               seed: UInt64, shiftAware: Bool = false) throws -> LocalMemorization {
        let count = samples.rows
        guard count >= 2 else { throw ModelError("the memorised fraction needs ≥ 2 samples", parameter: "count") }
        let nb = NearestNeighbours.find(samples: samples, points: model.images)
        let gaps = nb.map { $0.gapRatio ?? 1 }
        let shifted = shiftAware ? try ShiftAwareNeighbours.find(samples: samples, images: model.images, shape: model.shape) : nil
        let hits = gaps.map { $0 < threshold ? 1.0 : 0.0 }
        let shiftHits = shifted?.map { $0.gapRatio < threshold ? 1.0 : 0.0 }
        let (f, se) = bootstrap(hits, seed: seed)
        var distinct: [Double] = [], copy: [Double] = [], residual: [Double] = []
        let C = model.shape.channels
        for r in 0..<count {
            let map = try model.posterior(at: lastStates.row(r), t: tLast, sources: true).sourceMap
            distinct.append(Double(Set(map).count))
            copy.append(Double(map.filter { $0 == nb[r].nearest }.count) / Double(map.count))
            // LS: pixel i's patches sit at i, so the source's patch centre is a_src(i)(i).
            if model.machine == .ls {
                var worst = 0.0
                for (i, source) in map.enumerated() {
                    for c in 0..<C { worst = max(worst, abs(samples[r, i * C + c] - model.images[source, i * C + c])) }
                }
                residual.append(worst)
            }
        }
        return LocalMemorization(samples: count, fraction: f, fractionStderr: se, gapRatios: gaps, nearest: nb.map(\.nearest),
                                 distinctSources: MeanEstimate(distinct), copyFraction: MeanEstimate(copy),
                                 shiftAwareFraction: shiftHits.map { h in
                                     let (m, s) = bootstrap(h, seed: seed)
                                     return MeanEstimate(mean: m, standardError: s, count: count)
                                 },
                                 shiftAware: shifted, consistencyResidual: residual.isEmpty ? nil : MeanEstimate(residual))
    }

    /// Mean of 0/1 `hits` and its bootstrap standard error (1000 resamples, stream 0 of `.bootstrap`).
    static func bootstrap(_ hits: [Double], seed: UInt64) -> (Double, Double) {
        let count = hits.count
        let f = hits.reduce(0, +) / Double(count)
        let rng = RandomStream(seed: seed, stream: 0, domain: .bootstrap)
        var means: [Double] = []
        for _ in 0..<1000 {
            var s = 0.0
            for _ in 0..<count { s += hits[rng.uniformInt(count)] }
            means.append(s / Double(count))
        }
        let mb = means.reduce(0, +) / Double(means.count)
        let se = (means.reduce(0) { $0 + ($1 - mb) * ($1 - mb) } / Double(means.count - 1)).squareRoot()
        return (f, se)
    }
}

/// The nearest training image of a sample up to a circular translation (Docs/LocalScores.md §7).
public struct ShiftAwareNeighbour: Sendable, Codable, Equatable {
    /// argmin_μ d_μ, d_μ = min_s |x − T_s a_μ|, (T_s a)(p) = a(p − s) with indices mod (H, W).
    public var nearest: Int
    /// The best shift (row, column) of the nearest image, each in 0..<H, 0..<W.
    public var shift: [Int]
    public var nearestDistance: Double
    /// min over the other images of d_μ.
    public var secondDistance: Double
    /// d₁/d₂ (1 when d₂ = 0 or with a single training image).
    public var gapRatio: Double
}

/// Distances of samples to all circular translates of the training images, by the 2-D FFT
/// cross-correlation r_μ(s) = x · T_s a_μ (`CircularCorrelator`, GSLKit):
///
///     d_μ² = |x|² + |a_μ|² − 2 max_s r_μ(s),
///
/// cost O(n · H W log(H W)) per sample. The reported d₁, d₂ are recomputed exactly at the best shifts.
public enum ShiftAwareNeighbours {
    /// `maxShift` limits the shifts to circular offsets |s_row|, |s_col| ≤ maxShift (nil: all H·W
    /// shifts; 0: no shift, the plain gap ratio).
    public static func find(samples: Matrix<Double>, images: Matrix<Double>, shape: ImageShape,
                            maxShift: Int? = nil) throws -> [ShiftAwareNeighbour] {
        try shape.check(dimension: images.columns, source: "shift-aware gap ratio")
        guard samples.columns == images.columns else {
            throw ModelError("samples have d = \(samples.columns), the images \(images.columns)", parameter: "samples")
        }
        guard images.rows >= 1 else { throw DataError("shift-aware gap ratio: no training images") }
        if let maxShift, maxShift < 0 { throw ModelError("maxShift must be ≥ 0", parameter: "maxShift") }
        let H = shape.height, W = shape.width, n = images.rows
        func circular(_ k: Int, _ size: Int) -> Int { min(k, size - k) }
        let allowed = (0..<(H * W)).filter { s in
            guard let m = maxShift else { return true }
            return circular(s / W, H) <= m && circular(s % W, W) <= m
        }
        let fft = try CircularCorrelator(height: H, width: W, channels: shape.channels)
        let spectra = (0..<n).map { fft.spectrum(images.rowSlice($0)) }
        let norms = images.rowSquaredNorms(), sampleNorms = samples.rowSquaredNorms()
        var out: [ShiftAwareNeighbour] = []
        for r in 0..<samples.rows {
            let xs = fft.spectrum(samples.rowSlice(r))
            var best: [(Double, Int, Int)] = []   // (approximate d², image, shift)
            for mu in 0..<n {
                let corr = fft.correlation(xs, spectra[mu])
                var s0 = allowed[0]
                for s in allowed where corr[s] > corr[s0] { s0 = s }
                best.append((sampleNorms[r] + norms[mu] - 2 * corr[s0], mu, s0))
            }
            best.sort { $0.0 < $1.0 }
            // Exact distances at the best shifts of the three closest candidates.
            var exact = best.prefix(3).map { (_, mu, s) in (exactDistance(samples.rowSlice(r), images.rowSlice(mu), shift: s, shape: shape), mu, s) }
            exact.sort { $0.0 < $1.0 }
            let d1 = exact[0].0, d2 = exact.count > 1 ? exact[1].0 : 0
            out.append(ShiftAwareNeighbour(nearest: exact[0].1, shift: [exact[0].2 / W, exact[0].2 % W], nearestDistance: d1,
                                           secondDistance: d2, gapRatio: d2 > 0 ? d1 / d2 : 1))
        }
        return out
    }

    /// |x − T_s a| with s = sRow·W + sCol, (T_s a)(p) = a(p − s) circularly.
    static func exactDistance(_ x: ArraySlice<Double>, _ a: ArraySlice<Double>, shift s: Int, shape: ImageShape) -> Double {
        let H = shape.height, W = shape.width, C = shape.channels, sr = s / W, sc = s % W
        let xb = x.startIndex, ab = a.startIndex
        var sum = 0.0
        for row in 0..<H {
            for col in 0..<W {
                let src = (((row - sr) % H + H) % H) * W + ((col - sc) % W + W) % W
                for c in 0..<C {
                    let u = x[xb + (row * W + col) * C + c] - a[ab + src * C + c]
                    sum += u * u
                }
            }
        }
        return sum.squareRoot()
    }
}
