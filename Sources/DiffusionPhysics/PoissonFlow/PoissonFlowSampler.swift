import Foundation
import GSLKit

/// How the generation ODE dx/dσ = (x − m_D(x, σ))/σ is integrated (Docs/PoissonFlow.md §3.4, §3.8).
public enum PoissonFlowIntegrator: Sendable, Equatable {
    /// `gsl_odeiv2` (ODEDriver) in s = ln σ: dx/ds = x − m_D(x, e^s), adaptive.
    case adaptive(stepper: ODEStepper = .rk8pd, relativeTolerance: Double = 1e-10, absoluteTolerance: Double = 1e-10)
    /// The EDM Heun schedule of the papers (`generate.py: edm_sampler`): σ_i = (σmax^{1/ρ} + i/(S−1)(σmin^{1/ρ} −
    /// σmax^{1/ρ}))^ρ, i = 0..S−1, Heun steps between them; the last step to σ = 0 is the denoising step.
    case heunEDM(steps: Int = 18, rho: Double = 7)

    /// The EDM noise levels σ_0 … σ_{S−1} (without the final 0).
    public static func edmSchedule(sigmaMax: Double, sigmaMin: Double, steps: Int, rho: Double = 7) -> [Double] {
        let a = pow(sigmaMax, 1 / rho), b = pow(sigmaMin, 1 / rho)
        return (0..<steps).map { i in pow(a + Double(i) / Double(max(steps - 1, 1)) * (b - a), rho) }
    }
}

/// Where generation starts at σ_max.
public enum PoissonFlowStart: Sendable {
    /// `count` draws from the exact prior p_{σmax} (training point + kernel noise), stream (seed, i).
    case prior(count: Int, noise: PoissonFlowNoise = .chiSquared)
    /// Given states at σ_max, one row per trajectory.
    case states(Matrix<Double>)

    var count: Int {
        switch self {
        case .prior(let c, _): return c
        case .states(let m): return m.rows
        }
    }
}

/// States and posterior summaries recorded at one noise level.
public struct PoissonFlowSnapshot: Sendable {
    public var sigma: Double
    public var states: Matrix<Double>
    public var maxWeight: [Double]
    public var argmax: [Int]
    /// rows × classes (empty matrix without labels).
    public var classProbabilities: Matrix<Double>
}

/// The result of a generation run.
public struct PoissonFlowRun: Sendable {
    /// Outputs: m(x(σmin), σmin) after the denoising step, or x(σmin) with `denoise: false`.
    public var samples: Matrix<Double>
    /// x at σ_min (before denoising).
    public var finalStates: Matrix<Double>
    /// x at σ_max.
    public var starts: Matrix<Double>
    /// Prior component each start was drawn from (nil for given states).
    public var priorOrigins: [Int]?
    /// argmax_i w_i at σ_min: the training point the trajectory collapsed onto.
    public var components: [Int]
    /// w_max at σ_min.
    public var finalMaxWeight: [Double]
    /// κ of each start (§8.3).
    public var kappa: [Double]
    /// Snapshots at the requested σ levels, from the largest down.
    public var snapshots: [PoissonFlowSnapshot]
}

/// Generates from exact-empirical PFGM++ (any D) with the ODE of Docs/PoissonFlow.md §3.4, ending with the
/// final denoising step x(0) = m_D(x(σmin), σmin) unless told not to.
///
/// A façade over `TrajectoryRunner` (adaptive or Heun stepper on a σ schedule). At D = ∞ an
/// adaptive run without snapshots *is* the diffusion sampler: it calls
/// `ProbabilityFlowODE<EmpiricalScore>` (VE variables, T = ½ ln(1 + σmax²)) and gives identical results.
public struct PoissonFlowSampler: Sendable {
    public var model: PoissonFlowModel
    public var integrator: PoissonFlowIntegrator
    public var threads: Int
    public var chunkSize: Int

    public init(model: PoissonFlowModel, integrator: PoissonFlowIntegrator = .adaptive(),
                threads: Int = Parallel.defaultThreads, chunkSize: Int = Parallel.defaultChunkSize) {
        self.model = model
        self.integrator = integrator
        self.threads = threads
        self.chunkSize = chunkSize
    }

    public func run(sigmaMax: Double, sigmaMin: Double, start: PoissonFlowStart, seed: UInt64,
                    denoise: Bool = true, recordSigmas: [Double] = [], perturbation: HeunPerturbation? = nil,
                    progress: ProgressReporter? = nil) throws -> PoissonFlowRun {
        try perturbation?.validate()
        let perturbation = perturbation?.isActive == true ? perturbation : nil
        if perturbation != nil, case .adaptive = integrator {
            throw ModelError("noise injection and denoiser errors need the Heun (EDM) integrator", parameter: "integrator")
        }
        guard sigmaMin > 0, sigmaMax.isFinite, sigmaMax > sigmaMin else {
            throw ModelError("need σ_max > σ_min > 0, got σ_max = \(sigmaMax), σ_min = \(sigmaMin)", parameter: "sigma_min")
        }
        let model = self.model, integrator = self.integrator
        let N = model.dimension
        if case .states(let m) = start {
            guard m.columns == N else { throw ModelError("start states have \(m.columns) coordinates, the data have N = \(N)") }
            guard m.storage.allSatisfy({ $0.isFinite }) else { throw ModelError("start states are not finite") }
        }
        let levels = recordSigmas.sorted(by: >)
        guard levels.allSatisfy({ $0 <= sigmaMax && $0 >= sigmaMin }) else {
            throw ModelError("recorded σ levels must lie in [σ_min, σ_max] = [\(sigmaMin), \(sigmaMax)]", parameter: "recordSigmas")
        }
        switch integrator {
        case .heunEDM(let steps, let rho):
            guard steps >= 2, rho > 0 else { throw ModelError("the EDM schedule needs ≥ 2 steps and ρ > 0", parameter: "steps") }
            guard levels.isEmpty else { throw ModelError("snapshots need the adaptive integrator") }
        case .adaptive(_, let rtol, let atol):
            guard rtol >= 0, atol >= 0, rtol + atol > 0 else { throw ModelError("ODE tolerances must be ≥ 0, not both 0", parameter: "tolerance") }
        }
        let count = start.count
        // Start states and their prior origins (exact prior, stream (seed, i) of the trajectory domain).
        var starts: Matrix<Double>
        var origins: [Int]? = nil
        switch start {
        case .prior(let c, let noise):
            let draw = try model.samplePrior(sigma: sigmaMax, count: c, seed: seed, method: noise, domain: .trajectory)
            starts = draw.points
            origins = draw.origins
        case .states(let m):
            starts = m
        }
        let kappa = (0..<count).map { model.kappa(start: starts.rowSlice($0), sigmaMax: sigmaMax) }
        if model.isDiffusion, levels.isEmpty, case .adaptive(let stepper, let rtol, let atol) = integrator, let score = model.diffusion {
            // The diffusion sampler itself (VE variables y = x e^t, ρ = σ).
            let T = 0.5 * log1p(sigmaMax * sigmaMax), tMin = 0.5 * log1p(sigmaMin * sigmaMin)
            var x0 = starts
            let decay = exp(-T)
            for j in 0..<x0.storage.count { x0.storage[j] *= decay }
            let ode = ProbabilityFlowODE(model: score, stepper: stepper, absoluteTolerance: atol, relativeTolerance: rtol,
                                         threads: threads, chunkSize: chunkSize)
            let result = try ode.run(from: T, to: tMin, start: .states(x0), seed: seed,
                                     finalStep: denoise ? .posteriorMean : .none, progress: progress)
            var last = result.lastStates
            let grow = exp(tMin)
            for j in 0..<last.storage.count { last.storage[j] *= grow }
            let ws = model.makeWorkspace(capacity: count)
            try model.evaluate(last, rows: count, sigma: sigmaMin, workspace: ws, outputs: [])
            return PoissonFlowRun(samples: denoise ? result.samples : last, finalStates: last, starts: starts,
                                  priorOrigins: origins, components: result.finalComponents,
                                  finalMaxWeight: Array(ws.maxWeight[0..<count]), kappa: kappa, snapshots: [])
        }
        // Everything else: the runner in σ (states x, scale 1), snapshots at the requested levels.
        let schedule: [Double]
        let stepper: TrajectoryStepper
        switch integrator {
        case .adaptive(let odeStepper, let rtol, let atol):
            schedule = Array(Set([sigmaMax] + levels + [sigmaMin])).sorted(by: >)
            stepper = .adaptive(stepper: odeStepper, relativeTolerance: rtol, absoluteTolerance: atol)
        case .heunEDM(let steps, let rho):
            schedule = PoissonFlowIntegrator.edmSchedule(sigmaMax: sigmaMax, sigmaMin: sigmaMin, steps: steps, rho: rho)
            stepper = .heun
        }
        let recordAt = Array(Set(levels.map { schedule.firstIndex(of: $0)! })).sorted()
        // A perturbed run draws from its own streams (purpose .fieldPerturbation), never the prior's.
        let streams = perturbation == nil ? nil : try StreamPlan.ids(.fieldPerturbation, count: count)
        let run = try TrajectoryRunner(model: model, stepper: stepper, threads: threads, chunkSize: chunkSize)
            .run(schedule: schedule.map { .sigma($0) }, start: .states(starts), seed: seed, streams: streams,
                 recording: RecordingOptions([.states, .argmax, .maxWeight, .classProbabilities], at: recordAt),
                 finalStep: denoise ? .posteriorMean : .none, perturbation: perturbation, progress: progress)
        let snapshots = levels.map { level in
            let s = run.snapshots[recordAt.firstIndex(of: schedule.firstIndex(of: level)!)!]
            return PoissonFlowSnapshot(sigma: level, states: s.states, maxWeight: s.maxWeight, argmax: s.argmax,
                                       classProbabilities: s.classProbabilities)
        }
        return PoissonFlowRun(samples: run.samples, finalStates: run.finalStates, starts: starts, priorOrigins: origins,
                              components: run.finalComponents, finalMaxWeight: run.finalMaxWeight,
                              kappa: kappa, snapshots: snapshots)
    }
}
