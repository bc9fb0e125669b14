import GSLKit

/// What a random stream is for, inside one experiment. Each purpose owns a stream domain and a
/// range of stream ids in it; `StreamPlan` gives the ranges and the id of item `index`.
public enum StreamPurpose: String, Sendable, CaseIterable {
    /// Plain sampler runs (backward SDE, probability-flow ODE, PFGM++ priors, trajectory collapse):
    /// trajectory i uses id i. The default of `StreamIDs.sequential`.
    case trajectory
    /// Cloning experiment, the trunk of pair i over segment k (index i·K + k, K branch times).
    case cloneTrunk
    /// Cloning experiment, the first clone of pair i made at branch time k (index i·K + k).
    case cloneA
    /// Cloning experiment, the second clone (index i·K + k).
    case cloneB
    /// U-turn experiment, the backward trajectory of sample i from time index k (index i·K + k).
    case uTurnBackward
    /// U-turn origins and forward noise of sample i (index i; also the population forward samples
    /// of the speciation measurement), in their own domain.
    case uTurnOrigin
    /// Controlled perturbations of a Heun run (noise injection, denoiser error; `HeunPerturbation`):
    /// trajectory i uses item i, disjoint from its prior draw (Docs/PoissonFlow.md §11).
    case fieldPerturbation

    /// The stream domain the purpose draws in.
    public var domain: StreamDomain {
        switch self {
        case .trajectory, .cloneTrunk, .cloneA, .cloneB, .uTurnBackward, .fieldPerturbation: return .trajectory
        case .uTurnOrigin: return .uTurn
        }
    }

    /// Which block of 2⁵⁶ ids of its domain the purpose owns.
    var block: UInt64 {
        switch self {
        case .trajectory: return 0
        case .cloneTrunk: return 1
        case .cloneA: return 2
        case .cloneB: return 3
        case .uTurnBackward: return 4
        case .uTurnOrigin: return 0
        case .fieldPerturbation: return 5
        }
    }
}

/// The stream plan: every random stream of a trajectory experiment is `RandomStream(seed:, stream:
/// id(purpose, index), domain: purpose.domain)`, a function of (seed, purpose, index) only — never of
/// the thread or chunk that runs it. Purpose p owns the ids [b·2⁵⁶, (b+1)·2⁵⁶) of its domain (b its
/// block); blocks within a domain are distinct, so two purposes never share a stream
/// (`overlappingPurposes()` is empty, checked by a test).
public enum StreamPlan {
    /// Items per purpose: 2⁵⁶.
    public static let capacity: UInt64 = 1 << 56

    /// The id range purpose `p` owns in `p.domain`.
    public static func range(_ p: StreamPurpose) -> Range<UInt64> {
        (p.block * capacity)..<((p.block + 1) * capacity)
    }

    /// The stream id of item `index` of purpose `p`.
    public static func id(_ p: StreamPurpose, _ index: UInt64) throws -> UInt64 {
        guard index < capacity else {
            throw ModelError("stream index \(index) exceeds the \(p.rawValue) range (2^56 streams)", parameter: "streams")
        }
        return range(p).lowerBound + index
    }

    /// The stream of item `index` of purpose `p`.
    public static func stream(_ p: StreamPurpose, _ index: UInt64, seed: UInt64) throws -> RandomStream {
        RandomStream(seed: seed, stream: try id(p, index), domain: p.domain)
    }

    /// Streams for `count` trajectories of purpose `p` (a `.trajectory`-domain purpose), item i at
    /// index i·stride + offset (a grid of items × slots, e.g. pairs × branch times).
    public static func ids(_ p: StreamPurpose, count: Int, stride: Int = 1, offset: Int = 0) throws -> StreamIDs {
        precondition(p.domain == .trajectory, "StreamIDs run in the trajectory domain")
        guard count >= 0, stride >= 1, offset >= 0, offset < stride else {
            throw ModelError("bad stream grid: count \(count), stride \(stride), offset \(offset)", parameter: "streams")
        }
        let (total, overflow) = UInt64(count).multipliedReportingOverflow(by: UInt64(stride))
        guard !overflow, total <= capacity else {
            throw ModelError("\(count) × \(stride) streams exceed the \(p.rawValue) range (2^56)", parameter: "streams")
        }
        return StreamIDs(try (0..<count).map { try id(p, UInt64($0) * UInt64(stride) + UInt64(offset)) })
    }

    /// Pairs of distinct purposes whose id ranges intersect in the same domain (empty by construction).
    public static func overlappingPurposes() -> [(StreamPurpose, StreamPurpose)] {
        var out: [(StreamPurpose, StreamPurpose)] = []
        let all = StreamPurpose.allCases
        for (i, a) in all.enumerated() {
            for b in all[(i + 1)...] where a.domain == b.domain && range(a).overlaps(range(b)) { out.append((a, b)) }
        }
        return out
    }
}
