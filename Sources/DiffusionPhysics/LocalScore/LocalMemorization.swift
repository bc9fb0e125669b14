import Foundation
import GSLKit

/// The memorised fraction of samples generated with a local machine and its mosaic diagnostics
/// (Docs/LocalScores.md §7): a sample is memorised iff its gap ratio d₁/d₂ to the training set is
/// < 1/3 (Docs/Theory.md §3.4 M4); the standard error is a bootstrap over samples. Per sample, the
/// source map at the last level (per pixel the training image of largest posterior mass) gives the
/// number of distinct source images and the copy fraction (share of pixels whose source is the
/// nearest training image).
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

    /// The threshold on d₁/d₂.
    public static let threshold = 1.0 / 3

    /// Measures `samples` (rows) against the model's training images; `lastStates` at time `tLast`
    /// give the source maps. `seed` drives the bootstrap (1000 resamples).
    public static func measure(model: LocalScore, samples: Matrix<Double>, lastStates: Matrix<Double>, tLast: Double,
                               seed: UInt64) throws -> LocalMemorization {
        let count = samples.rows
        guard count >= 2 else { throw ModelError("the memorised fraction needs ≥ 2 samples", parameter: "count") }
        let nb = NearestNeighbours.find(samples: samples, points: model.images)
        let gaps = nb.map { $0.gapRatio ?? 1 }
        let hits = gaps.map { $0 < threshold ? 1.0 : 0.0 }
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
        var distinct: [Double] = [], copy: [Double] = []
        for r in 0..<count {
            let map = try model.posterior(at: lastStates.row(r), t: tLast, sources: true).sourceMap
            distinct.append(Double(Set(map).count))
            copy.append(Double(map.filter { $0 == nb[r].nearest }.count) / Double(map.count))
        }
        return LocalMemorization(samples: count, fraction: f, fractionStderr: se, gapRatios: gaps, nearest: nb.map(\.nearest),
                                 distinctSources: MeanEstimate(distinct), copyFraction: MeanEstimate(copy))
    }
}
