import ArgumentParser
import DiffusionPhysics
import DiffusionStudies
import Foundation
import GSLKit

struct SpeciationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "speciation",
        abstract: "Speciation time of a dataset: spectral prediction beside a measured φ(t) and its crossing.",
        usage: UsageText.line("speciation", UsageText.data, UsageText.output, UsageText.threads, UsageText.times, UsageText.sde,
                             "[--samples <n>] [--pairs <n>] [--estimator <clones|rb|uturn|all>] [--threshold <phi>] [--fit-samples <n>] [--full-dimensional] [--check-steps|--no-check-steps] [--out <file.csv>] [--score <kind> --patch <P> | --patch-schedule <file>] [--image-shape <HxW[xC]>]"),
        discussion: """
        Prediction (Docs/Theory.md §2.1–2.2): Λ = top eigenvalue of the unbiased covariance (Gram matrix when n < d; \
        exact d m̃² + σ² for a population gmm2), t_S = ½ln Λ (paper), ½ln(1+Λ) (curvature), ½ln(2Λ) (drift); \
        for gmm2 the exact two-class curve φ(t) = ½ + ½E tanh²(h + √h z).
        Measurement of φ(t) = P(two generations from one state at t end in the same class), with the exact score \
        (empirical for a dataset, population for gmm2 without n): clones (brute force), rb (Rao–Blackwellised \
        E Σ_c p_c² on forward samples), uturn (noise a training point to t, run back, P(class unchanged)). \
        t_cross = where φ crosses --threshold (rb: Brent on the fixed forward-sample set, delta-method SE; \
        clones/uturn, or rb without a bracket: linear interpolation, SE from the bracketing SEs). \
        On labelled data a Gaussian mixture is fitted to the classes (Docs/Theory.md §2.5): φ_LDA (pooled covariance, \
        closed form, two classes) and φ_QDA (class covariances, Monte Carlo with --fit-samples) and their t_S. \
        Class of an endpoint: label of the training point it lands on, or the mixture component; with a local \
        --score (clones only, Docs/LocalScores.md §7) the clones end with m̂ and take the label of the nearest training image. \
        Clones on labelled data also report φ under every endpoint rule on the same pairs (final component, nearest \
        image, pixel vote = argmax of the class masses at t_min, nearest-class-mean classifier), the purity E[Σ_c p_c²] \
        at the branch point and at t_min, and each rule's crossing of (1 + Σ_c π_c²)/2 (t_S(P)) and of --threshold. \
        On a population two-class mixture (gmm2 without n) clones and U-turns run the exact 1-D reduction of the \
        backward SDE (M = m̂·x, Docs/Theory.md §2.4; --full-dimensional forces the d-dimensional run), with a \
        step-halving check (--check-steps) whose |φ_h − φ_{h/2}| is reported as "systematic" beside the SE.
        Example: diffphys speciation --data fashion-mnist:classes=1,9,per-class=1000 --auto --estimator rb
        """)

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var timeGrid: TimeGridOptions<Self>
    @OptionGroup var sde: SDEOptions
    @OptionGroup var local: LocalScoreOptions
    @Option(parsing: .unconditional, help: "Samples per time for rb (forward samples) and uturn (U-turn starts).") var samples = 2000
    @Option(parsing: .unconditional, help: "Clone pairs per time for the clones estimator.") var pairs = 2000
    @Option(help: "Estimator: clones, rb, uturn or all.") var estimator: EstimatorChoice = .rb
    @Option(parsing: .unconditional, help: "φ level that defines the measured speciation time.") var threshold = 0.775
    @Option(name: .customLong("fit-samples"), parsing: .unconditional,
            help: "Monte-Carlo samples of the Gaussian mixture fitted to labelled data (φ_QDA, Docs/Theory.md §2.5; 0: no fit).")
    var fitSamples = 2000
    @OptionGroup var curveFile: CurveFileOptions
    @Flag(name: .customLong("full-dimensional"),
          help: "Run clones/U-turns in d dimensions even where the exact 1-D reduction applies (population gmm2; default: off).")
    var fullDimensional = false
    @Flag(name: .customLong("check-steps"), inversion: .prefixedNo,
          help: "Step-halving check of clones/U-turns on the exact 1-D reduction: rerun with half the step on common random numbers and report |φ_h − φ_{h/2}| as the systematic error (default: on).")
    var checkSteps = true

    enum EstimatorChoice: String, ExpressibleByArgument, CaseIterable {
        case clones, rb, uturn, all
        var set: Set<SpeciationEstimator> {
            switch self {
            case .clones: return [.clones]
            case .rb: return [.rb]
            case .uturn: return [.uturn]
            case .all: return Set(SpeciationEstimator.allCases)
            }
        }
    }

    func validate() throws {
        guard threshold.isFinite, threshold > 0, threshold < 1 else { throw ValidationError("--threshold must be in (0, 1), got \(threshold)") }
        guard pairs >= 2 else { throw ValidationError("--pairs must be ≥ 2, got \(pairs)") }
        guard samples >= 2 else { throw ValidationError("--samples must be ≥ 2, got \(samples)") }
        guard fitSamples == 0 || fitSamples >= 2 else { throw ValidationError("--fit-samples must be 0 or ≥ 2, got \(fitSamples)") }
        var (n, d) = SizeCheck.shape(dataOptions)
        let p = Double(max(pairs, samples)), k = Double(timeGrid.times?.values.count ?? timeGrid.points)
        // The exact 1-D reduction (clones/U-turns on a population gmm2) holds O(pairs × times), not O(pairs × d).
        if !fullDimensional, estimator != .rb, estimator != .all, let spec = try? dataOptions.spec(), spec.isPopulationOnly,
           let law = spec.population, (try? TwoClassReducedSDE(law)) != nil { (n, d) = (1, 1) }
        try SizeCheck.check(dataOptions, [SizeCheck.item(pairs >= samples ? "--pairs" : "--samples", max(pairs, samples), 2 * p * (4 * d + n)),
                                          SizeCheck.item(timeGrid.times == nil ? "--points" : "--times", Int(k), k * (p + 64)),
                                          SizeCheck.item("--steps", sde.steps, 4 * Double(sde.steps))])
    }

    struct ClassInfo: Encodable {
        var label: Int
        var name: String
        var fraction: Double
    }

    struct Output: Encodable {
        var data: String
        var n: Int?
        var d: Int
        var score: String
        var lambda: Double
        var eigenvalues: [Double]
        var usedGram: Bool
        var lambdaPopulation: Double?
        var tS: SpeciationTimes
        var phiInfinity: Double
        var classFractions: [Double]
        var classes: [ClassInfo]
        var threshold: Double
        var tCrossTheory: Double?
        var estimator: String
        var phi: [PhiPoint]
        var tCross: Double?
        var tCrossStderr: Double?
        var tCrossOverTS: Double?
        var estimators: [String: [PhiPoint]]
        var crossings: [String: LevelCrossing]
        var uturnSameComponent: [PhiPoint]?
        /// How `crossings["rb"]` was obtained: "brent" (root on the fixed sample set) or "interpolated" (fallback).
        var rbCrossingMethod: String?
        /// Gaussian mixture fitted to the labelled data (Docs/Theory.md §2.5): φ_LDA, φ_QDA and their t_S.
        var fitted: FittedSpeciationPrediction?
        var seed: UInt64
        var pairs: Int
        var T: Double
        var tMin: Double
        var steps: Int
        var scheme: String
        /// Dynamics of the clones/U-turns: "exact-1d-reduction" or "full-dimensional".
        var dynamics: String?
        /// Largest step of the grid the clones/U-turns ran on.
        var maxStep: Double?
        /// φ under every endpoint labelling rule on the same clone pairs, purities and crossings (clones on labelled data).
        var labelRules: LabelRulesOutput? = nil
        var conventions = "t = forward time of dx = -x dt + sqrt(2) dW; Delta_t = 1 - e^{-2t}; Lambda = top eigenvalue of the unbiased per-feature-centred covariance; primary t_S = (1/2) ln(1 + Lambda); phi = P(same class)"

        /// Schema results (Docs/Schema.md "Keys of results per command"); data, seed and run settings are in the envelope.
        enum CodingKeys: String, CodingKey {
            case score, lambda, eigenvalues, usedGram, lambdaPopulation, tS, phiInfinity, classFractions, classes, threshold,
                 tCrossTheory, estimator, phi, tCross, tCrossOverTS, estimators, crossings, uturnSameComponent, rbCrossingMethod, fitted,
                 dynamics, maxStep, labelRules
        }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(score, forKey: .score); try c.encode(lambda, forKey: .lambda)
            try c.encode(eigenvalues, forKey: .eigenvalues); try c.encode(usedGram, forKey: .usedGram)
            try c.encode(lambdaPopulation, forKey: .lambdaPopulation); try c.encode(SpeciationTimeOutput(tS), forKey: .tS)
            try c.encode(phiInfinity, forKey: .phiInfinity); try c.encode(classFractions, forKey: .classFractions)
            try c.encode(classes, forKey: .classes); try c.encode(threshold, forKey: .threshold)
            try c.encode(tCrossTheory, forKey: .tCrossTheory); try c.encode(estimator, forKey: .estimator)
            try c.encode(phi, forKey: .phi)
            try c.encode(tCross.map { Measured($0, stderr: tCrossStderr) }, forKey: .tCross)
            try c.encode(tCross.map { Measured($0 / tS.curvature, stderr: tCrossStderr.map { $0 / tS.curvature }) }, forKey: .tCrossOverTS)
            try c.encode(estimators, forKey: .estimators); try c.encode(crossings, forKey: .crossings)
            try c.encode(uturnSameComponent, forKey: .uturnSameComponent); try c.encode(rbCrossingMethod, forKey: .rbCrossingMethod)
            try c.encode(fitted, forKey: .fitted)
            try c.encodeIfPresent(dynamics, forKey: .dynamics); try c.encodeIfPresent(maxStep, forKey: .maxStep)
            try c.encodeIfPresent(labelRules, forKey: .labelRules)
        }
    }

    /// One row of `labelRules.phi`: φ per rule and the purities at one branch time.
    struct RuleRow: Encodable {
        var t: Double
        var finalComponent, nearestImage, pixelVote, classifier, sameNearestImage, branchPurity, endpointPurity: MeanEstimate
    }

    /// A curve's crossings of the midpoint level (1 + Σ_c π_c²)/2 and of --threshold (linear
    /// interpolation between the bracketing times, SE from the bracketing SEs, as every clone curve).
    struct RuleCrossing: Encodable {
        var midpoint: LevelCrossing?
        var threshold: LevelCrossing?
        enum CodingKeys: String, CodingKey { case midpoint, threshold }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(midpoint, forKey: .midpoint); try c.encode(threshold, forKey: .threshold)
        }
    }

    /// The endpoint labelling rules of the clones (Docs/LocalScores.md §7), all from the same pairs.
    struct LabelRulesOutput: Encodable {
        var rules: [String]
        /// (1 + Σ_c π_c²)/2: the level whose crossing defines t_S(P) (0.75 for two balanced classes).
        var midpointLevel: Double
        var threshold: Double
        var phi: [RuleRow]
        /// Rule (and "branchPurity") → crossings.
        var crossings: [String: RuleCrossing]

        init(_ estimates: [CloneEstimate], phiInfinity: Double, threshold: Double) {
            let rows = estimates.compactMap { e in
                e.rules.map { r in
                    RuleRow(t: e.t, finalComponent: r.finalComponent, nearestImage: r.nearestImage, pixelVote: r.pixelVote,
                            classifier: r.classifier, sameNearestImage: r.sameNearestImage, branchPurity: r.branchPurity,
                            endpointPurity: r.endpointPurity)
                }
            }.sorted { $0.t < $1.t }
            rules = CloneLabelRule.allCases.map(\.rawValue)
            midpointLevel = (1 + phiInfinity) / 2
            self.threshold = threshold
            phi = rows
            var crossings: [String: RuleCrossing] = [:]
            let curves: [(String, (RuleRow) -> MeanEstimate)] = [
                ("finalComponent", \.finalComponent), ("nearestImage", \.nearestImage), ("pixelVote", \.pixelVote),
                ("classifier", \.classifier), ("branchPurity", \.branchPurity),
            ]
            for (name, value) in curves {
                let ts = rows.map(\.t), v = rows.map { value($0).mean }, e = rows.map { value($0).standardError }
                let n = rows.map { value($0).count }
                func solve(_ level: Double) -> LevelCrossing? {
                    FittedCrossing.solve(times: ts, values: v, errors: e, level: level, counts: n)?.levelCrossing
                }
                crossings[name] = RuleCrossing(midpoint: solve((1 + phiInfinity) / 2), threshold: solve(threshold))
            }
            self.crossings = crossings
        }
    }

    func run() throws {
        let spec = try dataOptions.spec()
        let subject: SpeciationMeasurement.Subject
        var n: Int? = nil, d: Int
        var classes: [ClassInfo] = []
        if spec.isPopulationOnly {
            guard let law = spec.population, law.k >= 2 else {
                throw ModelError("\(spec): a one-component population has no classes to speciate into (use gmm2)")
            }
            subject = .population(law)
            d = law.d
            classes = law.weights.enumerated().map { ClassInfo(label: $0, name: "component \($0)", fraction: $1) }
        } else {
            let data = try spec.load(seed: dataOptions.seed)
            subject = .dataset(data, law: spec.population)
            let counts = data.classCounts
            classes = counts.keys.sorted().map { ClassInfo(label: $0, name: data.className($0), fraction: Double(counts[$0]!) / Double(data.n)) }
            n = data.n
            d = data.d
        }
        var measurement = try SpeciationMeasurement(subject: subject, settings: sde.settings, threads: threadOptions.count)
        measurement.fullDimensional = fullDimensional
        measurement.checkSteps = checkSteps
        if local.machine != nil {
            guard case .dataset(let data, _) = subject else { throw ModelError("--score \(local.score.rawValue) needs image data, not a population", parameter: "score") }
            guard estimator == .clones else { throw ModelError("--score \(local.score.rawValue) is measured with --estimator clones only", parameter: "estimator") }
            measurement.localScore = try local.model(data)
        }
        let prediction = try measurement.predict(threshold: threshold)
        warnDegenerateSpectrum(lambda: prediction.lambda)
        let grid = timeGrid.times?.values ?? SpeciationMeasurement.autoTimes(prediction, count: timeGrid.points)
        let tMin = sde.tMin, steps = sde.steps, scheme = sde.scheme
        let estimators = estimator.set
        let progress = ProgressReporter("speciation", total: grid.count * estimators.count, enabled: output.showProgress)
        // Clone pairs (--pairs) and samples (--samples) are separate counts: clones run apart when they differ.
        var result: SpeciationResult
        let others = estimators.subtracting([.clones])
        if estimators.contains(.clones), !others.isEmpty, pairs != samples {
            result = try measurement.run(times: grid, count: samples, estimators: others, threshold: threshold,
                                         seed: dataOptions.seed, progress: progress)
            let clones = try measurement.run(times: grid, count: pairs, estimators: [.clones], threshold: threshold,
                                             seed: dataOptions.seed, progress: progress)
            result.estimators[.clones] = clones.estimators[.clones]
            result.crossings[.clones] = clones.crossings[.clones]
            result.cloneEstimates = clones.cloneEstimates
        } else {
            result = try measurement.run(times: grid, count: estimators == [.clones] ? pairs : samples, estimators: estimators,
                                         threshold: threshold, seed: dataOptions.seed, progress: progress)
        }
        var mixture: FittedGaussianMixture? = nil
        if fitSamples > 0, case .dataset(let data, _) = subject { mixture = try FittedGaussianMixture(fitting: data) }
        let fitted = try mixture.map {
            try FittedSpeciationPrediction(mixture: $0, times: grid, threshold: threshold, samples: fitSamples,
                                           seed: dataOptions.seed, threads: threadOptions.count)
        }
        let T = measurement.resolvedHorizon(grid, lambda: prediction.lambda)
        // Ratios use the primary t_S = ½ ln(1 + Λ) (Docs/Conventions.md "Which t_S to quote").
        let tS = prediction.tS.curvature
        let out = Output(
            data: spec.description, n: n, d: d, score: n == nil ? "population (Gaussian mixture)" : local.machine != nil ? "\(local.label), endpoint = nearest training image" : "exact empirical",
            lambda: prediction.lambda, eigenvalues: prediction.eigenvalues, usedGram: prediction.usedGram,
            lambdaPopulation: prediction.lambdaPopulation, tS: prediction.tS, phiInfinity: prediction.phiInfinity,
            classFractions: prediction.classFractions, classes: classes, threshold: threshold, tCrossTheory: prediction.tCrossTheory,
            estimator: result.primary.rawValue, phi: result.phi, tCross: result.tCross, tCrossStderr: result.tCrossStderr,
            tCrossOverTS: result.tCross.map { $0 / tS }, estimators: Dictionary(uniqueKeysWithValues: result.estimators.map { ($0.key.rawValue, $0.value) }),
            crossings: Dictionary(uniqueKeysWithValues: result.crossings.map { ($0.key.rawValue, $0.value) }),
            uturnSameComponent: result.uturnSameComponent,
            rbCrossingMethod: result.estimators[.rb] == nil ? nil : (result.rbSolvedCrossing != nil ? "brent" : "interpolated"),
            fitted: fitted, seed: dataOptions.seed, pairs: pairs, T: T, tMin: tMin,
            steps: steps, scheme: scheme.rawValue, dynamics: result.dynamics?.rawValue, maxStep: result.maxStep,
            labelRules: result.cloneEstimates.map { LabelRulesOutput($0, phiInfinity: prediction.phiInfinity, threshold: threshold) })
        var lda: (@Sendable (Double) -> Double)? = nil
        if let mixture, mixture.k == 2 { lda = try FittedMixtureTheory.phiLDA(mixture) }
        if let plot = output.plot { try drawPlot(out, theory: measurement.analyticPhi, lda: lda, to: plot) }
        try curveFile.write(curveTable(out))
        if output.json {
            try printJSON(command: "speciation", data: DataDescription(spec: spec.description, n: n, d: d),
                          parameters: ["samples": .integer(samples), "pairs": .integer(pairs), "estimator": .text(estimator.rawValue),
                                       "threshold": .number(threshold), "times": .numbers(grid), "fitSamples": .integer(fitSamples),
                                       "horizon": .number(T), "tMin": .number(tMin), "steps": .integer(steps),
                                       "grid": .text(sde.grid.rawValue), "scheme": .text(scheme.rawValue), "seed": .seed(dataOptions.seed)],
                          results: out)
            return
        }
        let f = { (v: Double) in String(format: "%.4f", v) }
        print("data: \(spec)   \(n.map { "n = \($0), " } ?? "")d = \(d)   score: \(out.score)   seed \(dataOptions.seed)")
        print("conventions: \(out.conventions)")
        print("backward SDE: \(scheme.rawValue) scheme, \(sde.grid.rawValue) grid T = \(f(T)) → t_min = \(tMin), \(steps) steps")
        if result.dynamics == .exactReduction {
            print("dynamics: exact 1-D reduction (M = m̂·x, Docs/Theory.md §2.4; Euler–Maruyama, largest step \(String(format: "%.4g", result.maxStep ?? .nan)); "
                  + (checkSteps ? "step-halving check on: systematic = |φ_h − φ_{h/2}|, φ reported at h/2)" : "no step-halving check)"))
        } else if result.dynamics == .fullDimensional {
            print("dynamics: full-dimensional (d = \(d))" + (checkSteps ? "; no step-halving check (it needs the exact 1-D reduction)" : ""))
        }
        print("")
        print("Prediction (Docs/Theory.md §2.1–2.2)")
        print("  Λ = \(f(prediction.lambda))\(prediction.usedGram ? " [Gram matrix, n < d]" : "")   next eigenvalues: \(prediction.eigenvalues.dropFirst().map(f).joined(separator: ", "))")
        if let lp = prediction.lambdaPopulation { print("  population Λ = d m̃² + σ² = \(f(lp))") }
        print("  t_S = ½ln(1+Λ) = \(f(prediction.tS.curvature)) [primary; ratios below use it]   also: paper ½lnΛ = \(f(prediction.tS.paper)), drift ½ln(2Λ) = \(f(prediction.tS.drift))")
        print("  classes: " + classes.map { "\($0.name) (label \($0.label), π = \(f($0.fraction)))" }.joined(separator: ", "))
        print("  φ(∞) = Σ_c π_c² = \(f(prediction.phiInfinity))")
        if let tc = prediction.tCrossTheory { print("  exact two-class curve crosses φ = \(threshold) at t = \(f(tc))  (t/t_S = \(f(tc / tS)))") }
        if let fit = fitted {
            let lw = fit.shrinkageQDA.map(f).joined(separator: ", ")
            print("Gaussian mixture fitted to the labelled classes (Docs/Theory.md §2.5; shrinkage \(fit.shrinkagePolicy): Ledoit–Wolf ρ per class [\(lw)], pooled \(f(fit.shrinkageLDA)))")
            if fit.lda != nil {
                print("  LDA (pooled covariance, closed form)   t_S(φ = \(threshold)) = \(fit.tSLDA.map(f) ?? "no crossing")" + (fit.tSLDA.map { "   t/t_S = \(f($0 / tS))" } ?? ""))
            }
            if let q = fit.tSQDA {
                print("  QDA (class covariances, Monte Carlo)   t_S(φ = \(threshold)) = \(f(q.t)) ± \(f(q.standardError))   t/t_S = \(f(q.t / tS))   (\(fit.samples) samples)")
            } else {
                print("  QDA (class covariances, Monte Carlo)   φ_QDA does not cross \(threshold) near the grid")
            }
        }
        print("Measurement (" + [estimators.contains(.clones) ? "\(pairs) clone pairs" : nil, estimators != [.clones] ? "\(samples) samples" : nil]
              .compactMap { $0 }.joined(separator: ", ") + " per time)")
        for e in result.estimators.keys.sorted() {
            if let c = result.crossings[e] {
                print("  \(e.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)) t_cross(φ = \(threshold)) = \(f(c.t)) ± \(f(c.standardError))   t_cross/t_S = \(f(c.t / tS)) ± \(f(c.standardError / tS))\(e == result.primary ? "   [primary]" : "")")
            } else {
                print("  \(e.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)) φ does not cross \(threshold) on this grid")
            }
        }
        print("")
        let keys = result.estimators.keys.sorted()
        let systematic = Set(keys.filter { k in result.estimators[k]!.contains { $0.systematic != nil } })
        print("      t     t/t_S " + keys.map { "  φ_\($0.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0))   ±SE  " + (systematic.contains($0) ? "  syst  " : "") }.joined()
              + (measurement.analyticPhi != nil ? "  φ_theory" : "") + (fitted != nil ? "   φ_LDA   φ_QDA   ±SE" : ""))
        for (i, p) in result.phi.enumerated() {
            var line = String(format: "  %7.4f  %6.3f ", p.t, p.t / tS)
            for k in keys {
                let q = result.estimators[k]![i]
                line += String(format: "  %7.4f %7.4f ", q.measured, q.stderr)
                if systematic.contains(k) { line += String(format: " %7.4f", q.systematic ?? .nan) }
            }
            if let th = p.theory { line += String(format: "  %8.5f", th) }
            if let fit = fitted {
                line += fit.lda.map { String(format: "  %7.4f", $0[i].value) } ?? "        -"
                line += String(format: "  %7.4f %6.4f", fit.qda[i].value, fit.qda[i].stderr)
            }
            print(line)
        }
        if n != nil, measurement.analyticPhi != nil {
            print("(φ_theory is the population two-class curve; the empirical score follows it while collapse comes later, t_C < t_S)")
        }
        if let rules = out.labelRules { printRules(rules) }
        if let plot = output.plot { print("figure: \(plot)") }
    }

    /// The clones' endpoint labelling rules: φ per rule, purities, crossings (Docs/LocalScores.md §7).
    private func printRules(_ r: LabelRulesOutput) {
        let f = { (v: Double) in String(format: "%.4f", v) }
        print("")
        print("Clone endpoint labelling rules, same pairs (Docs/LocalScores.md §7): final = class of the final step's component, "
              + "nearest = class of the nearest training image (L1), vote = argmax of the class masses at t_min (L2), "
              + "classifier = nearest class mean (L3); purity E[Σ_c p_c²] at the branch point (= φ_final for the exact score, "
              + "Nishimori) and at t_min; ± = binomial / sample SE")
        for name in r.rules + ["branchPurity"] {
            let c = r.crossings[name]
            let m = c?.midpoint.map { "\(f($0.t)) ± \(f($0.standardError))" } ?? "none on this grid"
            let th = c?.threshold.map { "\(f($0.t)) ± \(f($0.standardError))" } ?? "none on this grid"
            print("  \(name.padding(toLength: 15, withPad: " ", startingAt: 0)) t_S (φ = \(f(r.midpointLevel))) = \(m)   t (φ = \(threshold)) = \(th)")
        }
        print("      t    φ_final  φ_nearest  φ_vote  φ_classifier   ±SE(max)  φ_C,nearest  purity(t)  ±SE   purity(t_min)  ±SE")
        for row in r.phi {
            let se = [row.finalComponent, row.nearestImage, row.pixelVote, row.classifier].map(\.standardError).max()!
            print(String(format: "  %7.4f  %7.4f  %7.4f  %7.4f  %7.4f      %7.4f    %7.4f    %7.4f  %6.4f   %7.4f  %6.4f", row.t,
                         row.finalComponent.mean, row.nearestImage.mean, row.pixelVote.mean, row.classifier.mean, se,
                         row.sameNearestImage.mean, row.branchPurity.mean, row.branchPurity.standardError,
                         row.endpointPurity.mean, row.endpointPurity.standardError))
        }
    }

    /// φ(t) of every estimator as the `--out` CSV (camelCase; empty cell = missing); with the clone
    /// labelling rules also φ per rule and the purities.
    private func curveTable(_ out: Output) -> CSVTable {
        let keys = SpeciationEstimator.allCases.map(\.rawValue)
        let allRuleKeys: [String] = ["phiFinalComponent", "phiNearestImage", "phiPixelVote", "phiClassifier",
                                     "phiSameNearestImage", "branchPurity", "endpointPurity"]
        let ruleKeys: [String] = out.labelRules == nil ? [] : allRuleKeys
        var header: [String] = ["t", "phiTheory"]
        for k in keys {
            let name: String = "phi" + k.prefix(1).uppercased() + k.dropFirst()
            header += [name, name + "Stderr"]
        }
        for k in ruleKeys { header += [k, k + "Stderr"] }
        var table = CSVTable(header: header)
        let ruleRows = Dictionary((out.labelRules?.phi ?? []).map { ($0.t, $0) }, uniquingKeysWith: { a, _ in a })
        for (i, p) in out.phi.enumerated() {
            var row: [CSVValue] = [.number(p.t), .number(p.theory ?? .nan)]
            for k in keys {
                if let q = out.estimators[k]?[i] { row += [.number(q.measured), .number(q.stderr)] } else { row += [.number(.nan), .number(.nan)] }
            }
            if !ruleKeys.isEmpty {
                if let r = ruleRows[p.t] {
                    for e in [r.finalComponent, r.nearestImage, r.pixelVote, r.classifier, r.sameNearestImage, r.branchPurity, r.endpointPurity] {
                        row += [.number(e.mean), .number(e.standardError)]
                    }
                } else {
                    row += Array(repeating: .number(.nan), count: 2 * ruleKeys.count)
                }
            }
            table.append(row)
        }
        return table
    }

    private func drawPlot(_ out: Output, theory: ((Double) -> Double)?, lda: ((Double) -> Double)?, to png: String) throws {
        let base = (png as NSString).deletingPathExtension
        let dat = base + ".dat"
        let keys = SpeciationEstimator.allCases.map(\.rawValue)
        var table = CSVTable(header: ["t"] + keys.flatMap { [$0, $0 + "Stderr"] })
        for (i, p) in out.phi.enumerated() {
            var row: [CSVValue] = [.number(p.t)]
            for k in keys {
                if let q = out.estimators[k]?[i] { row += [.number(q.measured), .number(q.stderr)] } else { row += [.number(.nan), .number(.nan)] }
            }
            table.append(row)
        }
        try writeText("# " + CSVTable.spaceSeparated(table.text), to: dat)
        // The t range holds the measured times and both t_S lines (an --auto grid may end before ½ ln(1+Λ)).
        let tLo = max(1e-3, min(out.phi.first?.t ?? 0, out.tS.paper) * 0.9), tHi = max(out.phi.last?.t ?? 1, out.tS.curvature) * 1.1
        let colours = ["clones": "dark-green", "rb": "blue", "uturn": "red"]
        var plots: [String] = []
        for (i, k) in keys.enumerated() where out.estimators[k] != nil {
            plots.append("'\(dat)' using 1:\(2 + 2 * i):\(3 + 2 * i) with yerrorbars pt 7 lc rgb '\(colours[k]!)' title '\(k) (measured, ±1 SE)'")
        }
        if let theory {
            let tdat = base + "-theory.dat"
            let ts = (0...200).map { tLo + (tHi - tLo) * Double($0) / 200 }
            try writeText("# t phi_exact_two_class\n" + ts.map { "\($0) \(theory($0))" }.joined(separator: "\n") + "\n", to: tdat)
            plots.insert("'\(tdat)' using 1:2 with lines lw 2 lc rgb 'black' title 'theory: exact two-class φ(t)'", at: 0)
        }
        if let fit = out.fitted {
            let fdat = base + "-fitted.dat"
            var rows = "# t phi_QDA stderr\n"
            for p in fit.qda { rows += "\(p.t) \(p.value) \(p.stderr)\n" }
            try writeText(rows, to: fdat)
            plots.append("'\(fdat)' using 1:2:3 with yerrorlines dt 4 pt 6 lc rgb 'dark-orange' title 'theory: fitted QDA mixture (Monte Carlo, ±1 SE)'")
            if let lda {
                let ldat = base + "-lda.dat"
                let ts = (0...200).map { tLo + (tHi - tLo) * Double($0) / 200 }
                try writeText("# t phi_LDA\n" + ts.map { "\($0) \(lda($0))" }.joined(separator: "\n") + "\n", to: ldat)
                plots.append("'\(ldat)' using 1:2 with lines lw 2 dt 2 lc rgb 'dark-cyan' title 'theory: fitted LDA mixture (closed form)'")
            }
        }
        plots.append("\(out.threshold) with lines dt 3 lc rgb 'gray40' title 'φ = \(out.threshold)'")
        let lines = [
            "set title \(Gnuplot.quote("\(out.data): speciation (error bars ±1 SE)")) noenhanced",
            "set xlabel 't (forward time)'", "set ylabel 'φ(t) = P(same class)'", "set key top right",
            "set xrange [\(tLo):\(tHi)]",
            "set yrange [\(min(0.45, out.phiInfinity - 0.05)):1.02]",
            Gnuplot.verticalLine(at: out.tS.paper, label: "½ ln Λ (secondary)", colour: "purple", dashType: 3, inside: 0.04, tag: 1),
            Gnuplot.verticalLine(at: out.tS.curvature, label: "t_S = ½ ln(1+Λ) (primary)", colour: "brown", inside: 0.04, tag: 2),
            "plot " + plots.joined(separator: ", "),
        ]
        try Gnuplot.render(script: lines.joined(separator: "\n"), to: png)
    }
}

extension SpeciationCommand.EstimatorChoice: Sendable {}

extension SpeciationCommand: TimeGridDefaults {
    /// --auto: t/t_S evenly from 0.5 to 1.5 at 11 times.
    static let points = 11
}
