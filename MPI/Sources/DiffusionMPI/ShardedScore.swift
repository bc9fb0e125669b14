import DiffusionPhysics
import Foundation

/// The exact empirical score with the training set split across MPI ranks (README "MPI").
///
/// Rank r holds the contiguous slice `shard` of the n training points and evaluates the
/// library's `EmpiricalPosterior` on it alone: per particle its log-sum-exp L_r = ln Σ_{μ∈r} k_μ
/// and its shard-normalised mean m_r = Σ_{μ∈r} w_μ^{(r)} a_μ. Two `MPI_Allreduce`s merge them
/// exactly — the log-sum-exp merge:
///
///     M = max_r L_r                           (MPI_MAX, B doubles)
///     c_r = e^{L_r − M},  S = Σ_r c_r,  N = Σ_r c_r m_r    (MPI_SUM, B·(d+1) doubles)
///     L = M + ln S,   m̂ = N / S,   F = (e^{−t} m̂ − x)/Δ_t
///
/// Nothing overflows (c_r ≤ 1, with c_r = 1 for the rank holding the maximum); a shard whose
/// L_r lies more than ~745 below M contributes exactly 0, as its weights would in one process.
///
/// **Agreement with one process.** Only the order of summation differs: the products Σ_μ w_μ a_μj
/// are summed per shard and then across shards, and each term is rescaled once by c_r/S. The
/// difference in m̂_j is therefore within the GEMM's own bound, |δm̂_j| ≤ (γ_n + 4ε) Σ_μ w_μ|a_μj|
/// with γ_n = nε/(1 − nε) (in practice ~√n·ε), and |δL| ≤ (K + 2)ε·|L| for K ranks. On the test
/// data the score agrees to ~1e-15 relative; the test asserts 1e-12.
///
/// Communication per score step and rank: B + B·(d + 1) doubles in two all-reduces,
/// 8·B·(d + 2) bytes (1.6 MB for B = 256, d = 784) — independent of n.
public final class ShardedEmpiricalScore: @unchecked Sendable {
    public let mpi: MPIHandle
    /// This rank's rows of the global training set.
    public let shard: Range<Int>
    /// Global number of training points.
    public let n: Int
    /// The score of this rank's slice (the library's engine, unchanged).
    public let local: EmpiricalScore
    public var dimension: Int { local.dimension }

    /// Contiguous, balanced blocks: rank r gets rows [r·n/K, (r+1)·n/K).
    public static func shard(of n: Int, rank: Int, size: Int) -> Range<Int> {
        (rank * n / size)..<((rank + 1) * n / size)
    }

    /// `slice` holds rows `shard` of a training set of `globalCount` points; every rank needs at
    /// least one point.
    public init(slice: Matrix<Double>, globalCount: Int, shard: Range<Int>, mpi: MPIHandle) throws {
        guard slice.rows == shard.count, slice.rows >= 1 else {
            throw ModelError("rank \(mpi.rank): shard \(shard) needs ≥ 1 point and \(shard.count) rows, got \(slice.rows)")
        }
        self.mpi = mpi
        self.shard = shard
        self.n = globalCount
        self.local = try EmpiricalScore(points: slice)
    }

    /// Takes this rank's slice of a full training set (tests; at scale each rank loads only its slice).
    public convenience init(full points: Matrix<Double>, mpi: MPIHandle) throws {
        guard points.rows >= mpi.size else { throw ModelError("\(points.rows) points cannot be split across \(mpi.size) ranks") }
        let range = Self.shard(of: points.rows, rank: mpi.rank, size: mpi.size)
        let slice = Matrix(rows: range.count, columns: points.columns,
                           storage: Array(points.storage[(range.lowerBound * points.columns)..<(range.upperBound * points.columns)]))
        try self.init(slice: slice, globalCount: points.rows, shard: range, mpi: mpi)
    }

    /// Timings of the last `evaluate` (seconds): local engine, the two all-reduces.
    public private(set) var lastLocalSeconds = 0.0
    public private(set) var lastReduceSeconds = 0.0

    /// Bytes each rank sends into the all-reduces per evaluation of `rows` particles.
    public func bytesPerStep(rows: Int) -> Int { 8 * rows * (dimension + 2) }

    /// Evaluates rows 0..<rows of `x` at forward time t (collective: every rank calls it with
    /// the same x). Afterwards `workspace.mean`, `.logSumExp` and `.logDensity` hold the GLOBAL
    /// posterior mean, log-sum-exp and ln P_t(x); the weights, Y2, w_max and argmax stay those of
    /// this rank's shard.
    public func evaluate(_ x: Matrix<Double>, rows: Int, t: Double, workspace ws: PosteriorWorkspace) throws {
        let t0 = mpi.wallTime()
        try local.evaluate(x, rows: rows, t: t, workspace: ws, outputs: .mean)
        let t1 = mpi.wallTime()
        let d = dimension
        let localLSE = Array(ws.logSumExp[0..<rows])
        var maxima = localLSE
        mpi.allReduceMax(&maxima)
        var sums = [Double](repeating: 0, count: rows * (d + 1))
        for i in 0..<rows {
            let c = exp(localLSE[i] - maxima[i])
            sums[i * (d + 1)] = c
            if c > 0 { for j in 0..<d { sums[i * (d + 1) + 1 + j] = c * ws.mean[i, j] } }
        }
        mpi.allReduceSum(&sums)
        let correction = log(Double(local.componentCount)) - log(Double(n))
        for i in 0..<rows {
            let s = sums[i * (d + 1)]
            for j in 0..<d { ws.mean[i, j] = sums[i * (d + 1) + 1 + j] / s }
            let lse = maxima[i] + log(s)
            // ln P = LSE − ln n − (d/2) ln(2πΔ): shift the local value by the change of LSE and n.
            ws.logDensity[i] += (lse - localLSE[i]) + correction
            ws.logSumExp[i] = lse
        }
        lastLocalSeconds = t1 - t0
        lastReduceSeconds = mpi.wallTime() - t1
    }

    /// The weights' participation ratio Y2 = Σ_μ w_μ² of rows 0..<rows at forward time t over the
    /// GLOBAL training set (collective), with the global log-sum-exp. Each rank evaluates its
    /// shard (L_r, Y2_r = Σ_{μ∈r} (w_μ^{(r)})²); with M = max_r L_r (MPI_MAX) and c_r = e^{L_r−M}
    /// (MPI_SUM of c_r and c_r² Y2_r):
    ///
    ///     S = Σ_r c_r,   Y2 = Σ_r c_r² Y2_r / S²,   L = M + ln S
    ///
    /// exactly, since w_μ = c_r w_μ^{(r)} / S. Communication: 3·B doubles per call. Afterwards
    /// `workspace` holds this shard's own values.
    public func participationRatios(_ x: Matrix<Double>, rows: Int, t: Double, workspace ws: PosteriorWorkspace) throws -> (y2: [Double], logSumExp: [Double]) {
        let t0 = mpi.wallTime()
        try local.evaluate(x, rows: rows, t: t, workspace: ws, outputs: [])
        let t1 = mpi.wallTime()
        let localLSE = Array(ws.logSumExp[0..<rows])
        var maxima = localLSE
        mpi.allReduceMax(&maxima)
        var sums = [Double](repeating: 0, count: 2 * rows)
        for i in 0..<rows {
            let c = exp(localLSE[i] - maxima[i])
            sums[2 * i] = c
            sums[2 * i + 1] = c * c * ws.participationRatio[i]
        }
        mpi.allReduceSum(&sums)
        var y2 = [Double](repeating: 0, count: rows), lse = y2
        for i in 0..<rows {
            let s = sums[2 * i]
            y2[i] = sums[2 * i + 1] / (s * s)
            lse[i] = maxima[i] + log(s)
        }
        lastLocalSeconds = t1 - t0
        lastReduceSeconds = mpi.wallTime() - t1
        return (y2, lse)
    }

    /// The score F = (e^{−t} m̂ − x)/Δ_t after `evaluate` (the library's formula, on the merged mean).
    public func score(_ x: Matrix<Double>, rows: Int, t: Double, workspace: PosteriorWorkspace, into f: inout Matrix<Double>) {
        local.score(x, rows: rows, t: t, workspace: workspace, into: &f)
    }

    public func makeWorkspace(capacity: Int) -> PosteriorWorkspace {
        local.makeWorkspace(capacity: capacity)
    }
}
