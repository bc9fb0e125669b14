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
    /// φ under every labelling rule on the same pairs, and the purities (nil unless
    /// `CloningExperiment.rules` is set; Docs/LocalScores.md §7).
    public var rules: CloneRuleEstimates? = nil
}

/// The endpoint labelling rules of the cloning experiment (Docs/LocalScores.md §7).
public enum CloneLabelRule: String, CaseIterable, Sendable, Codable {
    /// Class of the final step's component (exact draw: the drawn training point; local machine:
    /// the image of largest pixel-averaged source mass).
    case finalComponent
    /// (L1) class of the L2-nearest training image argmin_μ |x₀ − a_μ|².
    case nearestImage
    /// (L2) argmax_c p_c at the clone's last evaluation (t_min), p_c = Σ_{μ ∈ c} (posterior weight of μ):
    /// for a local machine p_c = (1/HW) Σ_i Σ_{φ ∈ 𝒟_i from class c} w_φ^(i), the pixel vote.
    case pixelVote
    /// (L3) a fixed classifier trained on the training set: the nearest class mean.
    case classifier
}

/// φ(t) under every labelling rule, measured on the same clone pairs, and the purities.
public struct CloneRuleEstimates: Sendable, Codable, Equatable {
    /// φ = P(label_A = label_B) per rule, binomial SE √(φ(1 − φ)/pairs).
    public var finalComponent: MeanEstimate
    public var nearestImage: MeanEstimate
    public var pixelVote: MeanEstimate
    public var classifier: MeanEstimate
    /// P(both endpoints have the same nearest training image) (φ_C of rule L1).
    public var sameNearestImage: MeanEstimate
    /// E[Σ_c p_c(x_t, t)²] at the branch point (the trunk state, one value per pair; SE over pairs).
    /// For the exact posterior with exact draws, E[1{class_A = class_B} | x_t] = Σ_c p_c(x_t)², so this
    /// equals φ of the final-component rule (Nishimori identity, Docs/Theory.md §2.2); for a local
    /// machine (p_c = pixel-averaged class mass) nothing ties it to φ.
    public var branchPurity: MeanEstimate
    /// E[Σ_c p_c²] at the clones' last evaluation (t_min), p_c the pixel-averaged class mass of the
    /// endpoint ("local purity": 1 for a single-class mosaic); per pair the mean over its two clones, SE over pairs.
    public var endpointPurity: MeanEstimate

    /// φ of one rule.
    public func phi(_ rule: CloneLabelRule) -> MeanEstimate {
        switch rule {
        case .finalComponent: return finalComponent
        case .nearestImage: return nearestImage
        case .pixelVote: return pixelVote
        case .classifier: return classifier
        }
    }
}

/// The fixed simple classifier (L3) of the clone labelling rules: the nearest class mean,
/// class(x) = argmin_c |x − m_c|², m_c = (1/n_c) Σ_{μ ∈ c} a_μ over the training set
/// (Docs/LocalScores.md §7). Ties go to the lower class index.
public struct NearestClassMeanClassifier: Sendable, Equatable {
    /// K × d class means (row c = class index c).
    public var means: Matrix<Double>

    /// Trains on `images` (n × d) with class indices `classes` (0..<K, every class present).
    public init(images: Matrix<Double>, classes: [Int]) throws {
        guard classes.count == images.rows, images.rows >= 1 else {
            throw ModelError("classifier: \(classes.count) class indices for \(images.rows) images", parameter: "classes")
        }
        guard let top = classes.max(), classes.min()! >= 0 else { throw ModelError("classifier: negative class index", parameter: "classes") }
        let k = top + 1, d = images.columns
        var means = Matrix<Double>(rows: k, columns: d)
        var counts = [Int](repeating: 0, count: k)
        for (mu, c) in classes.enumerated() {
            counts[c] += 1
            for j in 0..<d { means.storage[c * d + j] += images.storage[mu * d + j] }
        }
        guard counts.allSatisfy({ $0 > 0 }) else { throw ModelError("classifier: a class index without images", parameter: "classes") }
        for c in 0..<k { for j in 0..<d { means.storage[c * d + j] /= Double(counts[c]) } }
        self.means = means
    }

    /// The class index of every row of `x`.
    public func classify(_ x: Matrix<Double>) -> [Int] {
        NearestNeighbours.find(samples: x, points: means).map(\.nearest)
    }
}

/// Everything needed to label clone endpoints by every rule (Docs/LocalScores.md §7): the training
/// images (n × d, in the model's component order) and the classifier trained on them.
public struct CloneLabelRules: Sendable {
    public var images: Matrix<Double>
    public var classifier: NearestClassMeanClassifier

    /// Rules for `model` with its training images `images`; the model must have ≥ 2 classes.
    public init<Model: ScoreModel>(model: Model, images: Matrix<Double>) throws {
        guard let classes = model.componentClasses, model.classCount >= 2 else {
            throw ModelError("clone labelling rules need labelled data with ≥ 2 classes", parameter: "labels")
        }
        guard images.rows == model.componentCount, images.columns == model.dimension else {
            throw ModelError("labelling rules need the model's \(model.componentCount) training images of d = \(model.dimension), got \(images.rows) × \(images.columns)",
                             parameter: "endpoint-label")
        }
        self.images = images
        classifier = try NearestClassMeanClassifier(images: images, classes: classes)
    }
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
///
/// With `rules` set, each estimate also carries φ under every labelling rule on the same pairs
/// (final component, nearest image, pixel vote argmax_c p_c at t_min, nearest class mean) and the
/// purities E[Σ_c p_c²] at the branch point and at t_min (`CloneRuleEstimates`); the runs then record
/// the class probabilities at those two levels, which draws no random numbers, so the default-rule
/// numbers are unchanged.
public struct CloningExperiment<Model: ScoreModel>: BackwardSDEExperiment {
    public var model: Model
    /// T, t_min, steps, grid and scheme of the backward SDE (T defaults to `SDESettings.defaultHorizon`).
    public var settings: SDESettings
    public var threads: Int
    /// The clones' last step at t_min (default: an exact posterior draw).
    public var finalStep: FinalStep = .posteriorDraw
    /// How an endpoint is labelled (default: the final step's component).
    public var endpointLabel: CloneEndpointLabel = .finalComponent
    /// When set, every estimate also carries φ under every labelling rule and the purities
    /// (`CloneEstimate.rules`), from the same pairs; the default-rule fields are unchanged.
    public var rules: CloneLabelRules? = nil

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
        if let rules {
            guard rules.images.rows == model.componentCount, rules.images.columns == model.dimension, model.classCount >= 2 else {
                throw ModelError("labelling rules do not fit the model", parameter: "rules")
            }
        }
        let grid = try settings.timeGrid(horizon: horizon)
        let K = times.count
        let runner = TrajectoryRunner(model: model, stepper: scheme.stepper, threads: threads)
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
            let schedule = cloneGrid.times.map { NoiseLevel.time($0) }
            // With the rules: class probabilities at the branch point (level 0) and at t_min.
            let recording = rules == nil ? RecordingOptions() : RecordingOptions(.classProbabilities, at: [0, schedule.count - 1])
            let a = try runner.run(schedule: schedule, start: state, seed: seed,
                                   streams: try StreamPlan.ids(.cloneA, count: pairs, stride: K, offset: k),
                                   recording: recording, finalStep: finalStep)
            let b = try runner.run(schedule: schedule, start: state, seed: seed,
                                   streams: try StreamPlan.ids(.cloneB, count: pairs, stride: K, offset: k),
                                   recording: recording, finalStep: finalStep)
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
                sameComponent: .proportion(successes: sameComponent, trials: pairs),
                rules: try rules.map { try ruleEstimates($0, a, b) }))
            segmentStart = t
            progress?.advance(cost: Double(K) * weights[k] / totalWeight)
        }
        return results.sorted { $0.t < $1.t }
    }

    /// The endpoint components of both clone sets under `endpointLabel`.
    private func endpoints(_ a: TrajectoryRun, _ b: TrajectoryRun) -> ([Int], [Int]) {
        switch endpointLabel {
        case .finalComponent:
            return (a.finalComponents, b.finalComponents)
        case .nearestImage(let images):
            return (NearestNeighbours.find(samples: a.samples, points: images).map(\.nearest),
                    NearestNeighbours.find(samples: b.samples, points: images).map(\.nearest))
        }
    }

    /// φ under every rule and the purities, from clone runs recorded at the branch point and t_min.
    private func ruleEstimates(_ rules: CloneLabelRules, _ a: TrajectoryRun, _ b: TrajectoryRun) throws -> CloneRuleEstimates {
        let classes = model.componentClasses!, pairs = a.samples.rows, k = model.classCount
        guard a.snapshots.count == 2, b.snapshots.count == 2, a.snapshots[1].classProbabilities.rows == pairs else {
            throw ModelError("the clone runs recorded no class probabilities", parameter: "rules")
        }
        func vote(_ p: Matrix<Double>) -> [Int] {
            (0..<pairs).map { r in
                var best = 0
                for c in 1..<k where p[r, c] > p[r, best] { best = c }
                return best
            }
        }
        func purity(_ p: Matrix<Double>, _ r: Int) -> Double { (0..<k).reduce(0) { $0 + p[r, $1] * p[r, $1] } }
        let nearA = NearestNeighbours.find(samples: a.samples, points: rules.images).map(\.nearest)
        let nearB = NearestNeighbours.find(samples: b.samples, points: rules.images).map(\.nearest)
        let labels: [CloneLabelRule: ([Int], [Int])] = [
            .finalComponent: (a.finalComponents.map { classes[$0] }, b.finalComponents.map { classes[$0] }),
            .nearestImage: (nearA.map { classes[$0] }, nearB.map { classes[$0] }),
            .pixelVote: (vote(a.snapshots[1].classProbabilities), vote(b.snapshots[1].classProbabilities)),
            .classifier: (rules.classifier.classify(a.samples), rules.classifier.classify(b.samples)),
        ]
        func agreement(_ rule: CloneLabelRule) -> MeanEstimate {
            let (la, lb) = labels[rule]!
            return .proportion(successes: zip(la, lb).filter { $0 == $1 }.count, trials: pairs)
        }
        let branch = a.snapshots[0].classProbabilities, endA = a.snapshots[1].classProbabilities, endB = b.snapshots[1].classProbabilities
        return CloneRuleEstimates(
            finalComponent: agreement(.finalComponent), nearestImage: agreement(.nearestImage), pixelVote: agreement(.pixelVote),
            classifier: agreement(.classifier),
            sameNearestImage: .proportion(successes: zip(nearA, nearB).filter { $0 == $1 }.count, trials: pairs),
            branchPurity: MeanEstimate((0..<pairs).map { purity(branch, $0) }),
            endpointPurity: MeanEstimate((0..<pairs).map { 0.5 * (purity(endA, $0) + purity(endB, $0)) }))
    }
}
