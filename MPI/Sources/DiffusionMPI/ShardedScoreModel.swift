import DiffusionPhysics
import Foundation

/// The sharded exact score as a library `ScoreModel` (README "MPI"), so the library's samplers and
/// estimators — `BackwardSDE` (sample), `CloningExperiment` and `ForwardClassAgreement`
/// (speciation: φ by clones and the Rao–Blackwellised forward estimator) — run on it unchanged.
///
/// Every evaluation is collective (run with threads = 1: chunks in the same order on every rank).
/// Rank r evaluates its shard with the library engine (L_r = ln Σ_{μ∈r} k_μ, shard-normalised
/// weights w^{(r)}); with M = max_r L_r (MPI_MAX), c_r = e^{L_r − M} and S = Σ_r c_r, one MPI_SUM of
/// per row [c_r, c_r w_max^{(r)}, argmax_r | c_r² Y2_r | c_r Σ_{μ∈r,c} w_μ^{(r)} | c_r m_r] gives exactly
///
///     w_μ = c_r w_μ^{(r)}/S,  m̂ = Σ_r c_r m_r/S,  p_c = Σ_r c_r p_{r,c}/S,  Y2 = Σ_r c_r² Y2_r/S²,
///     L = M + ln S,  w_max = max_r c_r w_max^{(r)}/S (argmax: the first rank holding it, global index).
///
/// An exact posterior draw (`posteriorDraw`) consumes one uniform u exactly like the one-process
/// `RandomStream.categorical`: the rank whose share interval [Σ_{r'<r} c_{r'}/S, Σ_{r'≤r} c_{r'}/S)
/// holds u scans its own weights and broadcasts the point (an MPI_SUM of d + 1 doubles).
/// Agreement with one process: the same draws, summation order only (the bound of
/// `ShardedEmpiricalScore`); a categorical draw can differ only when u falls within rounding of a
/// cumulative boundary.
///
/// Communication per evaluation of B rows: B doubles (max) + B·(3K + 1 + C + d) doubles (sum; C
/// classes, the d only when the mean is requested, K ranks).
///
/// Conventions: `componentCount` is this rank's shard size (the workspace holds its weights);
/// `componentClasses` is the GLOBAL class index of all n points and returned components are global
/// row indices, so clone outcomes compare as in one process.
public final class ShardedScoreModel: ScoreModel, @unchecked Sendable {
    public let sharded: ShardedEmpiricalScore
    /// Global class index (0..<classCount) of each of the n points, or nil.
    public let globalClasses: [Int]?
    public let classCount: Int
    /// Bytes this rank has sent into all-reduces so far.
    public private(set) var communicationBytes = 0
    /// Per row of the last evaluation: the ranks' shares c_r/S.
    private var shares: [[Double]] = []

    /// `labels`: the global labels of all n points (nil: unlabelled).
    public init(sharded: ShardedEmpiricalScore, labels: [Int]?) throws {
        self.sharded = sharded
        if let labels {
            guard labels.count == sharded.n else { throw ModelError("\(labels.count) labels for \(sharded.n) points") }
            let distinct = Array(Set(labels)).sorted()
            let index = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, $0) })
            globalClasses = labels.map { index[$0]! }
            classCount = distinct.count
        } else {
            globalClasses = nil
            classCount = 0
        }
    }

    public var dimension: Int { sharded.dimension }
    public var componentCount: Int { sharded.shard.count }
    public var componentClasses: [Int]? { globalClasses }

    public func evaluate(_ x: Matrix<Double>, rows: Int, t: Double, workspace ws: PosteriorWorkspace,
                         outputs: PosteriorOutputs) throws {
        let mpi = sharded.mpi, K = mpi.size, rank = mpi.rank, d = dimension
        let wantsMean = outputs.contains(.mean), C = outputs.contains(.classProbabilities) ? classCount : 0
        try sharded.local.evaluate(x, rows: rows, t: t, workspace: ws, outputs: wantsMean ? .mean : [])
        let localLSE = Array(ws.logSumExp[0..<rows])
        var maxima = localLSE
        mpi.allReduceMax(&maxima)
        let stride = 3 * K + 1 + C + (wantsMean ? d : 0)
        var sums = [Double](repeating: 0, count: rows * stride)
        let lower = sharded.shard.lowerBound, nLocal = componentCount
        for i in 0..<rows {
            let c = exp(localLSE[i] - maxima[i]), o = i * stride
            sums[o + rank] = c
            sums[o + K + rank] = c * ws.maxWeight[i]
            sums[o + 2 * K + rank] = Double(lower + ws.argmax[i])
            sums[o + 3 * K] = c * c * ws.participationRatio[i]
            if C > 0, let classes = globalClasses, c > 0 {
                for mu in 0..<nLocal { sums[o + 3 * K + 1 + classes[lower + mu]] += c * ws.weights[i, mu] }
            }
            if wantsMean, c > 0 { for j in 0..<d { sums[o + 3 * K + 1 + C + j] = c * ws.mean[i, j] } }
        }
        mpi.allReduceSum(&sums)
        communicationBytes += 8 * rows * (1 + stride)
        let correction = log(Double(nLocal)) - log(Double(sharded.n))
        shares = Array(repeating: [], count: rows)
        for i in 0..<rows {
            let o = i * stride
            let s = (0..<K).reduce(0.0) { $0 + sums[o + $1] }
            shares[i] = (0..<K).map { sums[o + $0] / s }
            var best = 0
            for k in 1..<max(1, K) where sums[o + K + k] > sums[o + K + best] { best = k }
            ws.maxWeight[i] = sums[o + K + best] / s
            ws.argmax[i] = Int(sums[o + 2 * K + best])
            ws.participationRatio[i] = sums[o + 3 * K] / (s * s)
            for c in 0..<C { ws.classProbabilities[i, c] = sums[o + 3 * K + 1 + c] / s }
            if wantsMean { for j in 0..<d { ws.mean[i, j] = sums[o + 3 * K + 1 + C + j] / s } }
            let lse = maxima[i] + log(s)
            ws.logDensity[i] += (lse - localLSE[i]) + correction
            ws.logSumExp[i] = lse
        }
    }

    public func posteriorDraw(row: Int, x: Matrix<Double>, t: Double, workspace ws: PosteriorWorkspace,
                              rng: RandomStream, into a: inout [Double]) -> Int {
        let mpi = sharded.mpi, d = dimension
        let share = shares[row]
        var u = rng.uniform()
        var owner = 0
        while owner < share.count - 1 && (u >= share[owner] || share[owner] == 0) { u -= share[owner]; owner += 1 }
        var buffer = [Double](repeating: 0, count: d + 1)
        if owner == mpi.rank {
            // The categorical scan of RandomStream over this shard's weights, at u relative to the shard.
            let w = ws.weights(row: row)
            var total = 0.0
            for v in w { total += v }
            var rest = u / share[owner] * total, last = w.startIndex, pick = -1
            for i in w.indices {
                if w[i] > 0 { last = i }
                rest -= w[i]
                if rest < 0 { pick = i - w.startIndex; break }
            }
            if pick < 0 { pick = last - w.startIndex }
            buffer[0] = Double(sharded.shard.lowerBound + pick)
            let point = sharded.local.points.rowSlice(pick)
            for (j, v) in point.enumerated() { buffer[1 + j] = v }
        }
        mpi.allReduceSum(&buffer)
        communicationBytes += 8 * (d + 1)
        a = Array(buffer[1...])
        return Int(buffer[0])
    }
}
