import Foundation
import GSLKit

/// The three measurements of φ(t) (Docs/Theory.md §2.2), equal in expectation for the exact score.
public enum SpeciationEstimator: String, Sendable, Codable, CodingKeyRepresentable, CaseIterable, Comparable {
    /// Brute-force clones: two SDE copies of one backward trajectory made at t (binomial SE).
    case clones
    /// Rao–Blackwellised E_{x~P_t}[Σ_c p_c(x,t)²] on forward samples (sample SE).
    case rb
    /// U-turn: noise a_μ0 to t, run back to t_min, P(class unchanged) (binomial SE).
    case uturn

    public static func < (a: Self, b: Self) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// Which backward dynamics the clone and U-turn estimators ran.
public enum SpeciationDynamics: String, Sendable, Codable {
    /// The exact closed SDE of M = m̂·x (`TwoClassReducedSDE`, Docs/Theory.md §2.4): population
    /// symmetric two-class mixtures with equal variances.
    case exactReduction = "exact-1d-reduction"
    /// The d-dimensional backward SDE with the model's score.
    case fullDimensional = "full-dimensional"
}

/// The spectral and analytic predictions for a dataset or population (Docs/Theory.md §2.1–2.2).
public struct SpeciationPrediction: Sendable, Codable, Equatable {
    /// Λ: top eigenvalue of the (unbiased, per-feature centred) covariance; for a population law,
    /// the exact value d m̃² + σ².
    public var lambda: Double
    /// The leading eigenvalues, descending (Λ first).
    public var eigenvalues: [Double]
    /// Whether the n × n Gram matrix was used (n < d).
    public var usedGram: Bool
    /// Exact population Λ = |m|² + σ² of the symmetric two-class mixture, when known.
    public var lambdaPopulation: Double?
    /// The three t_S conventions from `lambda`.
    public var tS: SpeciationTimes
    /// φ(∞) = Σ_c π_c² (class fractions; ½ for two balanced classes).
    public var phiInfinity: Double
    /// Class fractions π_c.
    public var classFractions: [Double]
    /// Exact two-class-mixture crossing time of the threshold (Docs/Theory.md §2.2), when the analytic curve exists.
    public var tCrossTheory: Double?
}

/// One measured point of φ(t).
public struct PhiPoint: Sendable, Codable, Equatable {
    public var t: Double
    public var measured: Double
    public var stderr: Double
    /// Exact two-class-mixture φ(t) (Docs/Theory.md §2.2), where the analytic curve exists.
    public var theory: Double?
    /// Pairs or samples behind the point.
    public var count: Int
    /// Discretisation error |φ_h − φ_{h/2}| from the step-halving check on common random numbers
    /// (Docs/Engine.md "Time grids"); nil where it did not run. `measured` is then φ_{h/2}.
    public var systematic: Double? = nil

    /// Written as `{"t", "phi": {"value", "stderr"}, "theory", "count"}`: φ has one key in every
    /// command (Docs/Schema.md).
    enum CodingKeys: String, CodingKey { case t, phi, theory, count }
    enum PhiKeys: String, CodingKey { case value, stderr, systematic }

    public init(t: Double, measured: Double, stderr: Double, theory: Double?, count: Int, systematic: Double? = nil) {
        self.t = t
        self.measured = measured
        self.stderr = stderr
        self.theory = theory
        self.count = count
        self.systematic = systematic
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let phi = try c.nestedContainer(keyedBy: PhiKeys.self, forKey: .phi)
        self.init(t: try c.decode(Double.self, forKey: .t), measured: try phi.decode(Double.self, forKey: .value),
                  stderr: try phi.decode(Double.self, forKey: .stderr), theory: try c.decodeIfPresent(Double.self, forKey: .theory),
                  count: try c.decode(Int.self, forKey: .count),
                  systematic: try phi.decodeIfPresent(Double.self, forKey: .systematic))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(t, forKey: .t)
        var phi = c.nestedContainer(keyedBy: PhiKeys.self, forKey: .phi)
        try phi.encode(measured, forKey: .value)
        try phi.encode(stderr, forKey: .stderr)
        try phi.encodeIfPresent(systematic, forKey: .systematic)
        try c.encode(theory, forKey: .theory)
        try c.encode(count, forKey: .count)
    }
}

/// Everything a speciation run reports.
public struct SpeciationResult: Sendable, Codable {
    public var prediction: SpeciationPrediction
    public var threshold: Double
    /// The estimator whose curve is `phi` and whose crossing is `tCross` (rb if run, else uturn, else clones).
    public var primary: SpeciationEstimator
    public var phi: [PhiPoint]
    /// Measured crossing of `threshold` by `phi` (rb: Brent on the fixed sample set, `rbSolvedCrossing`;
    /// otherwise, or without a bracket, linear interpolation with the SE from the bracketing SEs).
    public var tCross: Double?
    public var tCrossStderr: Double?
    /// Every estimator's curve.
    public var estimators: [SpeciationEstimator: [PhiPoint]]
    /// Every estimator's crossing.
    public var crossings: [SpeciationEstimator: LevelCrossing]
    /// U-turn returns to the origin's component (φ_C, Docs/Theory.md §3.3), when the U-turn ran.
    public var uturnSameComponent: [PhiPoint]?
    /// The Rao–Blackwellised crossing solved by Brent on the fixed forward-sample set
    /// (`ForwardEnsemble.solveCrossing`, Docs/Engine.md); nil when the grid has no bracket, and then
    /// `crossings[.rb]` is the grid interpolation (the fallback).
    public var rbSolvedCrossing: SolvedCrossing?
    /// The dynamics of the clone and U-turn runs (nil when neither ran).
    public var dynamics: SpeciationDynamics?
    /// The largest step of the grid the clones/U-turns ran on (the coarse one of a step-halving check).
    public var maxStep: Double?
    /// The d-dimensional clone estimates on a labelled dataset with every labelling rule
    /// (`CloneEstimate.rules`, Docs/LocalScores.md §7); nil otherwise.
    public var cloneEstimates: [CloneEstimate]? = nil
}

/// Speciation of a dataset (empirical score) or a Gaussian-mixture population (population score):
/// predictions from the spectrum and the exact two-class curve, and measurements of φ(t) by
/// clones, Rao–Blackwellised forward samples and U-turns (Docs/Theory.md §2).
///
/// Class of an endpoint: the label of the training point it lands on (empirical score) or the
/// mixture component (population score).
public struct SpeciationMeasurement: Sendable {
    public enum Subject: Sendable {
        /// The exact empirical score of a labelled dataset; `law` (optional) is the population
        /// it was drawn from, for Λ_population and the analytic φ curve.
        case dataset(Dataset, law: GaussianMixtureModel?)
        /// The exact population score of a Gaussian mixture (components = classes).
        case population(GaussianMixtureModel)
    }

    public let subject: Subject
    /// The backward SDE of the clones and U-turns; `settings.horizon` nil → max(½ ln Λ + 3, largest
    /// time + 1) (Docs/Theory.md §1.5).
    public var settings: SDESettings
    public var threads: Int
    /// Force the d-dimensional run even where the exact 1-D reduction applies.
    public var fullDimensional = false
    /// Rerun clones/U-turns with half the step on common random numbers and report the difference
    /// as `PhiPoint.systematic` (exact 1-D reduction only: the d-dimensional runner draws its noise per step).
    public var checkSteps = false
    /// A local machine on the dataset subject's images (Docs/LocalScores.md §7): the clones then run
    /// it, end with m̂ and label each endpoint by its nearest training image (clones only).
    public var localScore: LocalScore? = nil

    /// Largest step of the reduced dynamics: the settings' grid is halved until its steps are no longer
    /// than this (the reduction costs O(1) per step, so it affords a finer grid; Docs/Engine.md "Time grids").
    public static let reducedMaxStep = 0.02

    /// The exact 1-D reduction of the population law, when it applies (population subject; symmetric
    /// two-class mixture with equal variances) and is not overridden by `fullDimensional`.
    public var reduction: TwoClassReducedSDE? {
        guard !fullDimensional, case .population(let law) = subject else { return nil }
        return try? TwoClassReducedSDE(law)
    }

    /// The grid of the reduced dynamics from T: the settings' grid refined (every interval halved)
    /// until its largest step is ≤ `reducedMaxStep`.
    public func reducedGrid(horizon T: Double) throws -> TimeGrid {
        var sde = settings
        sde.horizon = T
        var grid = try sde.timeGrid(horizon: T)
        while grid.maxStep > Self.reducedMaxStep, grid.steps < 10_000_000 { grid = grid.refined() }
        return grid
    }

    /// The same with the settings spelled out (defaults from `SDESettings`; T automatic).
    public init(subject: Subject, horizon: Double? = nil, tMin: Double = SDESettings.defaultTMin,
                steps: Int = SDESettings.defaultSteps, scheme: SDEScheme = SDESettings.defaultScheme,
                threads: Int = Parallel.defaultThreads) throws {
        try self.init(subject: subject, settings: SDESettings(horizon: horizon, tMin: tMin, steps: steps, scheme: scheme),
                      threads: threads)
    }

    public init(subject: Subject, settings: SDESettings, threads: Int = Parallel.defaultThreads) throws {
        switch subject {
        case .dataset(let data, _):
            guard let labels = data.labels, Set(labels).count >= 2 else {
                throw ModelError(DatasetSpec.missingLabelsHelp(data.name, needs: "speciation"))
            }
        case .population(let law):
            guard law.k >= 2 else { throw ModelError("speciation needs a mixture with at least two components") }
        }
        try settings.validate()
        self.subject = subject
        self.settings = settings
        self.threads = threads
    }

    var law: GaussianMixtureModel? {
        switch subject {
        case .dataset(_, let law): return law
        case .population(let law): return law
        }
    }

    /// The analytic φ(t) of the symmetric two-class mixture, h = |m|² e^{−2t}/Γ_t (Docs/Theory.md §2.2), or nil.
    public var analyticPhi: (@Sendable (Double) -> Double)? {
        guard let law, let lambda = law.covarianceTopEigenvalue else { return nil }
        let s2 = law.variances[0], m2 = lambda - s2
        return { t in SpeciationTheory.phi(h: m2 / (expm1(2 * t) + s2)) }
    }

    /// Predictions: Λ and the next eigenvalues (population: exact), t_S conventions, φ(∞), and the
    /// exact crossing of `threshold` when the analytic curve exists.
    public func predict(threshold: Double = 0.775, eigenvalueCount: Int = 5) throws -> SpeciationPrediction {
        var eigenvalues: [Double], usedGram = false, fractions: [Double]
        let population = law?.covarianceTopEigenvalue
        switch subject {
        case .dataset(let data, _):
            let spectrum = try DataSpectrum(points: data.points)
            eigenvalues = Array(spectrum.eigenvalues.prefix(eigenvalueCount))
            usedGram = spectrum.usedGram
            let counts = data.classCounts
            fractions = counts.keys.sorted().map { Double(counts[$0]!) / Double(data.n) }
        case .population(let law):
            guard let top = population else {
                throw ModelError("population spectra are implemented for the symmetric two-class mixture only")
            }
            eigenvalues = [top] + Array(repeating: law.variances[0], count: max(0, min(eigenvalueCount, law.d) - 1))
            fractions = law.weights
        }
        let lambda = eigenvalues.first ?? 0
        guard lambda > 0 else { throw ModelError("the covariance has no positive eigenvalue (Λ = \(lambda))") }
        var tCross: Double? = nil
        if let lp = population, let law, threshold > 0.5, threshold < 1 {
            let s2 = law.variances[0]
            tCross = try? SpeciationTheory.phiCrossingTime(threshold: threshold, d: lp - s2, mTilde: 1, sigma: s2.squareRoot())
        }
        return SpeciationPrediction(lambda: lambda, eigenvalues: eigenvalues, usedGram: usedGram, lambdaPopulation: population,
                                    tS: SpeciationTheory.tS(lambda: lambda), phiInfinity: fractions.reduce(0) { $0 + $1 * $1 },
                                    classFractions: fractions, tCrossTheory: tCross)
    }

    /// `count` times with t/t_S evenly spaced from `low` to `high`, t_S the primary ½ ln(1 + Λ)
    /// (Docs/Conventions.md "Which t_S to quote"): the grid brackets the crossing the ratios are taken to.
    public static func autoTimes(_ prediction: SpeciationPrediction, count: Int = 11, low: Double = 0.5,
                                 high: Double = 1.5) -> [Double] {
        let tS = prediction.tS.curvature
        return (0..<count).map { tS * (low + (high - low) * Double($0) / Double(max(count - 1, 1))) }
    }

    /// The start time T used for `times`: `horizon`, or max(½ ln Λ + 3, largest time + 1) (Docs/Theory.md §1.5).
    public func resolvedHorizon(_ times: [Double], lambda: Double) -> Double {
        settings.resolvedHorizon(automatic: max(0.5 * log(max(lambda, 1)) + 3, (times.max() ?? 0) + 1))
    }

    /// Measures φ at `times` with each of `estimators`; `count` clone pairs or samples per time.
    /// Streams: clones as `CloningExperiment`, U-turns as `UTurnExperiment`, forward samples as
    /// `ForwardSampling` (empirical) or `UTurnOrigins` (population), all from `seed`.
    public func run(times: [Double], count: Int, estimators: Set<SpeciationEstimator>, threshold: Double = 0.775,
                    seed: UInt64, progress: ProgressReporter? = nil) throws -> SpeciationResult {
        guard !estimators.isEmpty else { throw ModelError("choose at least one estimator") }
        guard count >= 2 else { throw ModelError("need at least 2 pairs/samples per time, got \(count)") }
        guard threshold.isFinite, threshold > 0, threshold < 1 else {
            throw ModelError("the φ threshold must lie in (0, 1), got \(threshold)")
        }
        guard !times.isEmpty else { throw ModelError("no times to measure") }
        if localScore != nil {
            guard estimators == [.clones] else { throw ModelError("a local score is measured with --estimator clones only", parameter: "estimator") }
            guard case .dataset = subject else { throw ModelError("a local score needs a dataset", parameter: "score") }
        }
        let prediction = try predict(threshold: threshold)
        let T = resolvedHorizon(times, lambda: prediction.lambda), tMin = settings.tMin
        for t in times {
            guard t.isFinite, t > tMin, t < T else {
                throw ModelError("times must be finite and lie strictly between t_min = \(tMin) and T = \(T), got \(t)", parameter: "times")
            }
        }
        var sde = settings
        sde.horizon = T
        let sorted = Array(Set(times)).sorted()
        let theory = analyticPhi
        func points(_ values: [(t: Double, e: MeanEstimate)]) -> [PhiPoint] {
            values.map { PhiPoint(t: $0.t, measured: $0.e.mean, stderr: $0.e.standardError, theory: theory?($0.t), count: $0.e.count) }
                .sorted { $0.t < $1.t }
        }
        var curves: [SpeciationEstimator: [PhiPoint]] = [:]
        var sameComponent: [PhiPoint]? = nil
        var dynamics: SpeciationDynamics? = nil, maxStep: Double? = nil
        var cloneEstimates: [CloneEstimate]? = nil
        let reduction = self.reduction
        func reducedPoints(_ r: [ReducedPhiEstimate]) -> [PhiPoint] {
            r.map { e in
                PhiPoint(t: e.t, measured: e.phi.mean, stderr: e.phi.standardError, theory: theory?(e.t), count: e.phi.count,
                         systematic: e.systematic)
            }.sorted { $0.t < $1.t }
        }
        // Progress: `times.count` units per estimator in all, shared by cost — a clone pair runs a
        // trunk and two clones over the grid, a U-turn one run below t, a forward sample one level.
        let steps = Double(sde.steps)
        let weight: [SpeciationEstimator: Double] = [.clones: 2 * steps + 1, .uturn: steps, .rb: 1]
        let totalWeight = estimators.reduce(0.0) { $0 + weight[$1]! }
        for estimator in estimators.sorted() {
            let progress = progress?.stage(units: sorted.count,
                                           cost: Double(times.count * estimators.count) * weight[estimator]! / totalWeight)
            if estimator != .rb {
                dynamics = reduction == nil ? .fullDimensional : .exactReduction
                maxStep = try (reduction == nil ? sde.timeGrid(horizon: T) : reducedGrid(horizon: T)).maxStep
            }
            if let reduction, estimator != .rb {
                let grid = try reducedGrid(horizon: T)
                if estimator == .clones {
                    curves[.clones] = reducedPoints(try ReducedCloningExperiment(sde: reduction, grid: grid, checkSteps: checkSteps,
                                                                                 threads: threads)
                        .run(branchTimes: sorted, pairs: count, seed: seed))
                } else {
                    curves[.uturn] = reducedPoints(try ReducedUTurnExperiment(sde: reduction, grid: grid, checkSteps: checkSteps,
                                                                              threads: threads)
                        .run(times: sorted, samples: count, seed: seed))
                }
                progress?.advance(sorted.count)
                continue
            }
            switch estimator {
            case .clones:
                let r: [CloneEstimate]
                switch subject {
                case .dataset(_, _) where localScore != nil:
                    let local = localScore!
                    var experiment = CloningExperiment(model: local, settings: sde, threads: threads, finalStep: .posteriorMean,
                                                       endpointLabel: .nearestImage(local.images))
                    if local.classCount >= 2 { experiment.rules = try CloneLabelRules(model: local, images: local.images) }
                    r = try experiment.run(branchTimes: sorted, pairs: count, seed: seed, progress: progress)
                    cloneEstimates = experiment.rules == nil ? nil : r
                case .dataset(let data, _):
                    let score = try EmpiricalScore(data)
                    var experiment = CloningExperiment(model: score, settings: sde, threads: threads)
                    if score.classCount >= 2 { experiment.rules = try CloneLabelRules(model: score, images: data.points) }
                    r = try experiment.run(branchTimes: sorted, pairs: count, seed: seed, progress: progress)
                    cloneEstimates = experiment.rules == nil ? nil : r
                case .population(let law) where (try? TwoClassReducedSDE(law))?.meanNorm ?? 0 > 0:
                    // Full-dimensional on the symmetric two-class mixture: the batched population SDE
                    // (a chunk of trajectories advanced together; Docs/Engine.md).
                    r = try BatchedMixtureClones(law: law, settings: sde, threads: threads)
                        .run(branchTimes: sorted, pairs: count, seed: seed, progress: progress)
                case .population(let law):
                    r = try CloningExperiment(model: GaussianMixtureScore(law), settings: sde, threads: threads)
                        .run(branchTimes: sorted, pairs: count, seed: seed, progress: progress)
                }
                curves[.clones] = points(r.map { ($0.t, $0.sameClass!) })
            case .rb:
                switch subject {
                case .dataset(let data, _):
                    let r = try ForwardSampling(score: try EmpiricalScore(data), threads: threads)
                        .estimate(times: sorted, samples: count, seed: seed, progress: progress)
                    curves[.rb] = points(r.map { ($0.t, $0.classAgreement!) })
                case .population(let law):
                    let origins = try UTurnOrigins.population(law, count: count, seed: seed)
                    let r = try ForwardClassAgreement(model: GaussianMixtureScore(law), threads: threads)
                        .estimate(times: sorted, origins: origins, samples: count, seed: seed, progress: progress)
                    curves[.rb] = points(r.map { ($0.t, $0.agreement) })
                }
            case .uturn:
                let r: [UTurnEstimate]
                switch subject {
                case .dataset(let data, _):
                    let score = try EmpiricalScore(data)
                    r = try UTurnExperiment(model: score, settings: sde, threads: threads)
                        .run(times: sorted, origins: try .trainingPoints(score), samples: count, seed: seed, progress: progress)
                    sameComponent = points(r.map { ($0.t, $0.sameComponent) }).map { var p = $0; p.theory = nil; return p }
                case .population(let law):
                    r = try UTurnExperiment(model: GaussianMixtureScore(law), settings: sde, threads: threads)
                        .run(times: sorted, origins: try .population(law, count: count, seed: seed), samples: count, seed: seed, progress: progress)
                }
                curves[.uturn] = points(r.map { ($0.t, $0.sameClass) })
            }
        }
        var crossings: [SpeciationEstimator: LevelCrossing] = [:]
        // Clone and U-turn curves are estimates at discrete t (binomial, or martingale scores): their crossing is
        // solved from a weighted local line fit (`FittedCrossing`, Docs/Conventions.md "Error bars").
        for (e, curve) in curves {
            crossings[e] = FittedCrossing.solve(times: curve.map(\.t), values: curve.map(\.measured), errors: curve.map(\.stderr),
                                                level: threshold, counts: curve.map(\.count))?.levelCrossing
        }
        // The rb curve comes from one fixed sample set (common random numbers): its crossing is a
        // root, solved by Brent on the same samples; the interpolation stays only as the fallback.
        var solved: SolvedCrossing? = nil
        if curves[.rb] != nil, sorted.count >= 2 {
            solved = try rbEnsemble(count: count, seed: seed)
                .solveCrossing(level: threshold, bracket: sorted, samples: count, seed: seed) { $0.classAgreement }
            if let solved { crossings[.rb] = LevelCrossing(t: solved.t, standardError: solved.standardError) }
        }
        let primary: SpeciationEstimator = [.rb, .uturn, .clones].first { curves[$0] != nil }!
        return SpeciationResult(prediction: prediction, threshold: threshold, primary: primary, phi: curves[primary]!,
                                tCross: crossings[primary]?.t, tCrossStderr: crossings[primary]?.standardError,
                                estimators: curves, crossings: crossings, uturnSameComponent: sameComponent,
                                rbSolvedCrossing: solved, dynamics: dynamics, maxStep: maxStep, cloneEstimates: cloneEstimates)
    }

    /// The forward ensemble behind the rb curve: planted training points (dataset, as
    /// `ForwardSampling(...).ensemble(origins: .planted)`) or population draws (as `ForwardClassAgreement`).
    func rbEnsemble(count: Int, seed: UInt64) throws -> ForwardEnsemble {
        switch subject {
        case .dataset(let data, _):
            return try ForwardSampling(score: try EmpiricalScore(data), threads: threads).ensemble(origins: .planted)
        case .population(let law):
            let model = GaussianMixtureScore(law)
            let origins = try UTurnOrigins.population(law, count: count, seed: seed)
            return try ForwardEnsemble(model: .diffusion(model), origins: .listed(origins, componentClasses: model.componentClasses),
                                       statistics: .classes, threads: threads)
        }
    }

    /// Speciation predictions of a Gaussian mixture fitted class by class to the dataset (Docs/Theory.md
    /// §2.5): φ_LDA in closed form (two classes), φ_QDA by Monte Carlo at `times` with its Brent crossing.
    /// Nil for a population subject (its exact curve is `analyticPhi`).
    public func fittedPrediction(times: [Double], threshold: Double = 0.775, samples: Int, seed: UInt64,
                                 shrinkage: ShrinkagePolicy = .automatic) throws -> FittedSpeciationPrediction? {
        guard case .dataset(let data, _) = subject else { return nil }
        return try FittedSpeciationPrediction(data: data, times: times, threshold: threshold, samples: samples, seed: seed,
                                              shrinkage: shrinkage, threads: threads)
    }
}

extension SpeciationTheory {
    /// Top eigenvalue of the unbiased sample covariance of n points of the symmetric two-class
    /// mixture ½N(±m, σ²I), |m|² = d m̃² (derived; Docs/Theory.md §2.2 population value Λ = |m|² + σ²):
    ///
    ///     E Λ̂ ≈ Λ (1 + γσ²/(Λ − σ²)),   γ = (d − 1)/n         (spiked-covariance bias, Baik–Silverstein)
    ///     SE(Λ̂) ≈ √((4|m|²σ² + 2σ⁴)/n)                       (sample variance along m)
    ///
    /// The SE is that of the sample variance of y = m̂·a = ±|m| + σz: Var(y²) = 4|m|²σ² + 2σ⁴ —
    /// smaller than the Gaussian spiked value Λ√(2/n) because the projection is bimodal (its
    /// fourth cumulant is −2|m|⁴). Leading order in γ and 1/n; needs Λ − σ² ≫ σ²√γ.
    public static func sampleTopEigenvalue(d: Int, n: Int, mTilde: Double, sigma: Double) -> (mean: Double, standardError: Double) {
        let m2 = Double(d) * mTilde * mTilde, s2 = sigma * sigma
        let lambda = m2 + s2, gamma = Double(d - 1) / Double(n)
        let mean = lambda * (1 + gamma * s2 / m2)
        return (mean, ((4 * m2 * s2 + 2 * s2 * s2) / Double(n)).squareRoot())
    }
}
