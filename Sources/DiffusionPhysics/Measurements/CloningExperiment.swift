import Foundation
import GSLKit

/// Outcome of the cloning protocol at one branch time t.
public struct CloneEstimate: Sendable, Codable, Equatable {
    public var t: Double
    public var pairs: Int
    /// φ(t): P(the two clones end in the same class), binomial SE (labelled models only).
    public var sameClass: MeanEstimate?
    /// φ_C(t): P(the two clones end on the same component — training point, or mixture component).
    public var sameComponent: MeanEstimate
}

/// How a clone's endpoint gets its class and component (Docs/LocalScores.md §7).
public enum CloneEndpointLabel: Sendable {
    /// The component returned by the final step: for the empirical score an exact posterior draw
    /// (a training point), for a mixture a component; for a local machine the image of largest
    /// pixel-averaged source mass (Docs/Theory.md §2.2).
    case finalComponent
    /// The L2-nearest of these training images (n × d, in the order of the model's components) to
    /// the endpoint after the final step, argmin_μ |x₀ − a_μ|²; its class is the model's class of μ.
    /// The labelling rule for local machines, whose endpoint is a mosaic (Docs/LocalScores.md §7).
    case nearestImage(Matrix<Double>)
}

/// The brute-force cloning experiment of [BBdBM] (Docs/Theory.md §2.2 "Cloning protocol", §3.4 M1).
///
/// One backward-SDE trunk per pair starts from N(0, I) at T and is followed down through every
/// branch time (descending). At each branch time t its state is copied into two clones, which run
/// to t_min with independent noise and end with an exact posterior draw (a training point for
/// the empirical score; a component and a point for a mixture). φ(t) is the fraction of pairs whose
/// endpoints share a class, φ_C(t) the fraction sharing the component.
///
/// Must use the SDE: probability-flow clones coincide. The same trunk serves every branch time,
/// so estimates at different t are correlated while each is unbiased. Streams (`StreamPlan`): pair
/// i, segment k uses item iK + k of `.cloneTrunk`, its clones item iK + k of `.cloneA` and `.cloneB`.
///
/// `finalStep` (default `.posteriorDraw`) and `endpointLabel` (default `.finalComponent`) choose
/// the endpoint and its label; with `.nearestImage`, φ_C(t) is the fraction of pairs whose endpoints
/// share the nearest training image. To compare a local machine with the exact score on the same
/// seeds use `.posteriorMean` and `.nearestImage` for both (Docs/LocalScores.md §7).
public struct CloningExperiment<Model: ScoreModel>: BackwardSDEExperiment {
    public var model: Model
    /// T, t_min, steps, grid and scheme of the backward SDE (T defaults to `SDESettings.defaultHorizon`).
    public var settings: SDESettings
    public var threads: Int
    /// The clones' last step at t_min (default: an exact posterior draw).
    public var finalStep: FinalStep = .posteriorDraw
    /// How an endpoint is labelled (default: the final step's component).
    public var endpointLabel: CloneEndpointLabel = .finalComponent

    public init(model: Model, settings: SDESettings = SDESettings(), threads: Int = Parallel.defaultThreads) {
        (self.model, self.settings, self.threads) = (model, settings, threads)
    }

    /// The same with the endpoint rule spelled out.
    public init(model: Model, settings: SDESettings = SDESettings(), threads: Int = Parallel.defaultThreads,
                finalStep: FinalStep, endpointLabel: CloneEndpointLabel) {
        (self.model, self.settings, self.threads) = (model, settings, threads)
        (self.finalStep, self.endpointLabel) = (finalStep, endpointLabel)
    }

    public func run(branchTimes: [Double], pairs: Int, seed: UInt64,
                    progress: ProgressReporter? = nil) throws -> [CloneEstimate] {
        guard pairs >= 1 else { throw ModelError("need at least one clone pair", parameter: "pairs") }
        let horizon = settings.resolvedHorizon(), tMin = settings.tMin, scheme = settings.scheme
        let times = Array(Set(branchTimes)).sorted(by: >)
        guard let first = times.first, let last = times.last, first < horizon, last > tMin else {
            throw ModelError("branch times must lie strictly between t_min = \(tMin) and T = \(horizon)", parameter: "times")
        }
        if case .nearestImage(let images) = endpointLabel {
            guard images.rows == model.componentCount, images.columns == model.dimension else {
                throw ModelError("nearest-image labels need the model's \(model.componentCount) training images of d = \(model.dimension), got \(images.rows) × \(images.columns)",
                                 parameter: "endpoint-label")
            }
        }
        let grid = try settings.timeGrid(horizon: horizon)
        let K = times.count
        let sde = BackwardSDE(model: model, scheme: scheme, finalStep: finalStep, threads: threads)
        let classes = model.componentClasses
        var state: SamplerStart = .prior(count: pairs)
        var segmentStart = horizon
        var results: [CloneEstimate] = []
        // Progress: one unit per branch time, weighted by its steps (trunk segment + two clones to t_min).
        var previous = horizon
        let weights = times.map { t -> Double in
            defer { previous = t }
            let below = Double(grid.times.filter { $0 < t }.count), trunk = Double(grid.times.filter { $0 < previous && $0 >= t }.count)
            return trunk + 2 * below + 1
        }
        let totalWeight = weights.reduce(0, +)
        for (k, t) in times.enumerated() {
            // Trunk segment: segmentStart → t.
            let trunkGrid = try TimeGrid(times: [segmentStart] + grid.times.filter { $0 < segmentStart && $0 > t } + [t])
            let trunk = try BackwardSDE(model: model, scheme: scheme, finalStep: .none, threads: threads)
                .run(grid: trunkGrid, start: state, seed: seed,
                     streams: try StreamPlan.ids(.cloneTrunk, count: pairs, stride: K, offset: k))
            state = .states(trunk.lastStates)
            // Two clones from the trunk state at t, to t_min.
            let cloneGrid = try grid.continuing(from: t)
            let a = try sde.run(grid: cloneGrid, start: state, seed: seed,
                                streams: try StreamPlan.ids(.cloneA, count: pairs, stride: K, offset: k))
            let b = try sde.run(grid: cloneGrid, start: state, seed: seed,
                                streams: try StreamPlan.ids(.cloneB, count: pairs, stride: K, offset: k))
            let (endsA, endsB) = endpoints(a, b)
            var sameComponent = 0, sameClass = 0
            for i in 0..<pairs {
                let ca = endsA[i], cb = endsB[i]
                if ca == cb { sameComponent += 1 }
                if let classes, classes[ca] == classes[cb] { sameClass += 1 }
            }
            results.append(CloneEstimate(
                t: t, pairs: pairs,
                sameClass: model.classCount >= 2 ? .proportion(successes: sameClass, trials: pairs) : nil,
                sameComponent: .proportion(successes: sameComponent, trials: pairs)))
            segmentStart = t
            progress?.advance(cost: Double(K) * weights[k] / totalWeight)
        }
        return results.sorted { $0.t < $1.t }
    }

    /// The endpoint components of both clone sets under `endpointLabel`.
    private func endpoints(_ a: SamplerResult, _ b: SamplerResult) -> ([Int], [Int]) {
        switch endpointLabel {
        case .finalComponent:
            return (a.finalComponents, b.finalComponents)
        case .nearestImage(let images):
            return (NearestNeighbours.find(samples: a.samples, points: images).map(\.nearest),
                    NearestNeighbours.find(samples: b.samples, points: images).map(\.nearest))
        }
    }
}
