import Foundation
import GSLKit

/// The probability-flow ODE dx/dt = −x − F(x, t), integrated by `gsl_odeiv2` in the
/// stiffness-free VE variables of Docs/Theory.md §1.4(d):
///
///     y = x eᵗ,  ρ = √(e^{2t} − 1),  s = ln ρ:    dy/ds = y − m̂(y e^{−t}, t),
///
/// from ρ(T) down to ρ(t_min), then x = y e^{−t_min}. A façade over `TrajectoryRunner` with the
/// adaptive stepper on the schedule [T, t_min]: each chunk of trajectories is one GSL system, so
/// every right-hand side is one batched posterior evaluation. Deterministic: clones coincide.
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
        (self.model, self.stepper, self.threads, self.chunkSize) = (model, stepper, threads, chunkSize)
        (self.absoluteTolerance, self.relativeTolerance) = (absoluteTolerance, relativeTolerance)
    }

    /// Integrates from forward time `T` to `tMin`; `finalStep` as for the SDE (a posterior draw
    /// uses stream i of `seed`, which also draws the prior states).
    public func run(from T: Double, to tMin: Double, start: SamplerStart, seed: UInt64,
                    finalStep: FinalStep = .none, progress: ProgressReporter? = nil) throws -> SamplerResult {
        try validateTime(tMin, name: "t_min")
        guard T.isFinite, T > tMin else {
            throw ModelError("need T > t_min, got T = \(T), t_min = \(tMin)", parameter: "T")
        }
        let runner = TrajectoryRunner(model: model, stepper: .adaptive(stepper: stepper, relativeTolerance: relativeTolerance,
                                                                       absoluteTolerance: absoluteTolerance),
                                      threads: threads, chunkSize: chunkSize)
        return SamplerResult(try runner.run(schedule: [.time(T), .time(tMin)], start: start, seed: seed,
                                            finalStep: finalStep, progress: progress))
    }
}
