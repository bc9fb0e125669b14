import ArgumentParser
import DiffusionPhysics
import DiffusionStudies
import Foundation
import GSLKit

struct CollapseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collapse",
        abstract: "Collapse (memorisation) time t_C: predictions beside forward-sampling, trajectory and endpoint measurements.",
        usage: UsageText.line("collapse", UsageText.data, UsageText.output, UsageText.threads, UsageText.times, "[--samples <samples>]",
                             UsageText.sde, "[--trajectories <n>] [--pairs <n>] [--fresh <n>] [--fit-samples <n>] [--out <file.csv>]",
                             "[--score <kind> --patch <P> [--along-trajectories] [--sampler sde|ode] [--record-every <k>]]"),
        discussion: """
        Predictions (Docs/Theory.md §3.2–3.3): eq. 10 and the finite-d two-class root (gaussian/gmm2), the Gaussian-spectrum \
        bound, the REM non-planted E[Y2] = 1 − λ_c. Measurements with the exact empirical score: planted forward \
        samples (E[Y2] = E[w_origin] = φ_C, P(argmax w = origin), f^e = −(1/d) E ln w_origin with a bootstrap \
        interval), non-planted E[Y2] on fresh population points, per-trajectory hat t_C (last change of the nearest \
        scaled training point along backward SDE runs, Docs/Theory.md §3.4 M2), optional clones (φ_C), and the gap-ratio \
        memorisation fraction of x(t_min), of the posterior mean and of the posterior draw (the draw is a training \
        point: f_mem = 1). Operational t_C side by side: E[Y2] = ½, mean hat t_C, f^e/α = 0.1 and 0.05.
        Example: diffphys collapse --data gaussian:d=64,n=1000 --auto --plot collapse.png
        With --score ls|els|els-circ|bbels --patch P (Docs/LocalScores.md §7): per-pixel forward collapse times \
        t_C^(i) (E[Y2_i] = ½ on --samples planted samples, solved per pixel) beside eq. 10 and the Gaussian-spectrum t_C \
        of each pixel's patch data set; --along-trajectories adds the per-pixel source and Y2_i maps along machine \
        trajectories; --out writes the per-pixel map, --plot its heat map.
        Example: diffphys collapse --data fashion-mnist:classes=1,9,per-class=100 --score ls --patch 7 --samples 400
        """)

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var timeGrid: TimeGridOptions<Self>
    @OptionGroup var sampleCount: SampleCountOptions<Self>
    @OptionGroup var sde: SDEOptions
    @Option(parsing: .unconditional, help: "Backward SDE trajectories for hat t_C and f_mem (0: skip).") var trajectories = 200
    @Option(name: .customLong("pairs"), parsing: .unconditional, help: "Clone pairs per time for φ_C (0: skip; costly).") var pairsOption = 0
    /// `--clones`: the former spelling of `--pairs`, kept as a hidden alias.
    @Option(name: .customLong("clones"), parsing: .unconditional, help: .private) var legacyClones: Int?
    @Option(parsing: .unconditional, help: "Fresh population points for the non-planted ensemble (gaussian/gmm2; 0: skip).") var fresh = 2000
    @Option(name: .customLong("fit-samples"), parsing: .unconditional,
            help: "Monte-Carlo samples of the Gaussian mixture fitted to labelled data (t_C from its entropy, Docs/Theory.md §2.5; 0: no fit).")
    var fitSamples = 2000
    @OptionGroup var curveFile: CurveFileOptions
    @OptionGroup var local: LocalScoreOptions
    @Flag(name: .customLong("along-trajectories"),
          help: "With a local --score: also the per-pixel collapse maps along --trajectories machine trajectories (default: off).")
    var alongTrajectories = false
    @Option(help: ArgumentHelp("With --along-trajectories: the sampler, sde or ode (default: sde).", valueName: "sampler"))
    var sampler: LocalSampler = .sde
    @Option(name: .customLong("record-every"), parsing: .unconditional,
            help: "With --along-trajectories: record every k-th grid level (and the last) (default: 1).")
    var recordEvery = 1
    var clones: Int { legacyClones ?? pairsOption }

    var samples: Int { sampleCount.samples }
    var horizon: Double { sde.resolvedHorizon }
    var tMin: Double { sde.tMin }
    var steps: Int { sde.steps }

    func validate() throws {
        if local.machine == nil, alongTrajectories { throw ValidationError("--along-trajectories needs a local --score (ls, els, els-circ, bbels)") }
        if local.machine != nil {
            guard local.patchSchedule == nil else { throw ValidationError("per-pixel collapse times need a fixed --patch, not --patch-schedule") }
            guard clones == 0 else { throw ValidationError("--pairs (φ_C clones) is not available with a local --score") }
            guard recordEvery >= 1 else { throw ValidationError("--record-every must be ≥ 1") }
        }
        guard timeGrid.points >= 3 else { throw ValidationError("--points must be ≥ 3") }
        guard trajectories == 0 || trajectories >= 2 else { throw ValidationError("--trajectories must be 0 or ≥ 2") }
        guard clones >= 0, fresh >= 0 else { throw ValidationError("--pairs and --fresh must be ≥ 0") }
        guard fitSamples == 0 || fitSamples >= 2 else { throw ValidationError("--fit-samples must be 0 or ≥ 2, got \(fitSamples)") }
        let (n, d) = SizeCheck.shape(dataOptions), s = Double(sampleCount.samples), k = Double(timeGrid.times?.values.count ?? timeGrid.points)
        try SizeCheck.check(dataOptions, [SizeCheck.item("--samples", sampleCount.samples, s * (n + 2 * d)),
                                          SizeCheck.item(timeGrid.times == nil ? "--points" : "--times", Int(k), k * (s + 64)),
                                          SizeCheck.item("--trajectories", trajectories, Double(trajectories) * (4 * d + n)),
                                          SizeCheck.item("--pairs", clones, 2 * Double(clones) * (4 * d + n)),
                                          SizeCheck.item("--fresh", fresh, Double(fresh) * (2 * d + n)),
                                          SizeCheck.item("--steps", sde.steps, 4 * Double(sde.steps))])
    }

    struct CurveRow: Encodable {
        var t, y2, y2Stderr, wOrigin, wOriginStderr, y2MinusWOrigin, y2MinusWOriginStderr: Double
        var argmaxIsOrigin, argmaxIsOriginStderr, fe, feStderr, feLower, feUpper, feRatio: Double
        var feRatioTheory, y2NonPlanted, y2NonPlantedStderr, y2Rem, phiC, phiCStderr: Double?
        /// f_fit(t)/α of the fitted class mixture (QDA, Monte Carlo) and its SE (Docs/Theory.md §2.5).
        var feRatioFitted, feRatioFittedStderr: Double?
        /// α, to write f^e/α with its SE.
        var alpha = 1.0

        /// Schema row (Docs/Schema.md "Keys of results per command"): each measured quantity `{value, stderr}`.
        enum CodingKeys: String, CodingKey {
            case t, y2, wOrigin, y2MinusWOrigin, argmaxIsOrigin, fe, feInterval, feRatio, feRatioTheory, y2NonPlanted, y2Rem, phiC, feRatioFitted
        }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(t, forKey: .t)
            try c.encode(Measured(y2, stderr: y2Stderr), forKey: .y2)
            try c.encode(Measured(wOrigin, stderr: wOriginStderr), forKey: .wOrigin)
            try c.encode(Measured(y2MinusWOrigin, stderr: y2MinusWOriginStderr), forKey: .y2MinusWOrigin)
            try c.encode(Measured(argmaxIsOrigin, stderr: argmaxIsOriginStderr), forKey: .argmaxIsOrigin)
            try c.encode(Measured(fe, stderr: feStderr), forKey: .fe)
            try c.encode(["lower": feLower, "upper": feUpper, "level": 0.95], forKey: .feInterval)
            try c.encode(Measured(feRatio, stderr: feStderr / alpha), forKey: .feRatio)
            try c.encode(feRatioTheory, forKey: .feRatioTheory)
            try c.encode(y2NonPlanted.map { Measured($0, stderr: y2NonPlantedStderr) }, forKey: .y2NonPlanted)
            try c.encode(y2Rem, forKey: .y2Rem)
            try c.encode(phiC.map { Measured($0, stderr: phiCStderr, systematic: nil) }, forKey: .phiC)
            try c.encode(feRatioFitted.map { Measured($0, stderr: feRatioFittedStderr) }, forKey: .feRatioFitted)
        }
    }
    struct ClassInfo: Encodable {
        var label: Int
        var name: String
        var count: Int
    }
    struct TrajectoryOutput: Encodable {
        var count: Int; var mean, stderr, median: Double
        var histogram: Histogram
        var memorization: [MemorizationFraction]

        /// Schema: `{count, mean: {value, stderr}, median, histogram, memorization}`.
        enum CodingKeys: String, CodingKey { case count, mean, median, histogram, memorization }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(count, forKey: .count)
            try c.encode(Measured(mean, stderr: stderr), forKey: .mean)
            try c.encode(median, forKey: .median)
            try c.encode(histogram, forKey: .histogram)
            try c.encode(memorization, forKey: .memorization)
        }
    }
    struct Output: Encodable {
        var data: String
        var n: Int
        var d: Int
        var alpha: Double
        var tC: [String: Double]
        var tCStderr: [String: Double]
        var tS: Double
        var lambda: Double
        var curve: [CurveRow]
        var trajectory: TrajectoryOutput?
        /// Labelled classes (label, name, points).
        var classes: [ClassInfo]?
        /// Entropy-criterion t_C of the Gaussian mixture fitted to the labelled classes (Docs/Theory.md §2.5).
        var fitted: FittedCollapsePrediction?
        var seed: UInt64
        var samples: Int
        var conventions = "t = forward time; Delta_t = 1 - e^{-2t}; alpha = ln n / d; fe = -(1/d) E ln w_origin (planted); y2Rem = REM non-planted E[Y2] = 1 - lambda_c"

        /// Keys of `tC` that are predictions (the others are measurements).
        static let predictedKeys: Set<String> = ["gaussian", "gmmFiniteD", "spectrum", "fittedQDA", "fittedLDA"]

        /// Schema results (Docs/Schema.md "Keys of results per command"); data, seed and samples are in the envelope.
        enum CodingKeys: String, CodingKey { case alpha, lambda, tS, tC, curve, trajectory, classes, fitted }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(alpha, forKey: .alpha)
            try c.encode(lambda, forKey: .lambda)
            try c.encode(SpeciationTimeOutput(SpeciationTheory.tS(lambda: lambda)), forKey: .tS)
            var measured: [String: Measured] = [:], predicted: [String: Measured] = [:]
            for (k, v) in tC {
                let m = Measured(v, stderr: tCStderr[k])
                if Self.predictedKeys.contains(k) { predicted[k] = m } else { measured[k] = m }
            }
            try c.encode(CollapseTimeOutput(measured: measured, predicted: predicted), forKey: .tC)
            try c.encode(curve.map { var r = $0; r.alpha = alpha; return r }, forKey: .curve)
            try c.encode(trajectory, forKey: .trajectory)
            try c.encode(classes, forKey: .classes)
            try c.encode(fitted, forKey: .fitted)
        }
    }

    func run() throws {
        if local.machine != nil { return try runLocal() }
        let spec = try dataOptions.spec()
        let data = try spec.load(seed: dataOptions.seed)
        let score = try EmpiricalScore(data)
        let pred = try CollapsePredictions(spec: spec, data: data)
        let grid: [Double]
        if let times = timeGrid.times {
            grid = times.values
        } else {
            let points = timeGrid.points
            let centre = pred.tCGaussian ?? pred.tCSpectrum
            let lo = max(1e-3, centre / 20), hi = max(3 * centre, 3)
            grid = (0..<points).map { lo * pow(hi / lo, Double($0) / Double(points - 1)) }
        }
        var freshPoints: Matrix<Double>? = nil
        if fresh > 0, let law = spec.population {
            // Streams n..<n+fresh of the data seed: independent of the n training points.
            let all = try law.sample(n: data.n + fresh, seed: dataOptions.seed)
            freshPoints = all.points.rows(data.n..<(data.n + fresh))
        }
        let inside = grid.filter { $0 > tMin && $0 < horizon }
        let cost = CollapseCost(n: data.n, d: data.d, times: grid.count, samples: samples, fresh: freshPoints != nil,
                                trajectories: trajectories, clones: clones, branchTimes: inside.count, steps: steps,
                                fitSamples: fitSamples > 0 && data.classes.count >= 2 ? fitSamples : 0)
        let progress = ProgressReporter("collapse", cost: cost.total, enabled: output.showProgress)
        let measurement = CollapseMeasurement(score: score, threads: threadOptions.count)
        let curve = try measurement.curve(times: grid, samples: samples, seed: dataOptions.seed, fresh: freshPoints,
                                          predictions: pred, progress: progress.stage(units: grid.count, cost: cost.curve))
        let measured = try measurement.measuredTimes(curve: curve, samples: samples, seed: dataOptions.seed, fresh: freshPoints,
                                                     progress: progress.stage(units: freshPoints == nil ? 3 : 4, cost: cost.solve))
        var traj: TrajectoryCollapseResult? = nil
        if trajectories > 0 {
            traj = try TrajectoryCollapse(score: score, settings: sde.settings, threads: threadOptions.count)
                .run(trajectories: trajectories, seed: dataOptions.seed,
                     progress: progress.stage(units: trajectories, cost: cost.trajectories))
        }
        var phiC: [Double: MeanEstimate] = [:]
        if clones > 0 {
            let est = try CloningExperiment(model: score, settings: sde.settings, threads: threadOptions.count)
                .run(branchTimes: inside, pairs: clones, seed: dataOptions.seed,
                     progress: progress.stage(units: inside.count, cost: cost.clones))
            for e in est { phiC[e.t] = e.sameComponent }
        }
        var fitted: FittedCollapsePrediction? = nil
        if fitSamples > 0, data.classes.count >= 2 {
            let mixture = try FittedGaussianMixture(fitting: data)
            fitted = try FittedCollapsePrediction(mixture: mixture, n: data.n, times: grid, samples: fitSamples,
                                                  seed: dataOptions.seed, threads: threadOptions.count)
        }
        progress.finish()
        let fittedCurve = Dictionary(uniqueKeysWithValues: (fitted?.curve ?? []).map { ($0.t, $0) })
        var tC: [String: Double] = ["spectrum": pred.tCSpectrum]
        var tCStderr: [String: Double] = [:]
        if let g = pred.tCGaussian { tC["gaussian"] = g }
        if let g = pred.tCGMMFiniteD { tC["gmmFiniteD"] = g }
        func put(_ key: String, _ c: LevelCrossing?) {
            if let c { tC[key] = c.t; tCStderr[key] = c.standardError }
        }
        put("y2", measured.y2)
        put("entropy10", measured.entropy10)
        put("entropy05", measured.entropy05)
        put("y2NonPlanted", measured.y2NonPlanted)
        if let traj { tC["trajectory"] = traj.mean.mean; tCStderr["trajectory"] = traj.mean.standardError }
        if let q = fitted?.tC { tC["fittedQDA"] = q.t; tCStderr["fittedQDA"] = q.standardError }
        if let l = fitted?.tCLDA { tC["fittedLDA"] = l.t; tCStderr["fittedLDA"] = l.standardError }
        let rows = curve.map { p in
            CurveRow(t: p.t, y2: p.y2.mean, y2Stderr: p.y2.standardError, wOrigin: p.wOrigin.mean,
                     wOriginStderr: p.wOrigin.standardError, y2MinusWOrigin: p.y2MinusWOrigin.mean,
                     y2MinusWOriginStderr: p.y2MinusWOrigin.standardError, argmaxIsOrigin: p.argmaxIsOrigin.mean,
                     argmaxIsOriginStderr: p.argmaxIsOrigin.standardError, fe: p.fe.mean, feStderr: p.fe.standardError,
                     feLower: p.feInterval.lower, feUpper: p.feInterval.upper, feRatio: p.feRatio,
                     feRatioTheory: p.feRatioTheory, y2NonPlanted: p.y2NonPlanted?.mean,
                     y2NonPlantedStderr: p.y2NonPlanted?.standardError, y2Rem: p.y2Rem,
                     phiC: phiC[p.t]?.mean, phiCStderr: phiC[p.t]?.standardError,
                     feRatioFitted: fittedCurve[p.t]?.value, feRatioFittedStderr: fittedCurve[p.t]?.stderr)
        }
        let out = Output(data: spec.description, n: data.n, d: data.d, alpha: pred.alpha, tC: tC, tCStderr: tCStderr,
                         tS: pred.tS, lambda: pred.lambda, curve: rows,
                         trajectory: traj.map { TrajectoryOutput(count: $0.collapseTimes.count, mean: $0.mean.mean,
                                                                 stderr: $0.mean.standardError, median: $0.median,
                                                                 histogram: $0.histogram, memorization: $0.memorization) },
                         classes: data.labels == nil ? nil : data.classCounts.keys.sorted().map {
                             ClassInfo(label: $0, name: data.className($0), count: data.classCounts[$0]!) },
                         fitted: fitted, seed: dataOptions.seed, samples: samples)
        if let plot = output.plot { try drawPlot(out, to: plot) }
        try curveFile.write(curveTable(out))
        if output.json {
            try printJSON(command: "collapse", data: DataDescription(spec: spec.description, n: data.n, d: data.d),
                          parameters: ["samples": .integer(samples), "times": .numbers(grid), "trajectories": .integer(trajectories),
                                       "pairs": .integer(clones), "fresh": .integer(fresh), "fitSamples": .integer(fitSamples),
                                       "horizon": .number(horizon), "tMin": .number(tMin), "steps": .integer(steps),
                                       "grid": .text(sde.grid.rawValue), "scheme": .text(sde.scheme.rawValue), "seed": .seed(dataOptions.seed)],
                          results: out)
            return
        }
        printText(out)
    }

    private func printText(_ out: Output) {
        func f(_ x: Double) -> String { String(format: "%.4f", x) }
        func withSE(_ key: String) -> String {
            guard let v = out.tC[key] else { return "   -" }
            return out.tCStderr[key].map { "\(f(v)) ± \(f($0))" } ?? f(v)
        }
        print("data: \(out.data)   n = \(out.n), d = \(out.d), α = ln n/d = \(String(format: "%.6f", out.alpha))   seed \(out.seed)")
        if let classes = out.classes { print("classes: " + classes.map { "\($0.name) (label \($0.label), \($0.count) points)" }.joined(separator: ", ")) }
        print("Predicted t_C (Docs/Theory.md §3.2)")
        if let g = out.tC["gaussian"] { print("  Gaussian closed form (eq. 10)        \(f(g))") }
        if let g = out.tC["gmmFiniteD"] { print("  two-class finite-d root             \(f(g))") }
        print("  Gaussian-spectrum t_C               \(f(out.tC["spectrum"]!))   (one Gaussian with the data covariance; an upper bound for the")
        print("                                               entropy-criterion t_C only — E[Y2] = ½ may lie above it, Docs/Conventions.md)")
        if let fit = out.fitted {
            print("  fitted class mixture, QDA (f_fit = 0) \(withSE("fittedQDA"))   (Docs/Theory.md §2.5; \(fit.samples) Monte-Carlo samples)")
            print("  fitted class mixture, LDA (f_fit = 0) \(withSE("fittedLDA"))")
            if let lo = fit.tCLower, let hi = fit.tCUpper {
                print("  QDA bracket from 0 ≤ I(class; x_t) ≤ H(π): [\(f(lo)), \(f(hi))]")
            }
        }
        print("Measured t_C (operational definitions, Docs/Theory.md §3.4)")
        print("  E[Y2] = ½ (planted, = φ_C)          \(withSE("y2"))   [primary t_C]")
        print("  mean per-trajectory hat t_C         \(withSE("trajectory"))")
        print("  f^e/α = 0.1                         \(withSE("entropy10"))")
        print("  f^e/α = 0.05                        \(withSE("entropy05"))")
        if out.tC["y2NonPlanted"] != nil { print("  non-planted E[Y2] = ½               \(withSE("y2NonPlanted"))") }
        print("")
        print("      t     E[Y2]    ±SE   E[w_o]  Y2−w_o ±SE    P(argmax=o)   f^e/α   ±SE   [95% boot]      f/α theory  Y2 fresh  Y2 REM   φ_C"
              + (out.fitted != nil ? "   f_fit/α (QDA) ±SE" : ""))
        for r in out.curve {
            let a = out.alpha
            var line = String(format: "  %7.4f %7.4f %6.4f %7.4f %+8.1e %7.1e %7.4f  %7.4f %6.4f [%6.4f,%6.4f]",
                              r.t, r.y2, r.y2Stderr, r.wOrigin, r.y2MinusWOrigin, r.y2MinusWOriginStderr, r.argmaxIsOrigin,
                              r.feRatio, r.feStderr / a, r.feLower / a, r.feUpper / a)
            line += r.feRatioTheory.map { String(format: "  %8.4f", $0) } ?? "         -"
            line += r.y2NonPlanted.map { String(format: "  %7.4f", $0) } ?? "        -"
            line += r.y2Rem.map { String(format: "  %7.4f", $0) } ?? "        -"
            line += r.phiC.map { String(format: "  %6.4f±%6.4f", $0, r.phiCStderr ?? 0) } ?? (out.fitted != nil ? "        -" : "")
            line += r.feRatioFitted.map { String(format: "  %8.4f %6.4f", $0, r.feRatioFittedStderr ?? 0) } ?? ""
            print(line)
        }
        if let tr = out.trajectory {
            print("")
            print("Per-trajectory collapse (\(tr.count) backward SDE trajectories, T = \(horizon) → t_min = \(tMin), \(steps) \(sde.grid.rawValue) steps, \(sde.scheme.rawValue))")
            print("  hat t_C mean \(f(tr.mean)) ± \(f(tr.stderr)), median \(f(tr.median))")
            let centres = tr.histogram.centres
            for (c, k) in zip(centres, tr.histogram.counts) {
                print(String(format: "  %7.4f  %5d  ", c, k) + String(repeating: "#", count: min(60, k * 60 / max(1, tr.count))))
            }
            print("Gap-ratio memorisation (d₁/d₂ < 1/3, Docs/Theory.md §3.4 M4)")
            for m in tr.memorization {
                print(String(format: "  %-15@ f_mem = %.4f ± %.4f  [%.4f, %.4f]   mean d₁ = %.4g   mean d₁/d₂ = %.4f",
                             m.samples as NSString, m.fraction.mean, m.fraction.standardError, m.interval.lower, m.interval.upper,
                             m.nearestDistance.mean, m.gapRatio.mean))
            }
        }
        if let plot = output.plot { print("figure: \(plot)") }
    }

    /// The measured curves as the `--out` CSV (camelCase; empty cell = missing).
    private func curveTable(_ out: Output) -> CSVTable {
        var table = CSVTable(header: ["t", "y2", "y2Stderr", "wOrigin", "wOriginStderr", "argmaxIsOrigin", "argmaxIsOriginStderr",
                                      "fe", "feStderr", "feLower", "feUpper", "feRatio", "feRatioStderr", "feRatioTheory",
                                      "y2NonPlanted", "y2NonPlantedStderr", "y2Rem", "phiC", "phiCStderr", "feRatioFitted", "feRatioFittedStderr"])
        for r in out.curve {
            table.append([.number(r.t), .number(r.y2), .number(r.y2Stderr), .number(r.wOrigin), .number(r.wOriginStderr),
                          .number(r.argmaxIsOrigin), .number(r.argmaxIsOriginStderr), .number(r.fe), .number(r.feStderr),
                          .number(r.feLower), .number(r.feUpper), .number(r.feRatio), .number(r.feStderr / out.alpha),
                          .number(r.feRatioTheory ?? .nan), .number(r.y2NonPlanted ?? .nan), .number(r.y2NonPlantedStderr ?? .nan),
                          .number(r.y2Rem ?? .nan), .number(r.phiC ?? .nan), .number(r.phiCStderr ?? .nan),
                          .number(r.feRatioFitted ?? .nan), .number(r.feRatioFittedStderr ?? .nan)])
        }
        return table
    }

    private func drawPlot(_ out: Output, to png: String) throws {
        let dat = (png as NSString).deletingPathExtension + ".dat"
        var table = CSVTable(header: ["t", "y2", "y2Stderr", "feRatio", "feRatioStderr", "feRatioTheory", "y2NonPlanted", "y2Rem", "phiC", "phiCStderr", "argmaxIsOrigin", "feRatioFitted", "feRatioFittedStderr"])
        for r in out.curve {
            table.append([.number(r.t), .number(r.y2), .number(r.y2Stderr), .number(r.feRatio), .number(r.feStderr / out.alpha),
                          .number(r.feRatioTheory ?? .nan), .number(r.y2NonPlanted ?? .nan), .number(r.y2Rem ?? .nan),
                          .number(r.phiC ?? .nan), .number(r.phiCStderr ?? .nan), .number(r.argmaxIsOrigin),
                          .number(r.feRatioFitted ?? .nan), .number(r.feRatioFittedStderr ?? .nan)])
        }
        try writeText(CSVTable.spaceSeparated(table.text), to: dat)
        var lines = [
            "set title \(Gnuplot.quote(lines: [out.data, "collapse order parameters (α = \(String(format: "%.4g", out.alpha)); error bars ±1 SE)"])) noenhanced",
            "set xlabel 't (forward time)'", "set ylabel 'E[Y2],  f^e/α,  P(argmax w = origin)'", "set logscale x", "set key below horizontal maxcols 2 font ',10'", "set xlabel offset 0,0.4",
            "set yrange [-0.05:1.1]",
        ]
        let marks: [(String, String, String)] = [("gaussian", "t_C eq. 10", "red"), ("spectrum", "t_C Gaussian spectrum", "orange"),
                                                  ("y2", "t_C: E[Y2] = ½ (primary)", "dark-green"), ("trajectory", "mean per-trajectory t_C", "purple"),
                                                  ("fittedQDA", "t_C fitted QDA", "dark-orange")]
        // Reference lines are keyed in the legend (outside the plot): close t_C values would overlap as labels.
        var keyed: [String] = []
        for (key, label, colour) in marks {
            if let v = out.tC[key] {
                lines.append("set arrow from \(v), graph 0 to \(v), graph 1 nohead dt 2 lw 1.5 lc rgb '\(colour)'")
                keyed.append("1/0 with lines dt 2 lw 1.5 lc rgb '\(colour)' title \(Gnuplot.quote("\(label) = \(String(format: "%.3f", v))"))")
            }
        }
        var plots = [
            "'\(dat)' using 1:2:3 every ::1 with yerrorlines title 'E[Y2] planted' lc rgb 'dark-green'",
            "'\(dat)' using 1:4:5 every ::1 with yerrorlines title 'f^e/α' lc rgb 'blue'",
            "'\(dat)' using 1:11 every ::1 with linespoints title 'P(argmax w = origin)' lc rgb 'gray'",
        ]
        if out.curve.contains(where: { $0.feRatioTheory != nil }) { plots.append("'\(dat)' using 1:6 every ::1 with lines lw 2 dt 3 lc rgb 'blue' title 'theory: max(0, f)/α'") }
        if out.curve.contains(where: { $0.y2NonPlanted != nil }) { plots.append("'\(dat)' using 1:7 every ::1 with linespoints lc rgb 'brown' title 'E[Y2] non-planted'") }
        if out.curve.contains(where: { $0.y2Rem != nil }) { plots.append("'\(dat)' using 1:8 every ::1 with lines lw 2 dt 3 lc rgb 'brown' title 'theory: REM non-planted 1 − λ_c'") }
        if out.curve.contains(where: { $0.feRatioFitted != nil }) { plots.append("'\(dat)' using 1:12:13 every ::1 with yerrorlines dt 4 lc rgb 'dark-orange' title 'theory: f/α of the fitted QDA mixture (Monte Carlo)'") }
        if out.curve.contains(where: { $0.phiC != nil }) { plots.append("'\(dat)' using 1:9:10 every ::1 with yerrorbars pt 7 lc rgb 'black' title 'φ_C clones'") }
        lines.append("plot " + (plots + keyed).joined(separator: ", "))
        try Gnuplot.render(script: lines.joined(separator: "\n"), to: png, width: 1000, height: 760)
    }
}

extension CollapseCommand: TimeGridDefaults, SampleCountDefaults {
    /// --auto: 20 log-spaced times around the predicted t_C.
    static let points = 20
    /// Forward samples per time (planted, and non-planted).
    static let samples = 2000
}

/// The relative cost of the parts of `collapse`, for a progress fraction and ETA weighted by the
/// work left (ProgressReporter). Unit: one planted forward sample at one time. Factors measured as
/// CPU time on gmm2 d = 256, n = 2000 (2000 samples): a fresh-origin sample ≈ 1 unit, one Brent
/// crossing on the fixed planted sample set ≈ 125 levels (165 for the non-planted one), a
/// backward-SDE step of one trajectory ≈ 8 units, a fitted-mixture Monte-Carlo sample at one time
/// ≈ 1 + 40 d/n units.
struct CollapseCost {
    var curve, solve, trajectories, clones, fit: Double
    var total: Double { curve + solve + trajectories + clones + fit }

    init(n: Int, d: Int, times: Int, samples: Int, fresh: Bool, trajectories: Int, clones: Int, branchTimes: Int,
         steps: Int, fitSamples: Int) {
        curve = Double(times * samples) * (fresh ? 2 : 1)
        // Brent crossings: E[Y2] = ½ and the two f^e levels, and the non-planted E[Y2] = ½.
        solve = Double(samples) * (3 * 125 + (fresh ? 165 : 0))
        self.trajectories = 8 * Double(trajectories * steps)
        // A trunk to the last branch time and two clones per branch time, on average over half the grid.
        self.clones = 8 * Double(clones * steps) * (1 + Double(branchTimes))
        fit = Double(fitSamples * times) * (1 + 40 * Double(d) / Double(max(n, 1)))
    }
}

extension LocalSampler: ExpressibleByArgument {}

// MARK: - `collapse --score ls|els|els-circ|bbels`: per-pixel collapse maps (Docs/LocalScores.md §7)

extension CollapseCommand {
    /// Per-pixel results (row-major); `tC` is the schema's tC object per pixel.
    struct LocalPixelOutput: Encodable {
        var row, col: Int
        var region: String
        var dictionarySize, dimension: Int
        var alpha, variance: Double
        /// E[Y2_i] as t → 0⁺ (multiplicity of the planted window in 𝒟_i); a crossing needs > ½.
        var y2Limit: Double?
        var tC: CollapseTimeOutput
        /// Along trajectories (with --along-trajectories): last source change, Y2_i > ½ time, collapsed fraction.
        var tCSource: MeanEstimate?
        var tCY2: MeanEstimate?
        var y2Collapsed: Double?
    }
    struct LocalRegionSummary: Encodable {
        var measured, gaussian, spectrum: PixelSummary
    }
    struct LocalTrajectoryOutput: Encodable {
        var sampler: String
        var trajectories: Int
        var times: [Double]
        /// Per trajectory the pixel mean of the map, summarised over trajectories.
        var sourcePixelMean, y2PixelMean: MeanEstimate
        /// Mean over trajectories of the map's spread (standard deviation over pixels).
        var sourcePixelSpread, y2PixelSpread: Double
    }
    struct LocalOutput: Encodable {
        var data: String
        var machine: String
        var patch: Int
        var imageShape: [Int]
        var samples: Int
        var seed: UInt64
        var tC: CollapseTimeOutput
        var summary: [String: LocalRegionSummary]
        var grid: [Double]
        var averageCurve: [MeanEstimate]
        var pixels: [LocalPixelOutput]
        var trajectory: LocalTrajectoryOutput?
        var conventions = "t = forward time; Delta_t = 1 - e^{-2t}; pixel tC.measured.y2 = t where planted E[Y2_i] = 1/2 (solved per pixel); results tC.primary = t where the pixel average of E[Y2_i] = 1/2; predicted: eq. 10 (gaussian) and Gaussian-spectrum t_C of the pixel's patch data set (n -> |D_i|, d -> d_i in-frame window entries, sigma^2 = tr Cov / d_i); summary over pixels with a crossing: mean, spread = standard deviation over pixels"
    }

    func runLocal() throws {
        let spec = try dataOptions.spec()
        let data = try spec.load(seed: dataOptions.seed)
        guard let model = try local.model(data) else { return }
        let grid = timeGrid.times?.values ?? LocalForwardCollapse.grid(points: timeGrid.points)
        let hw = model.shape.pixels
        // Cost unit: one planted sample at one pass (all pixels); a pass is ~3 LS evaluations, an ELS one is one evaluation.
        let passes = 16.0
        let trajCost = alongTrajectories ? Double(trajectories * (steps / recordEvery + steps)) / 3 : 0
        let progress = ProgressReporter("collapse", cost: Double(samples) * passes + trajCost, enabled: output.showProgress)
        let forward = try LocalForwardCollapse(model: model, threads: threadOptions.count)
            .measure(samples: samples, grid: grid, seed: dataOptions.seed,
                     progress: progress.stage(units: samples * Int(passes), cost: Double(samples) * passes))
        var traj: LocalTrajectoryCollapseMap? = nil
        if alongTrajectories {
            traj = try LocalTrajectoryCollapse(model: model, settings: sde.settings, sampler: sampler, stride: recordEvery,
                                               threads: threadOptions.count)
                .measure(trajectories: trajectories, seed: dataOptions.seed,
                         progress: progress.stage(units: trajectories, cost: trajCost))
        }
        progress.finish()
        func measured(_ c: SolvedCrossing?) -> Measured? { c.map { Measured($0.t, stderr: $0.standardError) } }
        let pixels = forward.pixels.enumerated().map { i, p in
            LocalPixelOutput(row: p.row, col: p.col, region: p.region.rawValue, dictionarySize: p.dictionarySize, dimension: p.dimension,
                             alpha: p.alpha, variance: p.variance, y2Limit: p.y2Limit,
                             tC: CollapseTimeOutput(measured: measured(p.tC).map { ["y2": $0] } ?? [:],
                                                    predicted: ["gaussian": p.tCGaussian.map(Measured.exact), "spectrum": p.tCSpectrum.map(Measured.exact)]
                                                        .compactMapValues { $0 }),
                             tCSource: traj?.sourceMean[i], tCY2: traj?.y2Mean[i], y2Collapsed: traj?.y2Collapsed[i])
        }
        var summary: [String: LocalRegionSummary] = [:]
        for (key, region) in [("all", PixelRegion?.none), ("interior", .interior), ("edge", .edge), ("corner", .corner)] {
            let m = forward.measuredSummary(region)
            // Regions without pixels, or without a crossing, are left out.
            if m.count == 0 { continue }
            summary[key] = LocalRegionSummary(measured: m, gaussian: forward.predictedSummary(region), spectrum: forward.spectrumSummary(region))
        }
        var measuredTimes: [String: Measured] = [:]
        if let a = measured(forward.pixelAverage) { measuredTimes["y2"] = a }
        let all = forward.measuredSummary()
        if all.count > 0 { measuredTimes["pixelMean"] = Measured(all.mean, stderr: nil) }
        if let traj {
            measuredTimes["trajectorySource"] = Measured(traj.sourcePixelMean.mean, stderr: traj.sourcePixelMean.standardError)
            measuredTimes["trajectoryY2"] = Measured(traj.y2PixelMean.mean, stderr: traj.y2PixelMean.standardError)
        }
        var predictedTimes: [String: Measured] = [:]
        let g = forward.predictedSummary(), sp = forward.spectrumSummary()
        if g.count > 0 { predictedTimes["gaussian"] = .exact(g.mean) }
        if sp.count > 0 { predictedTimes["spectrum"] = .exact(sp.mean) }
        let s = model.shape
        let out = LocalOutput(data: data.name, machine: model.machine.rawValue, patch: forward.patch, imageShape: [s.height, s.width, s.channels],
                              samples: samples, seed: dataOptions.seed,
                              tC: CollapseTimeOutput(measured: measuredTimes, predicted: predictedTimes), summary: summary,
                              grid: forward.grid, averageCurve: forward.averageCurve, pixels: pixels,
                              trajectory: traj.map { LocalTrajectoryOutput(sampler: $0.sampler.rawValue, trajectories: $0.trajectories, times: $0.times,
                                                                           sourcePixelMean: $0.sourcePixelMean, y2PixelMean: $0.y2PixelMean,
                                                                           sourcePixelSpread: $0.sourcePixelSpread, y2PixelSpread: $0.y2PixelSpread) })
        try curveFile.write(localTable(forward, traj))
        if let plot = output.plot { try drawLocalMap(forward, traj, to: plot) }
        if output.json {
            var parameters: [String: ParameterValue] = ["score": .text(model.machine.rawValue), "patch": .integer(forward.patch),
                                                        "samples": .integer(samples), "times": .numbers(forward.grid), "seed": .seed(dataOptions.seed)]
            if alongTrajectories {
                parameters["trajectories"] = .integer(trajectories)
                parameters["sampler"] = .text(sampler.rawValue)
                parameters["horizon"] = .number(horizon)
                parameters["tMin"] = .number(tMin)
                parameters["steps"] = .integer(steps)
                parameters["recordEvery"] = .integer(recordEvery)
            }
            try printJSON(command: "collapse", data: DataDescription(spec: spec.description, n: data.n, d: data.d),
                          parameters: parameters, results: out)
            return
        }
        func f(_ x: Double) -> String { x.isFinite ? String(format: "%.4f", x) : "   -" }
        func se(_ c: SolvedCrossing?) -> String { c.map { "\(f($0.t)) ± \(f($0.standardError))" } ?? "no crossing" }
        print("data: \(data.name)   n = \(data.n), image \(s)   score: \(model.machine.rawValue), P = \(forward.patch)   \(samples) planted samples, seed \(dataOptions.seed)")
        print("Per-pixel forward collapse (Docs/LocalScores.md §7): t_C^(i) = t where E[Y2_i] = ½ (solved per pixel, delta-method SE);")
        print("predictions of pixel i's patch data set 𝒟_i (Docs/Theory.md §3.2–3.3, n → |𝒟_i|, d → d_i, σ² → tr Cov(𝒟_i)/d_i)")
        print("  pixel average:  mean_i E[Y2_i] = ½ at t = \(se(forward.pixelAverage))")
        print("  region      pixels  crossed   mean t_C^(i)  spread    eq. 10 mean  spectrum mean")
        for key in ["all", "interior", "edge", "corner"] {
            guard let r = summary[key] else { continue }
            let count = key == "all" ? hw : forward.pixels.filter { $0.region.rawValue == key }.count
            print("  " + key.padding(toLength: 10, withPad: " ", startingAt: 0)
                  + String(format: " %6d  %7d", count, r.measured.count)
                  + "   \(f(r.measured.mean))        \(f(r.measured.spread))    \(f(r.gaussian.mean))       \(f(r.spectrum.mean))")
        }
        let sizes = Set(forward.pixels.map(\.dictionarySize)).sorted(), dims = Set(forward.pixels.map(\.dimension)).sorted()
        print("  |𝒟_i| \(sizes.first!)…\(sizes.last!), d_i \(dims.first!)…\(dims.last!); "
              + "\(forward.pixels.filter { ($0.y2Limit ?? 1) > 0.5 + 1e-12 }.count) pixels have E[Y2_i](t → 0) > ½ (identical patches share their weight: "
              + "the others cannot cross)")
        if let traj {
            print("Along \(traj.trajectories) machine trajectories (\(traj.sampler.rawValue), T = \(horizon) → t_min = \(tMin), \(traj.times.count) recorded levels):")
            print("  last change of the per-pixel source:  pixel mean \(f(traj.sourcePixelMean.mean)) ± \(f(traj.sourcePixelMean.standardError)) (over trajectories), spread over pixels \(f(traj.sourcePixelSpread))")
            print("  Y2_i stays > ½ from:                  pixel mean \(f(traj.y2PixelMean.mean)) ± \(f(traj.y2PixelMean.standardError)), spread over pixels \(f(traj.y2PixelSpread)); "
                  + "Y2_i(t_min) > ½ at \(f(traj.y2Collapsed.reduce(0, +) / Double(hw))) of pixel-trajectories (0 counts as t_C = 0)")
        }
        if let o = curveFile.out { print("per-pixel map: \(o)") }
        if let plot = output.plot { print("figure: \(plot)") }
    }

    /// The per-pixel map as the `--out` CSV (camelCase; empty cell = missing).
    func localTable(_ m: LocalCollapseMap, _ traj: LocalTrajectoryCollapseMap?) -> CSVTable {
        var header = ["row", "col", "region", "dictionarySize", "dimension", "alpha", "variance", "tC", "tCStderr", "tCSlope",
                      "tCPredicted", "tCSpectrum", "y2Limit"]
        if traj != nil { header += ["tCSource", "tCSourceStderr", "tCY2Trajectory", "tCY2TrajectoryStderr", "y2Collapsed"] }
        var table = CSVTable(header: header)
        for (i, p) in m.pixels.enumerated() {
            var row: [CSVValue] = [.integer(p.row), .integer(p.col), .text(p.region.rawValue), .integer(p.dictionarySize), .integer(p.dimension),
                                   .number(p.alpha), .number(p.variance), .number(p.tC?.t ?? .nan), .number(p.tC?.standardError ?? .nan),
                                   .number(p.tC?.slope ?? .nan), .number(p.tCGaussian ?? .nan), .number(p.tCSpectrum ?? .nan),
                                   .number(p.y2Limit ?? .nan)]
            if let traj {
                row += [.number(traj.sourceMean[i].mean), .number(traj.sourceMean[i].standardError), .number(traj.y2Mean[i].mean),
                        .number(traj.y2Mean[i].standardError), .number(traj.y2Collapsed[i])]
            }
            table.append(row)
        }
        return table
    }

    /// Heat maps of the per-pixel t_C: measured (forward), eq. 10 prediction, and the trajectory source map.
    func drawLocalMap(_ m: LocalCollapseMap, _ traj: LocalTrajectoryCollapseMap?, to png: String) throws {
        let stem = (png as NSString).deletingPathExtension
        var panels: [(String, [Double])] = [
            ("forward t_C^(i): E[Y2_i] = 1/2", m.pixels.map { $0.tC?.t ?? .nan }),
            ("eq. 10 of the patch data set", m.pixels.map { $0.tCGaussian ?? .nan }),
        ]
        if let traj { panels.append(("trajectories: last source change (mean)", traj.sourceMean.map(\.mean))) }
        let W = m.shape.width, H = m.shape.height
        let top = panels.flatMap(\.1).filter(\.isFinite).max() ?? 1
        var lines = ["set multiplot layout 1,\(panels.count) title \(Gnuplot.quote(lines: ["\(m.machine.rawValue), P = \(m.patch), \(m.samples) planted samples: per-pixel collapse time t_C (blank: no crossing)"])) noenhanced",
                     "set size ratio -1", "unset key", "set xrange [-0.5:\(Double(W) - 0.5)]", "set yrange [\(Double(H) - 0.5):-0.5]",
                     "set cbrange [0:\(top)]", "set palette rgb 33,13,10", "set xlabel 'col'", "set ylabel 'row'",
                     "set style fill solid", "set tics out"]
        for (k, (title, values)) in panels.enumerated() {
            let dat = "\(stem)-\(k).dat"
            var text = "# col row tC\n"
            for i in values.indices { text += "\(i % W) \(i / W) \(values[i].isFinite ? "\(values[i])" : "NaN")\n" }
            try writeText(text, to: dat)
            lines.append("set title \(Gnuplot.quote(title)) noenhanced")
            lines.append("plot '\(dat)' using 1:2:3 with image")
        }
        lines.append("unset multiplot")
        try Gnuplot.render(script: lines.joined(separator: "\n"), to: png, width: 470 * panels.count, height: 480)
    }
}
