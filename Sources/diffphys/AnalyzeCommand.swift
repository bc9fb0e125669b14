import ArgumentParser
import DiffusionPhysics
import DiffusionStudies
import Foundation
import GSLKit

/// `diffphys analyze samples|trajectories|clones`: measurements on a user's own generated arrays
/// with the training set they trained on (Docs/YourData.md, Docs/Theory.md §2.2, §3.4 M1/M2/M4).
struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "t_S, t_C and memorisation of your own model's samples, trajectories or clones, beside the exact score.",
        discussion: """
        Arrays are .npy (trailing axes flattened, so B×C×H×W images work); --data is the training set the model \
        was trained on, in the same scale as the samples. Times in --time-convention are mapped to this toolkit's \
        forward time t (Docs/Theory.md §0) and the map is printed. The report sets the model's t_S / t_C beside the exact \
        empirical score on the same training set and the spectral predictions. Docs/YourData.md.
        Examples:
          diffphys analyze samples gen.npy --data train.npy --labels train-labels.npy
          diffphys analyze trajectories traj.npy --times alphabar.npy --time-convention ddpm-alphabar --data train.npy
          diffphys analyze clones clones.npy --times steps.npy --time-convention ddpm-steps --data train.npy --labels y.npy
        """,
        subcommands: [Samples.self, Trajectories.self, Clones.self])
}

extension TimeConvention: ExpressibleByArgument {}

/// Options every `analyze` subcommand shares.
struct AnalyzeOptions: ParsableArguments {
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var threadOptions: ThreadOptions

    @Option(help: "Clock of the given times: vp (this toolkit's t), ve (σ), ddpm-alphabar (ᾱ), ddpm-steps (step k).")
    var timeConvention: TimeConvention = .vp

    @Option(help: "ddpm-steps: β of the first step of the linear schedule.") var betaStart = 1e-4
    @Option(help: "ddpm-steps: β of the last step.") var betaEnd = 2e-2
    @Option(help: "ddpm-steps: number of steps L of the schedule.") var scheduleSteps = 1000

    @Option(help: "Forward samples per time for the exact-score reference (0: predictions only).")
    var referenceSamples = 1000

    @Option(help: "φ level that defines t_S (the papers' 0.775).") var threshold = 0.775

    /// Prints `results` in the schema envelope with the shared analyze parameters.
    func emitJSON<R: Encodable>(_ command: String, spec: DatasetSpec, data: Dataset, results: R) throws {
        try printJSON(command: command, data: DataDescription(spec: spec.description, n: data.n, d: data.d),
                                  parameters: ["timeConvention": .text(timeConvention.rawValue), "referenceSamples": .integer(referenceSamples),
                                               "threshold": .number(threshold), "seed": .seed(dataOptions.seed)],
                                  results: results)
    }

    var timeMap: TimeMap {
        TimeMap(timeConvention, schedule: DDPMSchedule(betaStart: betaStart, betaEnd: betaEnd, steps: scheduleSteps))
    }

    func validate() throws {
        guard referenceSamples == 0 || referenceSamples >= 2 else { throw ValidationError("--reference-samples must be 0 or ≥ 2") }
        guard threshold > 0, threshold < 1 else { throw ValidationError("--threshold must be in (0, 1)") }
        if timeConvention == .ddpmSteps {
            do { try timeMap.schedule.validate() } catch let e as ModelError { throw ValidationError(e.message) }
        }
    }

    func load() throws -> (DatasetSpec, Dataset) {
        let spec = try dataOptions.spec()
        return (spec, try spec.load(seed: dataOptions.seed))
    }

    func reference(_ spec: DatasetSpec, _ data: Dataset) throws -> ExactScoreReference {
        try ExactScoreReference.compute(spec: spec, data: data, samples: referenceSamples, threshold: threshold,
                                        seed: dataOptions.seed, threads: threadOptions.count)
    }

    /// User times → forward times, with the map.
    func forwardTimes(_ argument: String) throws -> (user: [Double], t: [Double]) {
        let user = try ExternalArrays.times(argument)
        guard !user.isEmpty else { throw ValidationError("--times: no times in \(argument)") }
        return (user, try timeMap.times(user))
    }
}

/// One row of "model beside exact score".
struct ComparisonRow: Encodable {
    var quantity: String
    var model: Double?
    var modelStderr: Double?
    var exactScore: Double?
    var exactScoreStderr: Double?
    var prediction: Double?
    var predictionName: String?

    /// Schema: `{quantity, model: {value, stderr}, exactScore: {value, stderr}, prediction, predictionName}`.
    enum CodingKeys: String, CodingKey { case quantity, model, exactScore, prediction, predictionName }
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(quantity, forKey: .quantity)
        try c.encode(model.map { Measured($0, stderr: modelStderr) }, forKey: .model)
        try c.encode(exactScore.map { Measured($0, stderr: exactScoreStderr) }, forKey: .exactScore)
        try c.encode(prediction, forKey: .prediction)
        try c.encode(predictionName, forKey: .predictionName)
    }
}

func formatReference(_ r: ExactScoreReference) -> [String] {
    let f = { (v: Double) in String(format: "%.4f", v) }
    var lines = ["Training set: n = \(r.n), d = \(r.d), Λ = \(f(r.lambda)); t_S = ½ln(1+Λ) = \(f(r.tS.curvature)) (½lnΛ = \(f(r.tS.paper))); "
                 + "Gaussian-spectrum t_C = \(f(r.tCSpectrum))" + (r.tCGaussian.map { ", eq. 10 t_C = \(f($0))" } ?? "")]
    if r.samples > 0 {
        lines.append("Exact empirical score (\(r.samples) forward samples per time): "
                     + (r.tCross.map { "φ crossing t_S = \(f($0.t)) ± \(f($0.standardError))" } ?? "φ: no labels or no crossing")
                     + "; " + (r.tCY2.map { "E[Y2] = ½ at t_C = \(f($0.t)) ± \(f($0.standardError))" } ?? "E[Y2] = ½ not bracketed"))
    }
    return lines
}

func printComparison(_ rows: [ComparisonRow]) {
    func v(_ x: Double?, _ e: Double?) -> String {
        guard let x else { return "      -        " }
        return e.map { String(format: "%7.4f ± %6.4f", x, $0) } ?? String(format: "%7.4f        ", x)
    }
    print("How far is the model from the exact score?")
    print("  quantity                              model             exact score        prediction")
    for r in rows {
        let p = r.prediction.map { String(format: "%7.4f (%@)", $0, r.predictionName ?? "") } ?? "-"
        print("  " + r.quantity.padding(toLength: 36, withPad: " ", startingAt: 0) + "  " + v(r.model, r.modelStderr) + "   "
              + v(r.exactScore, r.exactScoreStderr) + "   " + p)
    }
}

extension AnalyzeCommand {
    struct Samples: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "samples",
            abstract: "Memorised fraction f_mem (gap ratio d₁/d₂ < 1/3) and nearest training points of generated samples (B × d .npy).",
            discussion: "Docs/Theory.md §3.4 M4 ([BUBM] compute_fmem.py). Example: diffphys analyze samples gen.npy --data train.npy --plot fmem.png")

        @OptionGroup var options: AnalyzeOptions
        @Argument(help: "Generated samples, .npy of shape B × d (or B × C × H × W).") var file: String
        @Option(help: "Time of the samples in --time-convention, if they are x(t) at t > 0 (compared as x e^{t}) (default: none, data-space samples).")
        var endTime: Double?
        @Option(help: "Image shape HxW for the novelty grid of --plot (default: square images when d is a square ≥ 64).")
        var imageShape: String?

        struct Output: Encodable {
            var kind = "samples"
            var data: String
            /// Results keys (data is in the envelope).
            enum CodingKeys: String, CodingKey { case kind, file, count, timeMap, endTime, analysis, classNames, reference }
            var file: String
            var count: Int
            var timeMap: String
            var endTime: Double?
            var analysis: SampleAnalysis
            var classNames: [String]?
            var reference: ExactScoreReference
        }

        func run() throws {
            let (spec, data) = try options.load()
            let samples = try ExternalArrays.samples(path: file, dimension: data.d)
            let t = try endTime.map { try options.timeMap.time($0) }
            // x(t) → y = x e^{t}: the variable the training points are compared in (VE states are y already).
            let scale = t.map { exp($0) * options.timeMap.stateScale(t: $0) } ?? 1
            let analysis = SampleAnalysis.run(samples: samples, data: data, scale: scale, seed: options.dataOptions.seed)
            let reference = try options.reference(spec, data)
            let out = Output(data: spec.description, file: file, count: samples.rows, timeMap: options.timeMap.formula, endTime: t,
                             analysis: analysis, classNames: data.classNames, reference: reference)
            if let plot = options.output.plot { try drawPlot(samples: samples, data: data, analysis: analysis, scale: scale, to: plot) }
            if options.output.json { try options.emitJSON("analyze samples", spec: spec, data: data, results: out); return }
            let m = analysis.memorization
            print("data: \(spec)   n = \(data.n), d = \(data.d)   samples: \(file) (B = \(samples.rows))")
            if let t { print("samples at t = \(String(format: "%.6g", t)) (\(options.timeMap.formula)); compared as x e^{t}") }
            print(String(format: "f_mem (d₁/d₂ < 1/3) = %.4f ± %.4f   95%% bootstrap [%.4f, %.4f]   mean d₁ = %.4g   mean d₁/d₂ = %.4f",
                         m.fraction.mean, m.fraction.standardError, m.interval.lower, m.interval.upper, m.nearestDistance.mean, m.gapRatio.mean))
            if let counts = analysis.nearestClassCounts {
                print("class of the nearest training point: " + counts.keys.sorted().map { "\($0): \(counts[$0]!)" }.joined(separator: ", "))
            }
            print("first samples: nearest training index (distance), second (distance), gap ratio")
            for (i, r) in analysis.neighbours.prefix(8).enumerated() {
                print(String(format: "  %4d  %6d (%.4g)  %6d (%.4g)  %.4f", i, r.nearest, r.nearestDistance, r.second ?? -1,
                             r.secondDistance ?? .nan, r.gapRatio ?? .nan))
            }
            for line in formatReference(reference) { print(line) }
            print("(with the exact empirical score run to t_min → 0 every sample is a training point: f_mem = 1; Docs/Theory.md §3.4 M4)")
            if let plot = options.output.plot { print("figure: \(plot)") }
        }

        func imageSize(_ d: Int) throws -> (Int, Int)? {
            if let imageShape {
                let parts = imageShape.lowercased().split(separator: "x").compactMap { Int($0) }
                guard parts.count == 2, parts[0] * parts[1] == d else {
                    throw ValidationError("--image-shape \(imageShape) is not HxW with H·W = d = \(d)")
                }
                return (parts[0], parts[1])
            }
            let s = Int(Double(d).squareRoot().rounded())
            return s * s == d && d >= 64 ? (s, s) : nil
        }

        func drawPlot(samples: Matrix<Double>, data: Dataset, analysis: SampleAnalysis, scale: Double, to png: String) throws {
            let base = (png as NSString).deletingPathExtension
            var table = CSVTable(header: ["sample", "nearest", "nearestDistance", "second", "secondDistance", "gapRatio"])
            for (i, r) in analysis.neighbours.enumerated() {
                table.append([.integer(i), .integer(r.nearest), .number(r.nearestDistance), .integer(r.second ?? -1),
                              .number(r.secondDistance ?? .nan), .number(r.gapRatio ?? .nan)])
            }
            try table.write(to: base + "-neighbours.csv")
            if let (h, w) = try imageSize(data.d) {
                // Novelty grid: each row a generated image, its nearest and second-nearest training images.
                let rows = min(8, samples.rows), cell = max(h, w) + 2, width = 3 * cell, height = rows * cell
                var lines: [String] = []
                var labels: [String] = []
                let all = (0..<rows).flatMap { i -> [[Double]] in
                    let r = analysis.neighbours[i]
                    return [samples.row(i).map { $0 * scale }, data.points.row(r.nearest), data.points.row(r.second ?? r.nearest)]
                }
                let background = all.flatMap { $0 }.min() ?? 0
                var canvas = [Double](repeating: background, count: width * height)
                for (k, image) in all.enumerated() {
                    let row = k / 3, col = k % 3
                    for y in 0..<h { for x in 0..<w { canvas[(row * cell + y) * width + col * cell + x] = image[y * w + x] } }
                    let r = analysis.neighbours[row]
                    let text = col == 0 ? String(format: "r = %.2f", r.gapRatio ?? .nan) : String(format: "#%d d = %.2f", col == 1 ? r.nearest : (r.second ?? -1), col == 1 ? r.nearestDistance : (r.secondDistance ?? .nan))
                    labels.append("set label \(Gnuplot.quote(text)) at \(col * cell), \(-(row * cell) + 1) font ',8' front textcolor rgb 'yellow' noenhanced")
                }
                for y in 0..<height {
                    for x in 0..<width { lines.append("\(x) \(-y) \(canvas[y * width + x])") }
                    lines.append("")
                }
                try writeText(lines.joined(separator: "\n") + "\n", to: base + "-grid.dat")
                let script = """
                set title 'generated | nearest training | second nearest (f_mem = \(String(format: "%.3f", analysis.memorization.fraction.mean)))' noenhanced
                unset xtics; unset ytics; unset colorbox; unset key; set border 0
                set palette gray; set size ratio -1
                \(labels.joined(separator: "\n"))
                plot '\(base)-grid.dat' using 1:2:3 with image
                """
                try Gnuplot.render(script: script, to: png, width: 600, height: max(400, 110 * rows))
                return
            }
            let script = """
            set datafile separator ','
            set title 'gap ratio d1/d2 of generated samples (memorised: < 1/3)' noenhanced
            set xlabel 'd1/d2'; set ylabel 'samples'; set xrange [0:1]; set style fill solid 0.5
            binwidth = 0.025
            bin(x) = binwidth * floor(x / binwidth) + binwidth / 2
            set arrow from 1.0/3, graph 0 to 1.0/3, graph 1 nohead dt 2 lc rgb 'red'
            plot '\(base)-neighbours.csv' every ::1 using (bin($6)):(1.0) smooth freq with boxes lc rgb 'steelblue' title 'samples'
            """
            try Gnuplot.render(script: script, to: png)
        }
    }

    struct Trajectories: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "trajectories",
            abstract: "Per-trajectory collapse times, commitment C(t) and class commitment of generation trajectories (B × K × d .npy).",
            discussion: """
            μ*(t) = the nearest scaled training point a_μ e^{−t} of x(t) (Docs/Theory.md §3.4 M2); hat t_C = the last time μ* \
            changes (μ_end: nearest training point of --endpoints, else μ*(t_min)); C(t) = P(μ*(t) = μ_end); class \
            commitment uses the label of μ*. Example: diffphys analyze trajectories traj.npy --times t.npy --data train.npy
            """)

        @OptionGroup var options: AnalyzeOptions
        @Argument(help: "Trajectories, .npy of shape B × K × d (batch, time, features).") var file: String
        @Option(help: "The K times of axis 1: a .npy vector, a text/CSV file, or a comma list, in --time-convention (required).")
        var times: String
        @Option(help: "Final samples (B × d .npy, data space) that define μ_end (default: μ* at the last time).")
        var endpoints: String?
        @Option(help: "Histogram bins of hat t_C.") var bins = 12

        struct Output: Encodable {
            var kind = "trajectories"
            var data: String
            var file: String
            var trajectories: Int
            var timeMap: String
            var userTimes: [Double]
            var forwardTimes: [Double]
            var tC: MeanEstimate
            var tCMedian: Double
            /// Results keys (data is in the envelope; tC in the shared shape, Docs/Schema.md).
            enum CodingKeys: String, CodingKey {
                case kind, file, trajectories, timeMap, userTimes, forwardTimes, tC, tCMedian, commitmentHalf, histogram, commitment,
                     classCommitment, classCommitmentTime, collapseTimes, memorization, classNames, reference, comparison
            }
            func encode(to encoder: Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(kind, forKey: .kind); try c.encode(file, forKey: .file); try c.encode(trajectories, forKey: .trajectories)
                try c.encode(timeMap, forKey: .timeMap); try c.encode(userTimes, forKey: .userTimes); try c.encode(forwardTimes, forKey: .forwardTimes)
                try c.encode(CollapseTimeOutput(measured: ["trajectory": tC.measured], predicted: [:]), forKey: .tC)
                try c.encode(tCMedian, forKey: .tCMedian); try c.encode(commitmentHalf, forKey: .commitmentHalf)
                try c.encode(histogram, forKey: .histogram); try c.encode(commitment, forKey: .commitment)
                try c.encode(classCommitment, forKey: .classCommitment); try c.encode(classCommitmentTime, forKey: .classCommitmentTime)
                try c.encode(collapseTimes, forKey: .collapseTimes); try c.encode(memorization, forKey: .memorization)
                try c.encode(classNames, forKey: .classNames); try c.encode(reference, forKey: .reference); try c.encode(comparison, forKey: .comparison)
            }
            var commitmentHalf: LevelCrossing?
            var histogram: Histogram
            var commitment: [MeanEstimate]
            var classCommitment: [MeanEstimate]?
            var classCommitmentTime: MeanEstimate?
            var collapseTimes: [Double]
            var memorization: MemorizationFraction
            var classNames: [String]?
            var reference: ExactScoreReference
            var comparison: [ComparisonRow]
        }

        func run() throws {
            let (spec, data) = try options.load()
            let (user, t) = try options.forwardTimes(times)
            var states = try ExternalArrays.trajectories(path: file, timeCount: t.count, dimension: data.d)
            if options.timeConvention == .ve {
                let B = states.shape[0], K = states.shape[1], d = states.shape[2]
                for b in 0..<B { for k in 0..<K {
                    let s = options.timeMap.stateScale(t: t[k]), base = (b * K + k) * d
                    for j in 0..<d { states.values[base + j] *= s }
                } }
            }
            let ends = try endpoints.map { try ExternalArrays.samples(path: $0, dimension: data.d) }
            let a = try TrajectoryAnalysis.run(states: states, times: t, data: data, endpoints: ends,
                                               seed: options.dataOptions.seed, histogramBins: bins)
            let reference = try options.reference(spec, data)
            let comparison = [
                ComparisonRow(quantity: "t_C: mean hat t_C | E[Y2] = ½", model: a.mean.mean, modelStderr: a.mean.standardError,
                              exactScore: reference.tCY2?.t, exactScoreStderr: reference.tCY2?.standardError,
                              prediction: reference.tCGaussian ?? reference.tCSpectrum, predictionName: reference.tCGaussian == nil ? "spectrum" : "eq. 10"),
                ComparisonRow(quantity: "t_C: C(t) = ½ | E[Y2] = ½", model: a.commitmentHalf?.t, modelStderr: a.commitmentHalf?.standardError,
                              exactScore: reference.tCY2?.t, exactScoreStderr: reference.tCY2?.standardError),
                ComparisonRow(quantity: "class: last change | φ = 0.775", model: a.classCommitmentTimes?.mean,
                              modelStderr: a.classCommitmentTimes?.standardError, exactScore: reference.tCross?.t,
                              exactScoreStderr: reference.tCross?.standardError, prediction: reference.tS.curvature, predictionName: "½ln(1+Λ)"),
            ]
            let out = Output(data: spec.description, file: file, trajectories: states.shape[0], timeMap: options.timeMap.formula,
                             userTimes: user, forwardTimes: t, tC: a.mean, tCMedian: a.median, commitmentHalf: a.commitmentHalf,
                             histogram: a.histogram, commitment: a.commitment, classCommitment: a.classCommitment,
                             classCommitmentTime: a.classCommitmentTimes, collapseTimes: a.collapseTimes, memorization: a.memorization,
                             classNames: data.classNames, reference: reference, comparison: comparison)
            if let plot = options.output.plot { try drawPlot(a, reference: reference, to: plot) }
            if options.output.json { try options.emitJSON("analyze trajectories", spec: spec, data: data, results: out); return }
            let f = { (v: Double) in String(format: "%.4f", v) }
            print("data: \(spec)   n = \(data.n), d = \(data.d)   trajectories: \(file) (B = \(states.shape[0]), K = \(t.count))")
            print("time map: \(options.timeMap.formula)")
            print("  u = \(String(format: "%.6g", user.first!)) → t = \(f(t.first!)),  u = \(String(format: "%.6g", user.last!)) → t = \(f(t.last!))")
            print("hat t_C mean \(f(a.mean.mean)) ± \(f(a.mean.standardError)), median \(f(a.median))" + (a.commitmentHalf.map { ";  C(t) = ½ at t = \(f($0.t)) ± \(f($0.standardError))" } ?? ""))
            let centres = a.histogram.centres
            for (c, k) in zip(centres, a.histogram.counts) {
                print(String(format: "  %7.4f  %5d  ", c, k) + String(repeating: "#", count: min(60, k * 60 / max(1, a.collapseTimes.count))))
            }
            print("      t       C(t)    ±SE" + (a.classCommitment != nil ? "   C_class(t)  ±SE" : ""))
            let stride = max(1, a.times.count / 15)
            for k in Swift.stride(from: 0, to: a.times.count, by: stride) {
                var line = String(format: "  %8.4f  %6.4f  %6.4f", a.times[k], a.commitment[k].mean, a.commitment[k].standardError)
                if let c = a.classCommitment { line += String(format: "   %6.4f    %6.4f", c[k].mean, c[k].standardError) }
                print(line)
            }
            let m = a.memorization
            print(String(format: "f_mem of %@ = %.4f ± %.4f  [%.4f, %.4f]", m.samples as NSString, m.fraction.mean, m.fraction.standardError, m.interval.lower, m.interval.upper))
            for line in formatReference(reference) { print(line) }
            printComparison(comparison)
            print("(hat t_C is grid-dependent and lies below t_C^{Y2} by construction, Docs/Theory.md §3.4; compare like with like)")
            if let plot = options.output.plot { print("figure: \(plot)") }
        }

        func drawPlot(_ a: TrajectoryAnalysis, reference: ExactScoreReference, to png: String) throws {
            let base = (png as NSString).deletingPathExtension
            var table = CSVTable(header: ["t", "C", "CStderr", "Cclass", "CclassStderr"])
            for k in a.times.indices where a.times[k] > 0 {
                table.append([.number(a.times[k]), .number(a.commitment[k].mean), .number(a.commitment[k].standardError),
                              .number(a.classCommitment?[k].mean ?? .nan), .number(a.classCommitment?[k].standardError ?? .nan)])
            }
            try writeText(CSVTable.spaceSeparated(table.text), to: base + ".dat")
            var lines = ["set title 'commitment along the trajectories' noenhanced", "set xlabel 't (forward time)'",
                         "set ylabel 'fraction'", "set logscale x", "set yrange [-0.02:1.05]", "set key outside right"]
            let marks: [(Double?, String, String)] = [(a.mean.mean, "mean hat t_C", "purple"), (reference.tCY2?.t, "exact E[Y2]=1/2", "dark-green"),
                                                      (reference.tCSpectrum, "t_C spectrum", "orange"), (reference.tS.curvature, "t_S", "blue")]
            for (i, (v, label, colour)) in marks.enumerated() {
                guard let v, v > 0 else { continue }
                lines.append("set arrow from \(v), graph 0 to \(v), graph 1 nohead dt 2 lc rgb '\(colour)'")
                lines.append("set label \(Gnuplot.quote(label)) at \(v), graph \(0.96 - 0.05 * Double(i)) offset 0.5,0 tc rgb '\(colour)' noenhanced")
            }
            var plots = ["'\(base).dat' using 1:2:3 every ::1 with yerrorlines lc rgb 'black' title 'C(t) = P(mu* = mu_end)'"]
            if a.classCommitment != nil { plots.append("'\(base).dat' using 1:4:5 every ::1 with yerrorlines lc rgb 'blue' title 'class commitment'") }
            lines.append("plot " + plots.joined(separator: ", "))
            try Gnuplot.render(script: lines.joined(separator: "\n"), to: png)
        }
    }

    struct Clones: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "clones",
            abstract: "φ(t) and φ_C(t) from clone endpoints (K × P × 2 × d .npy: branch time, pair, clone, features), with crossings.",
            discussion: """
            Two clones branched at t from one trajectory (Docs/Theory.md §2.2): φ(t) = P(same class) — class of the nearest \
            training point, or --endpoint-labels; φ_C(t) = P(same nearest training point). t_S(model) = where φ = \
            --threshold, t_C(model) = where φ_C = ½. Example: diffphys analyze clones c.npy --times t.npy --data train.npy --labels y.npy
            """)

        @OptionGroup var options: AnalyzeOptions
        @Argument(help: "Clone endpoints, .npy of shape K × P × 2 × d.") var file: String
        @Option(help: "The K branch times: a .npy vector, a text/CSV file, or a comma list, in --time-convention (required).")
        var times: String
        @Option(help: "Class of every endpoint (K × P × 2 .npy of integers, e.g. a classifier's output; default: label of the nearest training point).")
        var endpointLabels: String?

        struct Output: Encodable {
            var kind = "clones"
            var data: String
            /// Results keys (data is in the envelope).
            enum CodingKeys: String, CodingKey {
                case kind, file, pairs, timeMap, userTimes, analysis, tSModelOverPrediction, classNames, reference, comparison
            }
            var file: String
            var pairs: Int
            var timeMap: String
            var userTimes: [Double]
            var analysis: CloneAnalysis
            var tSModelOverPrediction: Double?
            var classNames: [String]?
            var reference: ExactScoreReference
            var comparison: [ComparisonRow]
        }

        func run() throws {
            let (spec, data) = try options.load()
            let (user, t) = try options.forwardTimes(times)
            let clones = try ExternalArrays.clones(path: file, timeCount: t.count, dimension: data.d)
            let labels = try endpointLabels.map { try ExternalArrays.cloneLabels(path: $0, shape: Array(clones.shape.prefix(3))) }
            if labels == nil, data.labels == nil {
                note("note: no labels, so φ (same class) is not measured; " + DatasetSpec.missingLabelsHelp(spec.description, needs: "φ"))
            }
            let a = try CloneAnalysis.run(clones: clones, times: t, data: data, endpointLabels: labels, threshold: options.threshold)
            let reference = try options.reference(spec, data)
            let comparison = [
                ComparisonRow(quantity: "t_S: φ = \(options.threshold)", model: a.phiCrossing?.t, modelStderr: a.phiCrossing?.standardError,
                              exactScore: reference.tCross?.t, exactScoreStderr: reference.tCross?.standardError,
                              prediction: reference.tS.curvature, predictionName: "½ln(1+Λ)"),
                ComparisonRow(quantity: "t_C: φ_C = ½", model: a.phiCCrossing?.t, modelStderr: a.phiCCrossing?.standardError,
                              exactScore: reference.tCY2?.t, exactScoreStderr: reference.tCY2?.standardError,
                              prediction: reference.tCGaussian ?? reference.tCSpectrum, predictionName: reference.tCGaussian == nil ? "spectrum" : "eq. 10"),
            ]
            let out = Output(data: spec.description, file: file, pairs: clones.shape[1], timeMap: options.timeMap.formula, userTimes: user,
                             analysis: a, tSModelOverPrediction: a.phiCrossing.map { $0.t / reference.tS.curvature },
                             classNames: data.classNames, reference: reference, comparison: comparison)
            if let plot = options.output.plot { try drawPlot(a, reference: reference, to: plot) }
            if options.output.json { try options.emitJSON("analyze clones", spec: spec, data: data, results: out); return }
            print("data: \(spec)   n = \(data.n), d = \(data.d)   clones: \(file) (K = \(t.count) branch times, P = \(clones.shape[1]) pairs)")
            print("time map: \(options.timeMap.formula)")
            print("classes: " + (a.suppliedLabels ? "supplied endpoint labels" : "label of the nearest training point"))
            print("      t       φ(t)    ±SE     φ_C(t)   ±SE")
            for p in a.points {
                print(String(format: "  %8.4f  ", p.t) + (p.sameClass.map { String(format: "%6.4f  %6.4f", $0.mean, $0.standardError) } ?? "     -        -")
                      + String(format: "   %6.4f  %6.4f", p.sameComponent.mean, p.sameComponent.standardError))
            }
            for line in formatReference(reference) { print(line) }
            printComparison(comparison)
            if let plot = options.output.plot { print("figure: \(plot)") }
        }

        func drawPlot(_ a: CloneAnalysis, reference: ExactScoreReference, to png: String) throws {
            let base = (png as NSString).deletingPathExtension
            var table = CSVTable(header: ["t", "phi", "phiStderr", "phiC", "phiCStderr"])
            for p in a.points {
                table.append([.number(p.t), .number(p.sameClass?.mean ?? .nan), .number(p.sameClass?.standardError ?? .nan),
                              .number(p.sameComponent.mean), .number(p.sameComponent.standardError)])
            }
            try writeText(CSVTable.spaceSeparated(table.text), to: base + ".dat")
            var lines = ["set title 'clones of the model: phi(t) and phi_C(t)' noenhanced", "set xlabel 't (forward time)'",
                         "set ylabel 'probability'", "set yrange [-0.02:1.05]", "set key outside right"]
            let marks: [(Double?, String, String)] = [(reference.tCross?.t, "exact-score t_S", "blue"), (reference.tCY2?.t, "exact-score t_C", "dark-green"),
                                                      (reference.tS.curvature, "1/2 ln(1+Lambda)", "gray40")]
            for (i, (v, label, colour)) in marks.enumerated() {
                guard let v else { continue }
                lines.append("set arrow from \(v), graph 0 to \(v), graph 1 nohead dt 2 lc rgb '\(colour)'")
                lines.append("set label \(Gnuplot.quote(label)) at \(v), graph \(0.96 - 0.05 * Double(i)) offset 0.5,0 tc rgb '\(colour)' noenhanced")
            }
            var plots = ["'\(base).dat' using 1:4:5 every ::1 with yerrorlines lc rgb 'dark-green' title 'phi_C (same training point)'",
                         "0.5 with lines dt 3 lc rgb 'dark-green' notitle"]
            if a.points.first?.sameClass != nil {
                plots.insert("'\(base).dat' using 1:2:3 every ::1 with yerrorlines lc rgb 'blue' title 'phi (same class)'", at: 0)
                plots.append("\(a.threshold) with lines dt 3 lc rgb 'blue' notitle")
            }
            lines.append("plot " + plots.joined(separator: ", "))
            try Gnuplot.render(script: lines.joined(separator: "\n"), to: png)
        }
    }
}
