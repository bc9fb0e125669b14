import ArgumentParser
import DiffusionPhysics
import DiffusionStudies
import Foundation
import GSLKit

struct OverviewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "overview",
        abstract: "Speciation and collapse times of a dataset: predictions beside a quick forward-sampling measurement.",
        usage: UsageText.line("overview", UsageText.data, UsageText.output, UsageText.threads, "[--samples <samples>] [--points <points>] [--threshold <phi>] [--out <file.csv>]"),
        discussion: """
        Predictions: Λ (top covariance eigenvalue) and t_S in the three conventions of Docs/Theory.md §2.1; t_C from the \
        Gaussian closed form (gaussian/gmm2 specs) and the Gaussian-spectrum bound (Docs/Theory.md §3.2). \
        Measurement (exact empirical score, forward samples planted on training points, Docs/Theory.md §3.4 M5): \
        E[Y2](t) and its ½-crossing t_C^{Y2}; for labelled data the Rao–Blackwellised φ(t) = E Σ_c p_c² and its \
        crossing of --threshold.
        Example: diffphys overview --data gmm2:d=256,n=2000 --plot overview.png
        """)

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var sampleCount: SampleCountOptions<Self>
    var samples: Int { sampleCount.samples }
    @Option(parsing: .unconditional, help: "Number of times on the measurement grid, log-spaced.") var points = 24
    @Option(parsing: .unconditional, help: "φ level that defines the measured speciation time.") var threshold = 0.775
    @OptionGroup var curveFile: CurveFileOptions

    func validate() throws {
        guard points >= 3 else { throw ValidationError("--points must be ≥ 3") }
        guard threshold > 0, threshold < 1 else { throw ValidationError("--threshold must be in (0, 1)") }
        let (n, d) = SizeCheck.shape(dataOptions), s = Double(sampleCount.samples)
        try SizeCheck.check(dataOptions, [SizeCheck.item("--samples", sampleCount.samples, 2 * s * (n + 2 * d)),
                                          SizeCheck.item("--points", points, Double(points) * (2 * s + 64))])
    }

    struct Row: Encodable {
        var t, y2, y2Stderr: Double; var phi, phiStderr, phiTheory: Double?
        /// Schema row: `{t, y2: {value, stderr}, phi: {value, stderr} | null, phiTheory}` (Docs/Schema.md).
        enum CodingKeys: String, CodingKey { case t, y2, phi, phiTheory }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(t, forKey: .t)
            try c.encode(Measured(y2, stderr: y2Stderr), forKey: .y2)
            try c.encode(phi.map { Measured($0, stderr: phiStderr) }, forKey: .phi)
            try c.encode(phiTheory, forKey: .phiTheory)
        }
    }
    struct Output: Encodable {
        var data: String
        var n: Int
        var d: Int
        var alpha: Double
        var lambda: Double
        var lambdaPopulation: Double?
        var tS: SpeciationTimes
        var tC: [String: Double]
        var tCMeasuredY2: Double?
        var tCMeasuredY2Stderr: Double?
        var tCross: Double?
        var tCrossStderr: Double?
        var curve: [Row]
        var seed: UInt64
        var samples: Int
        var conventions = "t = forward time; Delta_t = 1 - e^{-2t}; Lambda = top eigenvalue of the unbiased covariance"

        /// Schema results (Docs/Schema.md "Keys of results per command"); data, seed and samples are in the envelope.
        enum CodingKeys: String, CodingKey { case alpha, lambda, lambdaPopulation, tS, tC, tCross, tCrossOverTS, curve }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(alpha, forKey: .alpha)
            try c.encode(lambda, forKey: .lambda)
            try c.encode(lambdaPopulation, forKey: .lambdaPopulation)
            try c.encode(SpeciationTimeOutput(tS), forKey: .tS)
            var measured: [String: Measured] = [:]
            if let v = tCMeasuredY2 { measured["y2"] = Measured(v, stderr: tCMeasuredY2Stderr) }
            try c.encode(CollapseTimeOutput(measured: measured, predicted: tC.mapValues { .exact($0) }), forKey: .tC)
            try c.encode(tCross.map { Measured($0, stderr: tCrossStderr) }, forKey: .tCross)
            try c.encode(tCross.map { Measured($0 / tS.curvature, stderr: tCrossStderr.map { $0 / tS.curvature }) }, forKey: .tCrossOverTS)
            try c.encode(curve, forKey: .curve)
        }
    }

    func run() throws {
        let spec = try dataOptions.spec()
        let data = try spec.load(seed: dataOptions.seed)
        let score = try EmpiricalScore(data)
        let spectrum = try DataSpectrum(points: data.points)
        let ts = spectrum.speciationTimes
        warnDegenerateSpectrum(lambda: spectrum.lambda)
        let n = Double(data.n), d = Double(data.d)
        var tC: [String: Double] = ["spectrum": try CollapseTheory.tCSpectrum(eigenvalues: spectrum.eigenvalues, n: n)]
        var phiTheory: ((Double) -> Double)? = nil
        var lambdaPopulation: Double? = nil
        switch spec {
        case .gaussian(_, _, let sigma):
            tC["gaussian"] = CollapseTheory.tCGaussian(n: n, d: d, sigma2: sigma * sigma)
        case .gmm2(let dd, _, let mTilde, let sigma, _):
            tC["gaussian"] = CollapseTheory.tCGaussian(n: n, d: d, sigma2: sigma * sigma)
            lambdaPopulation = spec.population?.covarianceTopEigenvalue
            phiTheory = { SpeciationTheory.phi(t: $0, d: Double(dd), mTilde: mTilde, sigma: sigma) }
        default: break
        }
        let tLow = 0.02, tHigh = max(ts.drift, tC.values.max() ?? 1) + 1.5
        let times = (0..<points).map { tLow * pow(tHigh / tLow, Double($0) / Double(points - 1)) }
        // Progress in forward-sample levels: the curve, then two Brent solves on the fixed sample set,
        // each measured to cost about 125 levels of the curve (CollapseCost in CollapseCommand.swift).
        let progress = ProgressReporter("overview", cost: Double(times.count + 250), enabled: output.showProgress)
        let estimates = try ForwardSampling(score: score, threads: threadOptions.count)
            .estimate(times: times, samples: samples, seed: dataOptions.seed, progress: progress)
        let rows = estimates.map { e in
            Row(t: e.t, y2: e.y2.mean, y2Stderr: e.y2.standardError, phi: e.classAgreement?.mean,
                phiStderr: e.classAgreement?.standardError, phiTheory: phiTheory?(e.t))
        }
        // Crossings solved on the curve's own samples (the grid only brackets them).
        let sampling = ForwardSampling(score: score, threads: threadOptions.count)
        let y2Cross = try sampling.solveCrossing(level: 0.5, grid: times, samples: samples, seed: dataOptions.seed) { $0.y2 }
            ?? LevelCrossing.find(times: times, values: rows.map(\.y2), errors: rows.map(\.y2Stderr), level: 0.5)
        progress.advance(cost: 125)
        var phiCross: LevelCrossing? = nil
        if data.labels != nil, score.classCount >= 2 {
            phiCross = try sampling.solveCrossing(level: threshold, grid: times, samples: samples, seed: dataOptions.seed) { $0.classAgreement }
                ?? LevelCrossing.find(times: times, values: rows.map { $0.phi ?? .nan }, errors: rows.map { $0.phiStderr ?? 0 }, level: threshold)
        }
        progress.finish()
        let out = Output(data: spec.description, n: data.n, d: data.d, alpha: CollapseTheory.alpha(n: n, d: d),
                         lambda: spectrum.lambda, lambdaPopulation: lambdaPopulation, tS: ts, tC: tC,
                         tCMeasuredY2: y2Cross?.t, tCMeasuredY2Stderr: y2Cross?.standardError,
                         tCross: phiCross?.t, tCrossStderr: phiCross?.standardError, curve: rows,
                         seed: dataOptions.seed, samples: samples)
        if let plot = output.plot { try drawPlot(out, to: plot) }
        try curveFile.write(curveTable(out))
        if output.json {
            try printJSON(command: "overview", data: DataDescription(spec: spec.description, n: data.n, d: data.d),
                          parameters: ["samples": .integer(samples), "points": .integer(points), "threshold": .number(threshold),
                                       "seed": .seed(dataOptions.seed)],
                          results: out)
            return
        }
        let f = { (v: Double) in String(format: "%.4f", v) }
        print("data: \(spec)   n = \(data.n), d = \(data.d), α = ln n/d = \(f(out.alpha))   seed \(dataOptions.seed)")
        print("conventions: \(out.conventions)")
        print("")
        print("Speciation (Docs/Theory.md §2)")
        print("  Λ = \(f(spectrum.lambda))\(lambdaPopulation.map { " (population d m̃² + σ² = \(f($0)))" } ?? "")\(spectrum.usedGram ? " [Gram matrix, n < d]" : "")")
        print("  predicted t_S = ½ln(1+Λ) = \(f(ts.curvature)) [primary]   (also: paper ½lnΛ = \(f(ts.paper)), drift ½ln(2Λ) = \(f(ts.drift)))")
        if let c = phiCross { print("  measured  t_cross(φ = \(threshold)) = \(f(c.t)) ± \(f(c.standardError))   t_cross/t_S = \(f(c.t / ts.curvature)) ± \(f(c.standardError / ts.curvature))   (Rao–Blackwellised φ, \(samples) samples/time)") }
        else if data.labels == nil { print("  (no class labels: φ not measured)") }
        print("Collapse (Docs/Theory.md §3)")
        for key in tC.keys.sorted() { print("  predicted t_C (\(key == "spectrum" ? "Gaussian-spectrum t_C; a bound for the entropy criterion only" : "Gaussian closed form, eq. 10")) = \(f(tC[key]!))") }
        if let c = y2Cross { print("  measured  t_C = t_C^{Y2} (E[Y2] = ½) = \(f(c.t)) ± \(f(c.standardError)) [primary]") }
        print("")
        print("      t      E[Y2]   ±SE      φ_RB    ±SE    φ_theory")
        for r in rows {
            let phi = r.phi.map { String(format: "%7.4f %7.4f", $0, r.phiStderr ?? 0) } ?? "      -       -"
            let th = r.phiTheory.map { String(format: "%8.4f", $0) } ?? "       -"
            print(String(format: "  %7.4f  %7.4f %7.4f ", r.t, r.y2, r.y2Stderr) + phi + " " + th)
        }
        if let plot = output.plot { print("figure: \(plot)") }
    }

    /// The measured curves as the `--out` CSV (camelCase; empty cell = missing).
    private func curveTable(_ out: Output) -> CSVTable {
        var table = CSVTable(header: ["t", "y2", "y2Stderr", "phi", "phiStderr", "phiTheory"])
        for r in out.curve { table.append([.number(r.t), .number(r.y2), .number(r.y2Stderr), .number(r.phi ?? .nan), .number(r.phiStderr ?? .nan), .number(r.phiTheory ?? .nan)]) }
        return table
    }

    private func drawPlot(_ out: Output, to png: String) throws {
        let dat = (png as NSString).deletingPathExtension + ".dat"
        var table = CSVTable(header: ["t", "y2", "y2Stderr", "phi", "phiStderr", "phiTheory"])
        for r in out.curve { table.append([.number(r.t), .number(r.y2), .number(r.y2Stderr), .number(r.phi ?? .nan), .number(r.phiStderr ?? .nan), .number(r.phiTheory ?? .nan)]) }
        try writeText(CSVTable.spaceSeparated(table.text), to: dat)
        var lines = [
            "set title \(Gnuplot.quote(lines: [out.data, "E[Y2] and φ vs forward time (error bars ±1 SE)"])) noenhanced",
            "set xlabel 't (forward time)'", "set ylabel 'E[Y2] (same training point),  φ (same class)'", "set logscale x",
            "set key bottom left", "set yrange [0:1.05]",
        ]
        // Reference lines keyed in the legend with their values (t_C and t_S can be close).
        var keyed: [(setup: String, series: String)] = [
            Gnuplot.keyedVerticalLine(at: out.tS.curvature, label: "t_S = ½ ln(1+Λ) = \(String(format: "%.3f", out.tS.curvature))", colour: "blue", tag: 1)]
        if let tc = out.tC["gaussian"] {
            keyed.append(Gnuplot.keyedVerticalLine(at: tc, label: "t_C eq. 10 = \(String(format: "%.3f", tc))", colour: "red", tag: 2))
        } else if let tc = out.tC["spectrum"] {
            keyed.append(Gnuplot.keyedVerticalLine(at: tc, label: "t_C Gaussian spectrum = \(String(format: "%.3f", tc))", colour: "red", tag: 2))
        }
        lines += keyed.map(\.setup)
        var plots = ["'\(dat)' using 1:2:3 every ::1 with yerrorlines pt 7 ps 0.6 lc rgb 'red' title 'E[Y2] measured'"]
        if out.curve.contains(where: { $0.phi != nil }) { plots.append("'\(dat)' using 1:4:5 every ::1 with yerrorlines pt 5 ps 0.6 lc rgb 'blue' title 'φ measured (Rao–Blackwell)'") }
        // The theory is drawn last, on top of the data.
        if out.curve.contains(where: { $0.phiTheory != nil }) { plots.append("'\(dat)' using 1:6 every ::1 with lines lc rgb 'black' lw 2 title 'theory: φ(t), two-class mixture, exact d'") }
        lines.append("plot " + (plots + keyed.map(\.series)).joined(separator: ", "))
        try Gnuplot.render(script: lines.joined(separator: "\n"), to: png)
    }
}

extension OverviewCommand: SampleCountDefaults {
    static let samples = 2000
}
