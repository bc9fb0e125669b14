import Foundation
import GSLKit

/// Discretisation of the backward SDE dx = [x + 2F(x, t)] dτ + √2 dW (reversed time τ = T − t).
public enum SDEScheme: String, Sendable, CaseIterable {
    /// Euler–Maruyama, t → s = t − h: x ← x + h (x + 2F) + √(2h) ξ (THEORY §1.4(a)).
    /// Unstable with the empirical score once h ≳ Δ_t; use geometric grids.
    case eulerMaruyama = "euler"
    /// Exact-OU ancestral step (THEORY §1.4(b)), unconditionally stable:
    /// x_s = (Δ_s e^{−(t−s)}/Δ_t) x_t + (Δ_{t−s} e^{−s}/Δ_t) m̂ + √(Δ_s Δ_{t−s}/Δ_t) ξ.
    case exactOU = "ou"
}

/// What the generative process does at t_min (THEORY §1.4(b)).
public enum FinalStep: String, Sendable, CaseIterable {
    /// Return x(t_min) as is.
    case none
    /// Return the posterior mean m̂(x(t_min), t_min) (Tweedie).
    case posteriorMean = "mean"
    /// Return a ~ P(a | x(t_min)): for the empirical score, a training point μ ~ Categorical(w).
    case posteriorDraw = "draw"
}

extension FinalStep {
    /// Applies the final step to the b rows of `x` at t_min (after `evaluate` with `.mean`):
    /// returns the samples and, per row, the drawn component (or the argmax when nothing is drawn).
    func apply<Model: ScoreModel>(model: Model, x: Matrix<Double>, t: Double, workspace ws: PosteriorWorkspace,
                                  rngs: [RandomStream]) -> (Matrix<Double>, [Int]) {
        let b = x.rows, d = x.columns
        var samples = x
        var components = Array(ws.argmax[0..<b])
        switch self {
        case .none: break
        case .posteriorMean:
            for j in 0..<(b * d) { samples.storage[j] = ws.mean.storage[j] }
        case .posteriorDraw:
            var a = [Double](repeating: 0, count: d)
            for r in 0..<b {
                components[r] = model.posteriorDraw(row: r, x: x, t: t, workspace: ws, rng: rngs[r], into: &a)
                samples.setRow(r, a)
            }
        }
        return (samples, components)
    }
}

/// What a run records at every grid time (row = trajectory, column = grid index).
public struct TrajectoryRecording: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// argmax_μ w_μ(x(t_k), t_k): the nearest scaled training point a_μ e^{−t} (collapse tracking, THEORY §3.4 M2).
    public static let argmax = TrajectoryRecording(rawValue: 1)
    /// Y2 = Σ w² along the path.
    public static let participationRatio = TrajectoryRecording(rawValue: 2)
    /// The state x(t_k) itself (B × K × d numbers: for small d, e.g. trajectory figures).
    public static let states = TrajectoryRecording(rawValue: 4)
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
}

/// The backward (generative) SDE driven by any `ScoreModel`, batched over trajectories.
public struct BackwardSDE<Model: ScoreModel>: Sendable {
    public var model: Model
    public var scheme: SDEScheme
    public var finalStep: FinalStep
    public var threads: Int
    public var chunkSize: Int

    public init(model: Model, scheme: SDEScheme = .exactOU, finalStep: FinalStep = .posteriorDraw,
                threads: Int = Parallel.defaultThreads, chunkSize: Int = Parallel.defaultChunkSize) {
        self.model = model
        self.scheme = scheme
        self.finalStep = finalStep
        self.threads = threads
        self.chunkSize = chunkSize
    }

    /// Runs trajectories from `grid.start` down to `grid.end`. Trajectory i draws from
    /// `RandomStream(seed: seed, stream: streams.ids[i])` (default: stream i).
    public func run(grid: TimeGrid, start: SamplerStart, seed: UInt64, streams: StreamIDs? = nil,
                    recording: TrajectoryRecording = [], progress: ProgressReporter? = nil) throws -> SamplerResult {
        let count = start.count()
        let d = model.dimension
        if case .states(let m) = start, m.columns != d {
            throw ModelError("start states have \(m.columns) coordinates, the model has d = \(d)")
        }
        let ids = streams ?? StreamIDs.sequential(count)
        guard ids.ids.count >= count else { throw ModelError("\(ids.ids.count) streams for \(count) trajectories") }
        let times = grid.times
        let chunks = try Parallel.mapChunks(count: count, chunkSize: chunkSize, threads: threads,
                                            makeWorkspace: { model.makeWorkspace(capacity: chunkSize) }) { ws, range in
            try runChunk(range: range, times: times, start: start, seed: seed, ids: ids, ws: ws,
                         recording: recording, progress: progress)
        }
        var result = SamplerResult(samples: Matrix(rows: 0, columns: d), lastStates: Matrix(rows: 0, columns: d),
                                   finalComponents: [], argmaxPath: [], participationPath: [])
        result.samples = Matrix(rows: count, columns: d, storage: chunks.flatMap { $0.samples.storage })
        result.lastStates = Matrix(rows: count, columns: d, storage: chunks.flatMap { $0.lastStates.storage })
        for c in chunks {
            result.finalComponents += c.finalComponents
            result.argmaxPath += c.argmaxPath
            result.participationPath += c.participationPath
            result.statePath += c.statePath
        }
        return result
    }

    private func runChunk(range: Range<Int>, times: [Double], start: SamplerStart, seed: UInt64, ids: StreamIDs,
                          ws: PosteriorWorkspace, recording: TrajectoryRecording,
                          progress: ProgressReporter?) throws -> SamplerResult {
        let b = range.count, d = model.dimension
        let rngs = ids.streams(seed: seed, range: range)
        var x = Matrix<Double>(rows: b, columns: d)
        start.fill(&x, range: range, rngs: rngs)
        var argmaxPath = recording.contains(.argmax) ? Array(repeating: [Int](repeating: 0, count: times.count), count: b) : []
        var y2Path = recording.contains(.participationRatio) ? Array(repeating: [Double](repeating: 0, count: times.count), count: b) : []
        var statePath = recording.contains(.states) ? Array(repeating: [[Double]](), count: b) : []
        func record(_ k: Int) {
            for r in 0..<b {
                if !argmaxPath.isEmpty { argmaxPath[r][k] = ws.argmax[r] }
                if !y2Path.isEmpty { y2Path[r][k] = ws.participationRatio[r] }
                if !statePath.isEmpty { statePath[r].append(x.row(r)) }
            }
        }
        for k in 0..<(times.count - 1) {
            let t = times[k], s = times[k + 1]
            try model.evaluate(x, rows: b, t: t, workspace: ws, outputs: .mean)
            record(k)
            switch scheme {
            case .exactOU:
                let deltaT = ForwardProcess.delta(t), deltaS = ForwardProcess.delta(s), deltaTS = ForwardProcess.delta(t - s)
                let cx = deltaS * exp(-(t - s)) / deltaT
                let cm = deltaTS * exp(-s) / deltaT
                let sd = (deltaS * deltaTS / deltaT).squareRoot()
                for r in 0..<b {
                    let rng = rngs[r]
                    for j in (r * d)..<((r + 1) * d) {
                        x.storage[j] = cx * x.storage[j] + cm * ws.mean.storage[j] + sd * rng.gaussian()
                    }
                }
            case .eulerMaruyama:
                let h = t - s, deltaT = ForwardProcess.delta(t), decay = exp(-t), sd = (2 * h).squareRoot()
                for r in 0..<b {
                    let rng = rngs[r]
                    for j in (r * d)..<((r + 1) * d) {
                        let f = (decay * ws.mean.storage[j] - x.storage[j]) / deltaT
                        x.storage[j] += h * (x.storage[j] + 2 * f) + sd * rng.gaussian()
                    }
                }
            }
            if !x.storage.allSatisfy({ $0.isFinite }) {
                throw ModelError("backward SDE diverged at t = \(s) (try the exact-OU scheme or a finer grid)")
            }
        }
        let tMin = times[times.count - 1]
        try model.evaluate(x, rows: b, t: tMin, workspace: ws, outputs: .mean)
        record(times.count - 1)
        let (samples, components) = finalStep.apply(model: model, x: x, t: tMin, workspace: ws, rngs: rngs)
        progress?.advance(b)
        return SamplerResult(samples: samples, lastStates: x, finalComponents: components,
                             argmaxPath: argmaxPath, participationPath: y2Path, statePath: statePath)
    }
}
