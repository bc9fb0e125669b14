import Foundation
import GSLKit

/// Discretisation of the backward SDE dx = [x + 2F(x, t)] dτ + √2 dW (reversed time τ = T − t).
public enum SDEScheme: String, Sendable, CaseIterable, Codable {
    /// Euler–Maruyama, t → s = t − h: x ← x + h (x + 2F) + √(2h) ξ (Docs/Theory.md §1.4(a)).
    /// Unstable with the empirical score once h ≳ Δ_t; use geometric grids.
    case eulerMaruyama = "euler"
    /// Exact-OU ancestral step (Docs/Theory.md §1.4(b)), unconditionally stable:
    /// x_s = (Δ_s e^{−(t−s)}/Δ_t) x_t + (Δ_{t−s} e^{−s}/Δ_t) m̂ + √(Δ_s Δ_{t−s}/Δ_t) ξ.
    case exactOU = "ou"

    /// The runner's stepper for this scheme.
    public var stepper: TrajectoryStepper {
        switch self {
        case .eulerMaruyama: return .eulerMaruyama
        case .exactOU: return .exactOU
        }
    }
}

/// Result of a batch of trajectories.
public struct SamplerResult: Sendable {
    /// Returned samples (after the final step), one row per trajectory.
    public var samples: Matrix<Double>
    /// x(t_min) before the final step.
    public var lastStates: Matrix<Double>
    /// Component (training point / mixture component) drawn at the final step, or the argmax at t_min.
    public var finalComponents: [Int]
    /// Recorded argmax per trajectory and grid time (empty unless recorded).
    public var argmaxPath: [[Int]]
    /// Recorded Y2 per trajectory and grid time (empty unless recorded).
    public var participationPath: [[Double]]
    /// Recorded states per trajectory and grid time, each a row of d numbers (empty unless recorded).
    public var statePath: [[[Double]]] = []

    /// The per-trajectory view of a runner result recorded at every level.
    init(_ run: TrajectoryRun) {
        samples = run.samples
        lastStates = run.finalStates
        finalComponents = run.finalComponents
        let count = run.samples.rows, snaps = run.snapshots
        func path<T>(_ values: (TrajectorySnapshot) -> [T]) -> [[T]] {
            guard let first = snaps.first, !values(first).isEmpty else { return [] }
            return (0..<count).map { r in snaps.map { values($0)[r] } }
        }
        argmaxPath = path(\.argmax)
        participationPath = path(\.participationRatio)
        if let first = snaps.first, first.states.rows > 0 {
            statePath = (0..<count).map { r in snaps.map { $0.states.row(r) } }
        }
    }
}

/// The backward (generative) SDE driven by any `ScoreModel`, batched over trajectories: a façade
/// over `TrajectoryRunner` with the exact-OU or Euler–Maruyama stepper on a `TimeGrid`.
public struct BackwardSDE<Model: ScoreModel>: Sendable {
    public var model: Model
    public var scheme: SDEScheme
    public var finalStep: FinalStep
    public var threads: Int
    public var chunkSize: Int

    public init(model: Model, scheme: SDEScheme = SDESettings.defaultScheme, finalStep: FinalStep = .posteriorDraw,
                threads: Int = Parallel.defaultThreads, chunkSize: Int = Parallel.defaultChunkSize) {
        self.model = model
        self.scheme = scheme
        self.finalStep = finalStep
        self.threads = threads
        self.chunkSize = chunkSize
    }

    /// Runs trajectories from `grid.start` down to `grid.end`. Trajectory i draws from
    /// `RandomStream(seed: seed, stream: streams.ids[i])` (default: stream i, `StreamPurpose.trajectory`).
    public func run(grid: TimeGrid, start: SamplerStart, seed: UInt64, streams: StreamIDs? = nil,
                    recording: TrajectoryRecording = [], progress: ProgressReporter? = nil) throws -> SamplerResult {
        let runner = TrajectoryRunner(model: model, stepper: scheme.stepper, threads: threads, chunkSize: chunkSize)
        return SamplerResult(try runner.run(schedule: grid.times.map { .time($0) }, start: start, seed: seed, streams: streams,
                                            recording: RecordingOptions(recording), finalStep: finalStep, progress: progress))
    }
}
