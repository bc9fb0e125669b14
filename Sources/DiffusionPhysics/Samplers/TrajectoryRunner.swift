import Foundation
import GSLKit

/// How the trajectory runner advances a batch of states from one level of its schedule to the next.
public enum TrajectoryStepper: Sendable, Equatable {
    /// Exact-OU ancestral step of the backward SDE (Docs/Theory.md §1.4(b)); schedule in forward times.
    case exactOU
    /// Euler–Maruyama step of the backward SDE (Docs/Theory.md §1.4(a)); schedule in forward times.
    case eulerMaruyama
    /// The probability-flow ODE dy/ds = y − m̂(y, σ), s = ln σ, in VE variables (Docs/Theory.md §1.4(d),
    /// Docs/PoissonFlow.md §3.4), integrated by `gsl_odeiv2` between consecutive schedule levels; the whole
    /// chunk is one GSL system. Schedule in times (states x, mapped to y = x eᵗ) or in σ (states y).
    case adaptive(stepper: ODEStepper = .rk8pd, relativeTolerance: Double = 1e-9, absoluteTolerance: Double = 1e-9,
                  initialStep: Double = 1e-2)
    /// Heun steps of dx/dσ = (x − m(x, σ))/σ between consecutive σ levels (EDM; Docs/PoissonFlow.md §3.8).
    case heun

    /// The level kinds the stepper accepts in a schedule.
    var acceptedKinds: [NoiseKind] {
        switch self {
        case .exactOU, .eulerMaruyama: return [.time]
        case .adaptive: return [.time, .sigma]
        case .heun: return [.sigma]
        }
    }
}

/// What the generative process does at the last level of the schedule (Docs/Theory.md §1.4(b)).
public enum FinalStep: String, Sendable, CaseIterable {
    /// Return the final state as is.
    case none
    /// Return the posterior mean m̂ at the last level (Tweedie; PFGM++'s denoising step).
    case posteriorMean = "mean"
    /// Return a ~ P(a | state): for the empirical score, a training point μ ~ Categorical(w).
    case posteriorDraw = "draw"
}

extension FinalStep {
    /// Applies the final step to the b rows of `x` at `level` (after `evaluate` with `.mean`):
    /// returns the samples and, per row, the drawn component (or the argmax when nothing is drawn).
    func apply<Model: NoiseModel>(model: Model, x: Matrix<Double>, level: NoiseLevel, workspace ws: PosteriorWorkspace,
                                  rngs: [RandomStream]) -> (Matrix<Double>, [Int]) {
        let b = x.rows, d = x.columns
        var samples = x
        var components = Array(ws.argmax[0..<b])
        switch self {
        case .none: break
        case .posteriorMean:
            for j in 0..<(b * d) { samples.storage[j] = ws.mean.storage[j] }
        case .posteriorDraw:
            let (native, nativeLevel) = model.nativeStates(x, rows: b, at: level)
            var a = [Double](repeating: 0, count: d)
            for r in 0..<b {
                components[r] = model.posteriorDraw(row: r, x: native, at: nativeLevel, workspace: ws, rng: rngs[r], into: &a)
                samples.setRow(r, a)
            }
        }
        return (samples, components)
    }
}

/// What a run records at a level (row = trajectory).
public struct TrajectoryRecording: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// argmax_μ w_μ: for the Gaussian kernel the nearest scaled training point a_μ e^{−t} (collapse tracking, Docs/Theory.md §3.4 M2).
    public static let argmax = TrajectoryRecording(rawValue: 1)
    /// Y2 = Σ w² along the path.
    public static let participationRatio = TrajectoryRecording(rawValue: 2)
    /// The state itself (B × K × d numbers: for small d, e.g. trajectory figures).
    public static let states = TrajectoryRecording(rawValue: 4)
    /// w_max = max_μ w_μ (collapse level, Docs/PoissonFlow.md §8.2).
    public static let maxWeight = TrajectoryRecording(rawValue: 8)
    /// Posterior class probabilities p_c (speciation level).
    public static let classProbabilities = TrajectoryRecording(rawValue: 16)
}

/// The one recording / snapshot option set of the runner: which quantities, at which schedule levels.
public struct RecordingOptions: Sendable, Equatable {
    public var quantities: TrajectoryRecording
    /// Indices into the schedule (ascending, distinct); nil: every level.
    public var levels: [Int]?

    public init(_ quantities: TrajectoryRecording = [], at levels: [Int]? = nil) {
        self.quantities = quantities
        self.levels = levels
    }
}

/// Everything recorded at one level for every trajectory (arrays empty unless recorded).
public struct TrajectorySnapshot: Sendable {
    public var level: NoiseLevel
    /// count × d states in the schedule's variables (0 rows unless `.states` is recorded).
    public var states: Matrix<Double>
    public var argmax: [Int]
    public var participationRatio: [Double]
    public var maxWeight: [Double]
    /// count × classes (0 rows unless recorded, or without labels).
    public var classProbabilities: Matrix<Double>
}

/// The result of a runner call.
public struct TrajectoryRun: Sendable {
    /// Returned samples (after the final step), one row per trajectory.
    public var samples: Matrix<Double>
    /// States at the last level, before the final step (in the schedule's variables).
    public var finalStates: Matrix<Double>
    /// Component drawn by the final step, or the argmax at the last level.
    public var finalComponents: [Int]
    /// w_max at the last level.
    public var finalMaxWeight: [Double]
    /// One snapshot per recorded level, in schedule order.
    public var snapshots: [TrajectorySnapshot]
}

/// The one chunked trajectory loop: a batch of trajectories follows a decreasing noise schedule
/// under a pluggable `TrajectoryStepper`, with per-level recording and a final step. Chunks of
/// `chunkSize` trajectories run through `Parallel.mapChunks`; trajectory i draws only from
/// `RandomStream(seed:stream: streams.ids[i], domain: .trajectory)` (prior, SDE noise, final draw),
/// so results do not depend on the thread count.
///
/// States are in the variables of the schedule's levels (x for times, y for σ). `.prior` starts
/// draw the VP stationary law N(0, I) in x, i.e. N(0, (1 + σ₀²) I) in y (Docs/Theory.md §1.5).
public struct TrajectoryRunner<Model: NoiseModel>: Sendable {
    public var model: Model
    public var stepper: TrajectoryStepper
    public var threads: Int
    public var chunkSize: Int

    public init(model: Model, stepper: TrajectoryStepper, threads: Int = Parallel.defaultThreads,
                chunkSize: Int = Parallel.defaultChunkSize) {
        self.model = model
        self.stepper = stepper
        self.threads = threads
        self.chunkSize = chunkSize
    }

    /// Checks a schedule: ≥ 2 levels of one kind the stepper accepts, finite, > 0, strictly decreasing.
    public func validate(schedule: [NoiseLevel]) throws {
        guard schedule.count >= 2 else { throw ModelError("a schedule needs at least two levels", parameter: "schedule") }
        let kind = schedule[0].kind
        guard schedule.allSatisfy({ $0.kind == kind }) else {
            throw ModelError("a schedule mixes times and σ levels", parameter: "schedule")
        }
        guard stepper.acceptedKinds.contains(kind) else {
            throw ModelError("the \(stepper) stepper needs a schedule in \(stepper.acceptedKinds.map(\.rawValue).joined(separator: " or ")), got \(kind.rawValue)",
                             parameter: "schedule")
        }
        for level in schedule { try level.validate() }
        guard zip(schedule, schedule.dropFirst()).allSatisfy({ $0.value > $1.value }) else {
            throw ModelError("schedule levels must decrease strictly", parameter: "schedule")
        }
    }

    /// Runs `start.count()` trajectories along `schedule` (first level: the start).
    public func run(schedule: [NoiseLevel], start: SamplerStart, seed: UInt64, streams: StreamIDs? = nil,
                    recording: RecordingOptions = RecordingOptions(), finalStep: FinalStep = .none,
                    perturbation: HeunPerturbation? = nil,
                    progress: ProgressReporter? = nil) throws -> TrajectoryRun {
        try validate(schedule: schedule)
        let perturbation = try perturbation.flatMap { p -> HeunPerturbation? in
            try p.validate()
            guard p.isActive else { return nil }
            guard stepper == .heun else { throw ModelError("perturbed runs (noise injection, denoiser error) need the Heun stepper", parameter: "perturbation") }
            return p
        }
        if case .adaptive(_, let rtol, let atol, let h) = stepper {
            guard rtol >= 0, atol >= 0, rtol + atol > 0 else {
                throw ModelError("ODE tolerances must be ≥ 0, not both 0", parameter: "tolerance")
            }
            guard h > 0, h.isFinite else { throw ModelError("the initial ODE step must be > 0", parameter: "initialStep") }
        }
        let count = start.count(), d = model.dimension
        if case .states(let m) = start {
            guard m.columns == d else {
                throw ModelError("start states have \(m.columns) coordinates, the model has d = \(d)", parameter: "start")
            }
        }
        let ids = streams ?? StreamIDs.sequential(count)
        guard ids.ids.count >= count else {
            throw ModelError("\(ids.ids.count) streams for \(count) trajectories", parameter: "streams")
        }
        let recorded = recording.quantities.isEmpty ? [] : (recording.levels ?? Array(schedule.indices))
        guard zip(recorded, recorded.dropFirst()).allSatisfy({ $0 < $1 }), recorded.allSatisfy(schedule.indices.contains) else {
            throw ModelError("recorded levels must be distinct schedule indices in ascending order", parameter: "recording")
        }
        let chunks = try Parallel.mapChunks(count: count, chunkSize: chunkSize, threads: threads,
                                            makeWorkspace: { model.makeWorkspace(capacity: chunkSize) }) { ws, range in
            try runChunk(range: range, schedule: schedule, start: start, seed: seed, ids: ids, ws: ws,
                         quantities: recording.quantities, recorded: Set(recorded), finalStep: finalStep,
                         perturbation: perturbation, progress: progress)
        }
        let classes = model.classCount
        var snapshots: [TrajectorySnapshot] = []
        for (slot, k) in recorded.enumerated() {
            let parts = chunks.map { $0.snapshots[slot] }
            let withStates = recording.quantities.contains(.states)
            let withClasses = recording.quantities.contains(.classProbabilities) && classes > 0
            snapshots.append(TrajectorySnapshot(
                level: schedule[k],
                states: Matrix(rows: withStates ? count : 0, columns: d, storage: parts.flatMap { $0.states.storage }),
                argmax: parts.flatMap(\.argmax), participationRatio: parts.flatMap(\.participationRatio),
                maxWeight: parts.flatMap(\.maxWeight),
                classProbabilities: Matrix(rows: withClasses ? count : 0, columns: classes,
                                           storage: parts.flatMap { $0.classProbabilities.storage })))
        }
        return TrajectoryRun(samples: Matrix(rows: count, columns: d, storage: chunks.flatMap { $0.samples.storage }),
                             finalStates: Matrix(rows: count, columns: d, storage: chunks.flatMap { $0.finalStates.storage }),
                             finalComponents: chunks.flatMap(\.finalComponents), finalMaxWeight: chunks.flatMap(\.finalMaxWeight),
                             snapshots: snapshots)
    }

    private struct Chunk {
        var samples, finalStates: Matrix<Double>
        var finalComponents: [Int]
        var finalMaxWeight: [Double]
        var snapshots: [TrajectorySnapshot]
    }

    private func runChunk(range: Range<Int>, schedule: [NoiseLevel], start: SamplerStart, seed: UInt64, ids: StreamIDs,
                          ws: PosteriorWorkspace, quantities: TrajectoryRecording, recorded: Set<Int>, finalStep: FinalStep,
                          perturbation: HeunPerturbation? = nil, progress: ProgressReporter?) throws -> Chunk {
        let b = range.count, d = model.dimension, classes = model.classCount
        let rngs = ids.streams(seed: seed, range: range)
        var x = Matrix<Double>(rows: b, columns: d)
        start.fill(&x, range: range, rngs: rngs)
        if case .prior = start, schedule[0].kind == .sigma {
            let c = exp(schedule[0].time)
            for j in 0..<(b * d) { x.storage[j] *= c }
        }
        let wantsClasses = quantities.contains(.classProbabilities) && classes > 0
        var snapshots: [TrajectorySnapshot] = []
        /// Outputs of an evaluation at level k: `base`, plus class probabilities where they are recorded.
        func outputs(_ k: Int, _ base: PosteriorOutputs) -> PosteriorOutputs {
            wantsClasses && recorded.contains(k) ? base.union(.classProbabilities) : base
        }
        /// Records level k from the workspace (after an evaluation at that level) and `x`.
        func record(_ k: Int) {
            guard recorded.contains(k) else { return }
            var cp = Matrix<Double>(rows: wantsClasses ? b : 0, columns: classes)
            if wantsClasses { for i in 0..<(b * classes) { cp.storage[i] = ws.classProbabilities.storage[i] } }
            snapshots.append(TrajectorySnapshot(
                level: schedule[k],
                states: quantities.contains(.states) ? x : Matrix(rows: 0, columns: d),
                argmax: quantities.contains(.argmax) ? Array(ws.argmax[0..<b]) : [],
                participationRatio: quantities.contains(.participationRatio) ? Array(ws.participationRatio[0..<b]) : [],
                maxWeight: quantities.contains(.maxWeight) ? Array(ws.maxWeight[0..<b]) : [],
                classProbabilities: cp))
        }
        let last = schedule.count - 1
        switch stepper {
        case .exactOU, .eulerMaruyama:
            for k in 0..<last {
                let t = schedule[k].value, s = schedule[k + 1].value
                try model.evaluate(x, rows: b, at: schedule[k], workspace: ws, outputs: outputs(k, .mean))
                record(k)
                if stepper == .exactOU {
                    SDEStep.exactOU(&x, mean: ws.mean, from: t, to: s, rngs: rngs)
                } else {
                    SDEStep.eulerMaruyama(&x, mean: ws.mean, from: t, to: s, rngs: rngs)
                }
                if !x.storage.allSatisfy({ $0.isFinite }) {
                    throw ModelError("backward SDE diverged at t = \(s) (try the exact-OU scheme or a finer grid)", parameter: "scheme")
                }
            }
        case .heun:
            var d0 = Matrix<Double>(rows: b, columns: d), x1 = Matrix<Double>(rows: b, columns: d)
            for k in 0..<last {
                let s0 = schedule[k].value, s1 = schedule[k + 1].value, h = s1 - s0
                perturbation?.inject(&x, sigma: s0, rngs: rngs)
                try model.evaluate(x, rows: b, at: schedule[k], workspace: ws, outputs: outputs(k, .mean))
                record(k)
                perturbation?.perturbMean(ws, rows: b, dimension: d, rngs: rngs)
                for j in 0..<(b * d) {
                    d0.storage[j] = (x.storage[j] - ws.mean.storage[j]) / s0
                    x1.storage[j] = x.storage[j] + h * d0.storage[j]
                }
                try model.evaluate(x1, rows: b, at: schedule[k + 1], workspace: ws, outputs: .mean)
                perturbation?.perturbMean(ws, rows: b, dimension: d, rngs: rngs)
                for j in 0..<(b * d) {
                    let d1 = (x1.storage[j] - ws.mean.storage[j]) / s1
                    x.storage[j] += 0.5 * h * (d0.storage[j] + d1)
                }
            }
        case .adaptive(let odeStepper, let rtol, let atol, let initialStep):
            // The ODE runs in (s = ln σ, y); a time schedule maps x ↔ y = x eᵗ at its ends only.
            let inTime = schedule[0].kind == .time
            var scratch = Matrix<Double>(rows: b, columns: d)
            let driver = try ODEDriver(dimension: b * d, stepper: odeStepper, absoluteTolerance: atol,
                                       relativeTolerance: rtol, initialStep: initialStep) { s, yv, dyds in
                let level: NoiseLevel
                if inTime {
                    let t = NoiseLevel.time(logSigma: s), decay = exp(-t)
                    for j in 0..<(b * d) { scratch.storage[j] = yv[j] * decay }
                    level = .time(t)
                } else {
                    for j in 0..<(b * d) { scratch.storage[j] = yv[j] }
                    level = .sigma(exp(s))
                }
                try model.evaluate(scratch, rows: b, at: level, workspace: ws, outputs: .mean)
                for j in 0..<(b * d) { dyds[j] = yv[j] - ws.mean.storage[j] }
            }
            var y = inTime ? x.storage.map { $0 * exp(schedule[0].value) } : x.storage
            for k in 0..<last {
                if recorded.contains(k) {
                    try model.evaluate(x, rows: b, at: schedule[k], workspace: ws, outputs: outputs(k, []))
                    record(k)
                }
                try driver.evolve(&y, from: schedule[k].logSigma, to: schedule[k + 1].logSigma)
                if inTime {
                    let decay = exp(-schedule[k + 1].value)
                    for j in 0..<(b * d) { x.storage[j] = y[j] * decay }
                } else {
                    x.storage = y
                }
            }
        }
        try model.evaluate(x, rows: b, at: schedule[last], workspace: ws, outputs: outputs(last, .mean))
        record(last)
        perturbation?.perturbMean(ws, rows: b, dimension: d, rngs: rngs)
        let (samples, components) = finalStep.apply(model: model, x: x, level: schedule[last], workspace: ws, rngs: rngs)
        progress?.advance(b)
        return Chunk(samples: samples, finalStates: x, finalComponents: components,
                     finalMaxWeight: Array(ws.maxWeight[0..<b]), snapshots: snapshots)
    }
}

extension NoiseLevel {
    /// The forward time of the VE level e^s: t = ½ log1p(e^{2s}) (Docs/Theory.md §1.4(d)).
    static func time(logSigma s: Double) -> Double { 0.5 * log1p(exp(2 * s)) }
}

/// The two backward-SDE steps t → s < t, given the posterior mean m̂(x, t) (Docs/Theory.md §1.4).
enum SDEStep {
    /// x_s = (Δ_s e^{−(t−s)}/Δ_t) x_t + (Δ_{t−s} e^{−s}/Δ_t) m̂ + √(Δ_s Δ_{t−s}/Δ_t) ξ (Docs/Theory.md §1.4(b)).
    static func exactOU(_ x: inout Matrix<Double>, mean: Matrix<Double>, from t: Double, to s: Double, rngs: [RandomStream]) {
        let d = x.columns
        let deltaT = ForwardProcess.delta(t), deltaS = ForwardProcess.delta(s), deltaTS = ForwardProcess.delta(t - s)
        let cx = deltaS * exp(-(t - s)) / deltaT
        let cm = deltaTS * exp(-s) / deltaT
        let sd = (deltaS * deltaTS / deltaT).squareRoot()
        for (r, rng) in rngs.enumerated() {
            for j in (r * d)..<((r + 1) * d) {
                x.storage[j] = cx * x.storage[j] + cm * mean.storage[j] + sd * rng.gaussian()
            }
        }
    }

    /// x ← x + h (x + 2F) + √(2h) ξ, F = (e^{−t} m̂ − x)/Δ_t, h = t − s (Docs/Theory.md §1.4(a)).
    static func eulerMaruyama(_ x: inout Matrix<Double>, mean: Matrix<Double>, from t: Double, to s: Double, rngs: [RandomStream]) {
        let d = x.columns
        let h = t - s, deltaT = ForwardProcess.delta(t), decay = exp(-t), sd = (2 * h).squareRoot()
        for (r, rng) in rngs.enumerated() {
            for j in (r * d)..<((r + 1) * d) {
                let f = (decay * mean.storage[j] - x.storage[j]) / deltaT
                x.storage[j] += h * (x.storage[j] + 2 * f) + sd * rng.gaussian()
            }
        }
    }
}
