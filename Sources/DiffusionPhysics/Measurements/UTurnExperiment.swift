import Foundation
import GSLKit

extension StreamDomain {
    /// U-turn (forward–backward) origins and forward noise, and the population forward samples
    /// of the speciation measurement: one stream per sample.
    public static let uTurn = StreamDomain(rawValue: 0x0E7A)
}

/// The points a U-turn (or a population forward sample) starts from, each with its posterior
/// component (training point μ, or mixture component c) — Docs/Theory.md §2.2 (iii).
public struct UTurnOrigins: Sendable {
    /// One origin per row.
    public var points: Matrix<Double>
    /// Component index of each row (what the model's posterior calls it).
    public var components: [Int]
    /// true: sample i draws its origin uniformly from the rows (the empirical law P0e);
    /// false: sample i uses row i (i.i.d. draws of a population law, one per sample).
    public var uniform: Bool

    public init(points: Matrix<Double>, components: [Int], uniform: Bool) throws {
        guard points.rows >= 1, components.count == points.rows else {
            throw ModelError("U-turn origins: need ≥ 1 point and one component per point")
        }
        self.points = points
        self.components = components
        self.uniform = uniform
    }

    /// The training points of an empirical score, drawn uniformly (a_μ0 with μ0 uniform).
    public static func trainingPoints(_ score: EmpiricalScore) throws -> UTurnOrigins {
        try UTurnOrigins(points: score.points, components: Array(0..<score.componentCount), uniform: true)
    }

    /// `count` fresh draws of a Gaussian-mixture population P0 (component c ~ π, a ~ N(μ_c, σ_c² I));
    /// draw i uses `RandomStream(seed:, stream: i, domain: .data)` (`GaussianMixtureModel.sample`).
    public static func population(_ law: GaussianMixtureModel, count: Int, seed: UInt64) throws -> UTurnOrigins {
        let sample = try law.sample(n: count, seed: seed)
        return try UTurnOrigins(points: sample.points, components: sample.labels!, uniform: false)
    }

    /// Origin index and forward noise ξ of sample i (item i of `StreamPurpose.uTurnOrigin`, i.e. stream
    /// (seed, i, `.uTurn`)); the same at every time.
    func draw(_ i: Int, seed: UInt64, dimension d: Int) -> (origin: Int, noise: [Double]) {
        let rng = RandomStream(seed: seed, stream: StreamPlan.range(.uTurnOrigin).lowerBound + UInt64(i), domain: StreamPurpose.uTurnOrigin.domain)
        let origin = uniform ? rng.uniformInt(points.rows) : i
        var noise = [Double](repeating: 0, count: d)
        rng.fillGaussian(&noise, 0..<d)
        return (origin, noise)
    }

    /// x = a e^{−t} + √Δ_t ξ for the given draws (one row each).
    func noised(_ draws: ArraySlice<(origin: Int, noise: [Double])>, t: Double) -> Matrix<Double> {
        let d = points.columns
        let decay = exp(-t), sd = ForwardProcess.delta(t).squareRoot()
        var x = Matrix<Double>(rows: draws.count, columns: d)
        for (r, draw) in draws.enumerated() {
            let base = draw.origin * d
            for j in 0..<d { x.storage[r * d + j] = points.storage[base + j] * decay + sd * draw.noise[j] }
        }
        return x
    }
}

/// Outcome of the U-turn protocol at one time t.
public struct UTurnEstimate: Sendable, Codable, Equatable {
    public var t: Double
    public var samples: Int
    /// P(the endpoint's class equals the origin's class), binomial SE: an estimator of φ(t)
    /// (Docs/Theory.md §2.2 (iii): P(class unchanged) = E[p_{c0}] = E Σ_c p_c², Nishimori).
    public var sameClass: MeanEstimate
    /// P(the endpoint's component is the origin's): for the empirical score, returning to a_μ0,
    /// which equals φ_C(t) = E[Y2] (Docs/Theory.md §3.3).
    public var sameComponent: MeanEstimate
}

/// The U-turn (forward–backward) experiment of [SFW24] with the exact score (Docs/Theory.md §2.2 (iii)):
/// take an origin a_μ0, noise it forward to x_t = a_μ0 e^{−t} + √Δ_t ξ, run the backward SDE from t
/// to t_min (grid: the geometric grid T → t_min continued from t), finish with an exact posterior
/// draw, and record whether the endpoint has the origin's class.
///
/// With the exact score x_t ~ P_t and the backward SDE samples P(a | x_t), so the endpoint is an
/// independent posterior draw given x_t: P(class unchanged) = E_x[p_{c0}(x, t)] = φ(t).
///
/// Streams (`StreamPlan`): sample i's origin and forward noise from item i of `.uTurnOrigin` (domain
/// `.uTurn`), common to all times; its backward trajectory at time index k from item iK + k of
/// `.uTurnBackward` (disjoint from the cloning experiment's ranges).
public struct UTurnExperiment<Model: ScoreModel>: BackwardSDEExperiment {
    public var model: Model
    /// T, t_min, steps, grid and scheme; the grid T → t_min is used below each U-turn time.
    public var settings: SDESettings
    public var threads: Int

    public init(model: Model, settings: SDESettings = SDESettings(), threads: Int = Parallel.defaultThreads) {
        (self.model, self.settings, self.threads) = (model, settings, threads)
    }

    public func run(times: [Double], origins: UTurnOrigins, samples: Int, seed: UInt64,
                    progress: ProgressReporter? = nil) throws -> [UTurnEstimate] {
        guard samples >= 1 else { throw ModelError("need at least one U-turn sample", parameter: "samples") }
        let horizon = settings.resolvedHorizon(), tMin = settings.tMin
        guard origins.points.columns == model.dimension else {
            throw ModelError("U-turn origins have d = \(origins.points.columns), the model has d = \(model.dimension)")
        }
        guard origins.uniform || origins.points.rows >= samples else {
            throw ModelError("\(samples) U-turn samples but only \(origins.points.rows) population origins")
        }
        guard let classes = model.componentClasses, model.classCount >= 2 else {
            throw ModelError("the U-turn estimator of φ needs class labels with at least two classes")
        }
        guard origins.components.allSatisfy({ $0 >= 0 && $0 < model.componentCount }) else {
            throw ModelError("U-turn origins name components outside 0..<\(model.componentCount)")
        }
        for t in times {
            guard t.isFinite, t > tMin, t < horizon else {
                throw ModelError("U-turn times must lie strictly between t_min = \(tMin) and T = \(horizon), got \(t)", parameter: "times")
            }
        }
        let grid = try settings.timeGrid(horizon: horizon)
        let d = model.dimension, K = times.count
        let draws = (0..<samples).map { origins.draw($0, seed: seed, dimension: d) }
        let sde = BackwardSDE(model: model, scheme: settings.scheme, finalStep: .posteriorDraw, threads: threads)
        var results: [UTurnEstimate] = []
        // Progress: one unit per time, weighted by its steps below t.
        let weights = times.map { t in Double(grid.times.filter { $0 < t }.count) + 1 }
        let totalWeight = weights.reduce(0, +)
        for (k, t) in times.enumerated() {
            let start = origins.noised(draws[...], t: t)
            let ids = try StreamPlan.ids(.uTurnBackward, count: samples, stride: K, offset: k)
            let r = try sde.run(grid: try grid.continuing(from: t), start: .states(start), seed: seed, streams: ids)
            var sameClass = 0, sameComponent = 0
            for i in 0..<samples {
                let c0 = origins.components[draws[i].origin], c = r.finalComponents[i]
                if c == c0 { sameComponent += 1 }
                if classes[c] == classes[c0] { sameClass += 1 }
            }
            results.append(UTurnEstimate(t: t, samples: samples,
                                         sameClass: .proportion(successes: sameClass, trials: samples),
                                         sameComponent: .proportion(successes: sameComponent, trials: samples)))
            progress?.advance(cost: Double(K) * weights[k] / totalWeight)
        }
        return results
    }
}
