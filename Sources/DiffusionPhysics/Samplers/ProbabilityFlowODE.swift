import Foundation
import GSLKit

/// The probability-flow ODE dx/dt = −x − F(x, t), integrated by `gsl_odeiv2` in the
/// stiffness-free VE variables of THEORY §1.4(d):
///
///     y = x eᵗ,  ρ = √(e^{2t} − 1),  s = ln ρ:    dy/ds = y − m̂(y e^{−t}, t),
///
/// from ρ(T) down to ρ(t_min), then x = y e^{−t_min}. Each chunk of trajectories is one GSL system,
/// so every right-hand side is one batched posterior evaluation. Deterministic: clones coincide.
public struct ProbabilityFlowODE<Model: ScoreModel>: Sendable {
    public var model: Model
    public var stepper: ODEStepper
    public var absoluteTolerance: Double
    public var relativeTolerance: Double
    public var threads: Int
    public var chunkSize: Int

    public init(model: Model, stepper: ODEStepper = .rk8pd, absoluteTolerance: Double = 1e-9,
                relativeTolerance: Double = 1e-9, threads: Int = Parallel.defaultThreads,
                chunkSize: Int = Parallel.defaultChunkSize) {
        self.model = model
        self.stepper = stepper
        self.absoluteTolerance = absoluteTolerance
        self.relativeTolerance = relativeTolerance
        self.threads = threads
        self.chunkSize = chunkSize
    }

    /// Integrates from forward time `T` to `tMin`; `finalStep` as for the SDE (a posterior draw
    /// uses stream i of `seed`, which also draws the prior states).
    public func run(from T: Double, to tMin: Double, start: SamplerStart, seed: UInt64,
                    finalStep: FinalStep = .none, progress: ProgressReporter? = nil) throws -> SamplerResult {
        try validateTime(tMin, name: "t_min")
        guard T.isFinite, T > tMin else { throw ModelError("need T > t_min, got T = \(T), t_min = \(tMin)") }
        let count = start.count(), d = model.dimension
        if case .states(let m) = start, m.columns != d {
            throw ModelError("start states have \(m.columns) coordinates, the model has d = \(d)")
        }
        let ids = StreamIDs.sequential(count)
        let sStart = 0.5 * log(expm1(2 * T)), sEnd = 0.5 * log(expm1(2 * tMin))
        let chunks = try Parallel.mapChunks(count: count, chunkSize: chunkSize, threads: threads,
                                            makeWorkspace: { model.makeWorkspace(capacity: chunkSize) }) { workspace, range in
            let ws = workspace
            let b = range.count
            let rngs = ids.streams(seed: seed, range: range)
            var x = Matrix<Double>(rows: b, columns: d)
            start.fill(&x, range: range, rngs: rngs)
            var y = x.storage.map { $0 * exp(T) }
            var scratch = Matrix<Double>(rows: b, columns: d)
            let driver = try ODEDriver(dimension: b * d, stepper: stepper, absoluteTolerance: absoluteTolerance,
                                       relativeTolerance: relativeTolerance, initialStep: 1e-2) { s, yv, dyds in
                let t = 0.5 * log1p(exp(2 * s))
                let decay = exp(-t)
                for j in 0..<(b * d) { scratch.storage[j] = yv[j] * decay }
                try model.evaluate(scratch, rows: b, t: t, workspace: ws, outputs: .mean)
                for j in 0..<(b * d) { dyds[j] = yv[j] - ws.mean.storage[j] }
            }
            try driver.evolve(&y, from: sStart, to: sEnd)
            let decay = exp(-tMin)
            for j in 0..<(b * d) { x.storage[j] = y[j] * decay }
            try model.evaluate(x, rows: b, t: tMin, workspace: ws, outputs: .mean)
            let (samples, components) = finalStep.apply(model: model, x: x, t: tMin, workspace: ws, rngs: rngs)
            progress?.advance(b)
            return SamplerResult(samples: samples, lastStates: x, finalComponents: components,
                                 argmaxPath: [], participationPath: [])
        }
        return SamplerResult(samples: Matrix(rows: count, columns: d, storage: chunks.flatMap { $0.samples.storage }),
                             lastStates: Matrix(rows: count, columns: d, storage: chunks.flatMap { $0.lastStates.storage }),
                             finalComponents: chunks.flatMap { $0.finalComponents }, argmaxPath: [], participationPath: [])
    }
}
