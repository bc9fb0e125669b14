import DiffusionPhysics
import Foundation

/// Planted forward sampling on a sharded training set (README "MPI"): the E[Y2](t) curve of
/// `diffphys collapse` (= `ForwardSampling` with planted origins) with the training set split
/// across ranks and no rank holding it whole.
///
/// Sample i draws its origin μ0 (a GLOBAL row index) and its noise ξ from
/// `RandomStream(seed:stream: i, domain: .forward)` exactly as `OriginDraws.planted` does, on
/// every rank. The rank owning μ0 puts a_μ0 into the chunk's origin block and one MPI_SUM
/// all-reduce assembles it (each row is non-zero on one rank only, so the sum is exact); then
/// every rank forms the same x = e^{−t} a_μ0 + √Δ_t ξ at each time and the sharded score merges
/// the shards' Y2 exactly (`ShardedEmpiricalScore.participationRatios`).
///
/// **Agreement with one process.** The draws are identical; only rounding differs. One process
/// assembles the products from common-noise parts (x·a = e^{−t} a_μ0·a + √Δ_t ξ·a), this type
/// evaluates x·a directly; the engine's guard keeps the error of every ln k_μ below 10⁻¹⁰ on
/// both paths, so each w_μ is within a relative 2·10⁻¹⁰ (+ the merge's few ε) and each sample's
/// Y2 within a relative 4·10⁻¹⁰ + O(Kε): the means E[Y2] agree to that relative bound.
///
/// Communication per chunk of B samples: B·d doubles once (origins), then 3·B doubles per time.
public struct ShardedForwardSampling {
    public let score: ShardedEmpiricalScore
    public let chunkSize: Int

    public init(score: ShardedEmpiricalScore, chunkSize: Int = 256) {
        self.score = score
        self.chunkSize = chunkSize
    }

    /// Per-time mean Y2 (with standard error) over `samples` planted forward samples of seed
    /// `seed` (collective; every rank gets the result). Also returns the time spent in local
    /// work and in all-reduces (this rank).
    public func y2Curve(times: [Double], samples: Int, seed: UInt64) throws -> (curve: [(t: Double, y2: MeanEstimate)], localSeconds: Double, reduceSeconds: Double, bytes: Int) {
        guard samples >= 2 else { throw ModelError("need at least 2 forward samples, got \(samples)") }
        for t in times where !(t > 0 && t.isFinite) { throw ModelError("forward time t must be finite and > 0, got \(t)") }
        let d = score.dimension, n = score.n, shard = score.shard, points = score.local.points
        let mpi = score.mpi
        let ws = score.makeWorkspace(capacity: chunkSize)
        var values = [[Double]](repeating: [], count: times.count)
        var local = 0.0, reduce = 0.0, bytes = 0
        var start = 0
        while start < samples {
            let b = min(chunkSize, samples - start)
            var origin = [Double](repeating: 0, count: b * d)
            var noise = [Double](repeating: 0, count: b * d)
            for r in 0..<b {
                let rng = RandomStream(seed: seed, stream: UInt64(start + r), domain: .forward)
                let mu = rng.uniformInt(n)
                rng.fillGaussian(&noise, (r * d)..<((r + 1) * d))
                if shard.contains(mu) {
                    let row = points.rowSlice(mu - shard.lowerBound)
                    for (j, v) in row.enumerated() { origin[r * d + j] = v }
                }
            }
            let t0 = mpi.wallTime()
            mpi.allReduceSum(&origin)
            reduce += mpi.wallTime() - t0
            bytes += 8 * b * d
            var x = Matrix<Double>(rows: b, columns: d)
            for (k, t) in times.enumerated() {
                let decay = exp(-t), spread = ForwardProcess.delta(t).squareRoot()
                for i in 0..<(b * d) { x.storage[i] = origin[i] * decay + spread * noise[i] }
                let (y2, _) = try score.participationRatios(x, rows: b, t: t, workspace: ws)
                values[k] += y2
                local += score.lastLocalSeconds
                reduce += score.lastReduceSeconds
                bytes += 8 * 3 * b
            }
            start += b
        }
        return (zip(times, values).map { ($0, MeanEstimate($1)) }, local, reduce, bytes)
    }
}
