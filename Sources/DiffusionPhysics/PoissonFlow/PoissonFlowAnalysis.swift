import Foundation
import GSLKit

/// One noise level of the ODE-free marginal estimators.
public struct MarginalPoint: Sendable, Codable, Equatable {
    public var sigma: Double
    /// r = σ√D (nil at D = ∞).
    public var r: Double?
    /// C_D(σ) = P_{x∼p_σ}[max_i w_i ≥ 1 − ε].
    public var collapseFraction: MeanEstimate
    /// E[max_i w_i].
    public var maxWeight: MeanEstimate
    /// φ(σ) = E Σ_c p_c(x)²: probability that two independent posterior draws share a class (labelled data).
    public var classAgreement: MeanEstimate?
}

/// C_D(σ) and φ(σ) from the marginal p_σ alone (no ODE; Docs/PoissonFlow.md §8.2), with their level crossings.
public struct MarginalCurves: Sendable, Codable, Equatable {
    public var D: Double
    public var epsilon: Double
    public var samples: Int
    public var points: [MarginalPoint]
    /// σ where C_D = ½ (t_C-like level), and r there.
    public var sigmaCollapseHalf: LevelCrossing?
    public var rCollapseHalf: Double?
    /// σ where φ crosses `speciationThreshold` (t_S-like level).
    public var sigmaSpeciation: LevelCrossing?
    public var speciationThreshold: Double
}

/// Quantiles of a per-trajectory level.
public struct LevelDistribution: Sendable, Codable, Equatable {
    public var count: Int
    /// Trajectories whose level was found (never-collapsed ones are excluded).
    public var found: Int
    public var p10: Double?, median: Double?, p90: Double?
    public var logMean: MeanEstimate?

    public init(_ levels: [Double?]) {
        count = levels.count
        let v = levels.compactMap { $0 }.sorted()
        found = v.count
        func q(_ p: Double) -> Double? { v.isEmpty ? nil : v[min(v.count - 1, Int(p * Double(v.count)))] }
        p10 = q(0.1); median = q(0.5); p90 = q(0.9)
        logMean = v.isEmpty ? nil : MeanEstimate(v.map { log($0) })
    }
}

/// Per-trajectory collapse and speciation levels along exact ODE paths.
public struct TrajectoryLevels: Sendable, Codable, Equatable {
    public var D: Double
    public var trajectories: Int
    /// σ_c: the largest recorded level from which w_max ≥ 1 − ε for good.
    public var sigmaCollapse: LevelDistribution
    /// r_c = σ_c √D (nil at D = ∞).
    public var rCollapse: LevelDistribution?
    /// σ_S: the largest recorded level from which the final class has posterior probability ≥ `classThreshold`
    /// for good (labelled data). A deterministic flow has no clones: this is the posterior-probability estimator.
    public var sigmaSpeciation: LevelDistribution?
    public var classThreshold: Double
    /// Fraction of trajectories ending on each training point's class / component (uniformity check).
    public var endpointFrequencies: [Double]
    /// κ quantiles of the starts.
    public var kappa: LevelDistribution
}

/// The random-clock diagnostic of §8.3 for one (N, D).
public struct RandomClockReport: Sendable, Codable, Equatable {
    public var D: Double
    public var N: Int
    public var trajectories: Int
    /// Smallest distance between training points (the unit of the deviations).
    public var minimumSpacing: Double
    public var kappa: LevelDistribution
    /// max_σ |x_D(σ) − x_∞(κσ)| / d_min per trajectory, summarised.
    public var deviationWithClock: LevelDistribution
    /// max_σ |x_D(σ) − x_∞(σ)| / d_min (no clock), for contrast.
    public var deviationWithoutClock: LevelDistribution
    /// Fraction of trajectories ending on the same training point as their clock-rescaled diffusion twin.
    public var sameEndpoint: MeanEstimate
}

/// Memorization analyses of exact-empirical PFGM++, each one call returning a Codable result.
public enum PoissonFlowAnalysis {
    /// Log-spaced levels from `high` down to `low`.
    public static func levels(from high: Double, to low: Double, count: Int) -> [Double] {
        (0..<count).map { high * pow(low / high, Double($0) / Double(max(count - 1, 1))) }
    }

    /// C_D(σ) and φ(σ) from `samples` draws of p_σ per level. Draw i uses stream (seed, i) with common random
    /// numbers across σ (the kernel is a scale family: x = y + σ ξ_i).
    public static func marginalCurves(model: PoissonFlowModel, sigmas: [Double], samples: Int, seed: UInt64,
                                      epsilon: Double = 0.01, speciationThreshold: Double = 0.775,
                                      threads: Int = Parallel.defaultThreads,
                                      progress: ProgressReporter? = nil) throws -> MarginalCurves {
        guard samples >= 2 else { throw ModelError("need ≥ 2 samples") }
        guard !sigmas.isEmpty, sigmas.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw ModelError("σ levels must be finite and > 0") }
        guard epsilon > 0, epsilon < 1 else { throw ModelError("ε must be in (0, 1)") }
        let c = model.classCount
        let ensemble = try ForwardEnsemble(model: .poissonFlow(model), origins: .poissonMarginal(model),
                                           statistics: .classes, threads: threads)
        let values = try ensemble.sampleValues(levels: sigmas, samples: samples, seed: seed, progress: progress)
        let points = values.map { v in
            MarginalPoint(sigma: v.t, r: model.isDiffusion ? nil : model.r(sigma: v.t),
                          collapseFraction: MeanEstimate(v.maxWeight.map { $0 >= 1 - epsilon ? 1 : 0 }),
                          maxWeight: MeanEstimate(v.maxWeight),
                          classAgreement: c > 0 ? MeanEstimate(v.classAgreement ?? []) : nil)
        }
        let logS = sigmas.map { log($0) }
        func crossing(_ values: [Double], _ errors: [Double], _ level: Double) -> LevelCrossing? {
            // Interpolate in ln σ; the SE is propagated in ln σ and mapped back (δσ ≈ σ δ ln σ).
            guard let c = LevelCrossing.find(times: logS, values: values, errors: errors, level: level) else { return nil }
            return LevelCrossing(t: exp(c.t), standardError: exp(c.t) * c.standardError)
        }
        let half = crossing(points.map(\.collapseFraction.mean), points.map(\.collapseFraction.standardError), 0.5)
        let spec = c > 0 ? crossing(points.map { $0.classAgreement!.mean }, points.map { $0.classAgreement!.standardError }, speciationThreshold) : nil
        return MarginalCurves(D: model.D, epsilon: epsilon, samples: samples, points: points, sigmaCollapseHalf: half,
                              rCollapseHalf: half.flatMap { model.isDiffusion ? nil : model.r(sigma: $0.t) },
                              sigmaSpeciation: spec, speciationThreshold: speciationThreshold)
    }

    /// Per-trajectory σ_c (and σ_S for labelled data) along `count` exact ODE paths from the exact prior,
    /// recorded on `levels` log-spaced levels between σmax and σmin.
    public static func trajectoryLevels(model: PoissonFlowModel, count: Int, sigmaMax: Double = 80, sigmaMin: Double = 1e-3,
                                        levels: Int = 60, seed: UInt64, epsilon: Double = 0.01, classThreshold: Double = 0.9,
                                        relativeTolerance: Double = 1e-8, threads: Int = Parallel.defaultThreads,
                                        progress: ProgressReporter? = nil) throws -> TrajectoryLevels {
        guard count >= 1, levels >= 2 else { throw ModelError("need ≥ 1 trajectory and ≥ 2 levels") }
        let grid = Self.levels(from: sigmaMax, to: sigmaMin, count: levels)
        let run = try PoissonFlowSampler(model: model, integrator: .adaptive(relativeTolerance: relativeTolerance, absoluteTolerance: relativeTolerance),
                                         threads: threads)
            .run(sigmaMax: sigmaMax, sigmaMin: sigmaMin, start: .prior(count: count), seed: seed, recordSigmas: grid, progress: progress)
        let snaps = run.snapshots  // largest σ first
        func lastEntry(_ ok: (PoissonFlowSnapshot) -> Bool) -> Double? {
            // Walk up from the smallest σ while the condition holds.
            var level: Double? = nil
            for s in snaps.reversed() {
                if ok(s) { level = s.sigma } else { break }
            }
            return level
        }
        let sc = (0..<count).map { i in lastEntry { $0.maxWeight[i] >= 1 - epsilon } }
        var ss: [Double?]? = nil
        let c = model.classCount
        var freq = [Double](repeating: 0, count: model.count)
        for k in run.components { freq[k] += 1 / Double(count) }
        if c > 0, let classes = model.posterior.classIndex {
            ss = (0..<count).map { i in
                let final = classes[run.components[i]]
                return lastEntry { $0.classProbabilities[i, final] >= classThreshold }
            }
            freq = (0..<c).map { k in Double(run.components.filter { classes[$0] == k }.count) / Double(count) }
        }
        return TrajectoryLevels(D: model.D, trajectories: count, sigmaCollapse: LevelDistribution(sc),
                                rCollapse: model.isDiffusion ? nil : LevelDistribution(sc.map { $0.map { model.r(sigma: $0) } }),
                                sigmaSpeciation: ss.map { LevelDistribution($0) }, classThreshold: classThreshold,
                                endpointFrequencies: freq, kappa: LevelDistribution(run.kappa))
    }

    /// §8.3: how close the PFGM++ path from x0 is to the diffusion path from the same x0 on the clock σ' = κσ.
    public static func randomClock(points: Matrix<Double>, D: Double, count: Int, sigmaMax: Double = 80,
                                   sigmaMin: Double = 1e-2, levels: Int = 40, seed: UInt64,
                                   relativeTolerance: Double = 1e-9, threads: Int = Parallel.defaultThreads,
                                   progress: ProgressReporter? = nil) throws -> RandomClockReport {
        guard D.isFinite else { throw ModelError("the random clock compares a finite D with diffusion") }
        let model = try PoissonFlowModel(points: points, D: D)
        let diffusion = try PoissonFlowModel(points: points, D: .infinity)
        let grid = Self.levels(from: sigmaMax, to: sigmaMin, count: levels)
        let integrator = PoissonFlowIntegrator.adaptive(relativeTolerance: relativeTolerance, absoluteTolerance: relativeTolerance)
        let pf = try PoissonFlowSampler(model: model, integrator: integrator, threads: threads, chunkSize: 1)
            .run(sigmaMax: sigmaMax, sigmaMin: sigmaMin, start: .prior(count: count), seed: seed, recordSigmas: grid, progress: progress)
        var dmin = Double.infinity
        for a in 0..<points.rows { for b in (a + 1)..<max(a + 1, points.rows) {
            dmin = min(dmin, zip(points.rowSlice(a), points.rowSlice(b)).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot())
        } }
        if !dmin.isFinite { dmin = 1 }
        let N = points.columns
        struct Twin { var withClock: Double; var withoutClock: Double; var same: Bool }
        let starts = pf.starts
        let twins = try Parallel.mapChunks(count: count, chunkSize: 1, threads: threads, makeWorkspace: { () }) { _, range -> Twin in
            let i = range.lowerBound
            let kappa = pf.kappa[i]
            let x0 = Matrix(rows: 1, columns: N, storage: Array(starts.rowSlice(i)))
            let sampler = PoissonFlowSampler(model: diffusion, integrator: integrator, threads: 1, chunkSize: 1)
            let clocked = try sampler.run(sigmaMax: kappa * sigmaMax, sigmaMin: kappa * sigmaMin, start: .states(x0), seed: seed,
                                          recordSigmas: grid.map { min(kappa * sigmaMax, max(kappa * sigmaMin, kappa * $0)) })
            let plain = try sampler.run(sigmaMax: sigmaMax, sigmaMin: sigmaMin, start: .states(x0), seed: seed, recordSigmas: grid)
            var a = 0.0, b = 0.0
            for k in 0..<grid.count {
                let xd = pf.snapshots[k].states.rowSlice(i)
                a = max(a, zip(xd, clocked.snapshots[k].states.rowSlice(0)).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot())
                b = max(b, zip(xd, plain.snapshots[k].states.rowSlice(0)).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot())
            }
            return Twin(withClock: a / dmin, withoutClock: b / dmin, same: clocked.components[0] == pf.components[i])
        }
        return RandomClockReport(D: D, N: N, trajectories: count, minimumSpacing: dmin, kappa: LevelDistribution(pf.kappa),
                                 deviationWithClock: LevelDistribution(twins.map(\.withClock)),
                                 deviationWithoutClock: LevelDistribution(twins.map(\.withoutClock)),
                                 sameEndpoint: MeanEstimate.proportion(successes: twins.filter(\.same).count, trials: count))
    }
}
