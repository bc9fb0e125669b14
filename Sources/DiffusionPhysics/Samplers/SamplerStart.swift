import GSLKit

/// Where trajectories start.
public enum SamplerStart: Sendable {
    /// `count` fresh draws from the stationary law N(0, I) at the schedule's first level — in VE
    /// variables N(0, (1 + σ₀²) I) (Docs/Theory.md §1.5: needs e^{−2T}Λ ≪ 1).
    case prior(count: Int)
    /// Given states (one row per trajectory) at the schedule's first level, in its variables — e.g.
    /// clones at a branch time.
    case states(Matrix<Double>)

    func count() -> Int {
        switch self {
        case .prior(let n): return n
        case .states(let m): return m.rows
        }
    }

    /// Fills rows 0..<range.count of `x` with the start states of trajectories `range`.
    func fill(_ x: inout Matrix<Double>, range: Range<Int>, rngs: [RandomStream]) {
        let d = x.columns
        switch self {
        case .prior:
            for (r, rng) in rngs.enumerated() { rng.fillGaussian(&x.storage, (r * d)..<((r + 1) * d)) }
        case .states(let m):
            for (r, i) in range.enumerated() { x.setRow(r, m.rowSlice(i)) }
        }
    }
}

/// One random stream per trajectory: trajectory i of a run uses `RandomStream(seed:stream: ids[i], domain: .trajectory)`.
/// Streams are derived from (seed, index), never from the thread that runs them; `StreamPlan` gives
/// each experiment's purposes disjoint id ranges.
public struct StreamIDs: Sendable {
    public let ids: [UInt64]
    public init(_ ids: [UInt64]) { self.ids = ids }
    /// Streams base, base+1, … for `count` trajectories.
    public static func sequential(_ count: Int, base: UInt64 = 0) -> StreamIDs {
        StreamIDs((0..<count).map { base + UInt64($0) })
    }
    func streams(seed: UInt64, range: Range<Int>) -> [RandomStream] {
        range.map { RandomStream(seed: seed, stream: ids[$0], domain: .trajectory) }
    }
}
