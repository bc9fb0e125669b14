import ArgumentParser
import DiffusionPhysics
import DiffusionStudies
import Foundation
import GSLKit

struct MemorizationMapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memorization-map",
        abstract: "Sweep the memorisation threshold over (n, d): measured E[Y2](t) on a grid, phase diagram in (α, t).",
        usage: UsageText.line("memorization-map", UsageText.data, UsageText.output, UsageText.threads, "--n <n,…> [--d <d,…>] [--times <times>] [--samples <samples>] --out <dir> [--fresh]"),
        discussion: """
        For each n (and d, for gaussian/gmm2 specs; real data keeps its d and --n subsamples it) and each time, the \
        planted forward-sampling E[Y2] and f^e (Docs/Theory.md §3.3–3.4) are appended to DIR/map.csv as soon as they are \
        computed; rerunning the same command resumes an interrupted sweep without losing or changing any row. \
        Prints the measured threshold t_C^{Y2} (E[Y2] = ½) beside eq. 10 and the Gaussian-spectrum bound per (n, d), \
        and with --plot draws the (α, t) phase diagram: measured E[Y2] as colour, the theory line t_C(α), t_S where defined.
        Example: diffphys memorization-map --data gaussian:d=64,n=100 --n 100,1000,10000 --d 32,64 --times 0.1,0.3,1,3 --out map
        """)

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var threadOptions: ThreadOptions
    @Option(parsing: .unconditional, help: "Comma-separated training-set sizes n (required).") var n: String
    @Option(parsing: .unconditional, help: "Comma-separated dimensions d (gaussian/gmm2 specs only; default: the spec's d).") var d: String?
    @Option(parsing: .unconditional, help: "Comma-separated forward times t > 0.") var times = TimeList([0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3])
    @OptionGroup var sampleCount: SampleCountOptions<Self>
    var samples: Int { sampleCount.samples }
    @Option(help: "Output directory for map.csv and thresholds.csv (required).") var out: String
    @Option(help: .hidden) var stopAfter: Int?
    @Flag(help: "Start over: remove the folder's earlier rows instead of resuming (default: resume).") var fresh = false

    func validate() throws {
        let ns = (try? integers(n, option: "--n")) ?? [], ds = (try? d.map { try integers($0, option: "--d") }) ?? nil
        let (n0, d0) = SizeCheck.shape(dataOptions)
        let nMax = Double(ns.max() ?? 1), dMax = Double(ds?.max() ?? Int(d0))
        _ = n0
        try SizeCheck.check(nil, [SizeCheck.item("--n", ns.max() ?? 1, 3 * nMax * dMax),
                                  SizeCheck.item("--samples", samples, 2 * Double(samples) * (nMax + 2 * dMax))])
    }

    struct Output: Encodable {
        var csv: String
        var thresholdsCSV: String
        var rows: [Row]
        var thresholds: [Threshold]

        /// A map row in schema form: measured values `{value, stderr}`, the primary tS.
        struct Row: Encodable {
            var n, d: Int
            var alpha, t: Double
            var y2, fe, feRatio: Measured
            var tCGaussian: Double?
            var tCSpectrum: Double
            /// t_S in the shared shape (Λ = e^{2 t_S} − 1 from the primary ½ ln(1 + Λ) stored in the row).
            var tS: SpeciationTimeOutput
            init(_ r: MemorizationMapRow) {
                n = r.n; d = r.d; alpha = r.alpha; t = r.t
                y2 = Measured(r.y2, stderr: r.y2Stderr)
                fe = Measured(r.fe, stderr: r.feStderr)
                feRatio = Measured(r.feRatio, stderr: r.feStderr / r.alpha)
                tCGaussian = r.tCGaussian.isNaN ? nil : r.tCGaussian
                tCSpectrum = r.tCSpectrum
                tS = SpeciationTimeOutput(SpeciationTheory.tS(lambda: expm1(2 * r.tS)))
            }
        }

        /// A threshold in schema form: `tC` as every command writes it.
        struct Threshold: Encodable {
            var n, d: Int
            var alpha: Double
            /// t_S in the shared shape (primary ½ ln(1 + Λ)).
            var tS: SpeciationTimeOutput
            var tC: CollapseTimeOutput
            init(_ h: MemorizationThreshold) {
                n = h.n; d = h.d; alpha = h.alpha; tS = SpeciationTimeOutput(SpeciationTheory.tS(lambda: expm1(2 * h.tS)))
                var measured: [String: Measured] = [:], predicted: [String: Measured] = ["spectrum": .exact(h.tCSpectrum)]
                if let m = h.measured { measured["y2"] = m.measured }
                if let m = h.measuredEntropy10 { measured["entropy10"] = m.measured }
                if let g = h.tCGaussian { predicted["gaussian"] = .exact(g) }
                tC = CollapseTimeOutput(measured: measured, predicted: predicted)
            }
        }
    }

    func integers(_ text: String, option: String) throws -> [Int] {
        try parseNumbers(text, option: option).map { v in
            guard v == v.rounded(), v >= 1, v < 1e12 else { throw ValidationError("\(option): '\(v)' is not a positive integer") }
            return Int(v)
        }
    }

    func run() throws {
        let spec = try dataOptions.spec()
        let ns = try integers(n, option: "--n")
        let ds = try d.map { try integers($0, option: "--d") }
        let ts = times.values
        let map: MemorizationMap
        do {
            map = try MemorizationMap(spec: spec, ns: ns, ds: ds, times: ts, samples: samples, seed: dataOptions.seed,
                                      threads: threadOptions.count)
        } catch let e as ModelError { throw ValidationError(e.message) }
        let csvPath = (out as NSString).appendingPathComponent("map.csv")
        var fields = try spec.manifestFields()
        fields["seed"] = "\(dataOptions.seed)"
        fields["n"] = ns.map(String.init).joined(separator: ",")
        fields["d"] = ds.map { $0.map(String.init).joined(separator: ",") } ?? "spec"
        fields["times"] = ts.map { CSVValue.number($0).text }.joined(separator: ",")
        fields["samples"] = "\(samples)"
        try RunManifest(fields).claim(directory: out, rowFiles: ["map.csv", "thresholds.csv"], fresh: fresh)
        let progress = ProgressReporter("memorization-map", cost: map.progressCost, enabled: output.showProgress)
        let rows = try map.run(csvPath: csvPath, stopAfter: stopAfter, progress: progress)
        let thresholds = try map.solvedThresholds(rows, progress: progress)
        progress.finish()
        // Shared names (Docs/Schema.md): tC = primary measured t_C (E[Y2] = ½), tS = primary ½ ln(1 + Λ).
        var table = CSVTable(header: ["n", "d", "alpha", "tC", "tCStderr", "tCEntropy10", "tCGaussian", "tCSpectrum", "tS"])
        for h in thresholds {
            table.append([.integer(h.n), .integer(h.d), .number(h.alpha), .number(h.measured?.t ?? .nan),
                          .number(h.measured?.standardError ?? .nan), .number(h.measuredEntropy10?.t ?? .nan),
                          .number(h.tCGaussian ?? .nan), .number(h.tCSpectrum), .number(h.tS)])
        }
        let thresholdsPath = (out as NSString).appendingPathComponent("thresholds.csv")
        try table.write(to: thresholdsPath)
        if let plot = output.plot { try drawPlot(spec: spec, csv: csvPath, thresholds: thresholdsPath, rows: rows, to: plot) }
        if output.json {
            try printJSON(command: "memorization-map", data: DataDescription(spec: spec.description),
                          parameters: ["n": .numbers(ns.map(Double.init)), "d": ds.map { .numbers($0.map(Double.init)) } ?? .text("spec"),
                                       "times": .numbers(ts), "samples": .integer(samples), "seed": .seed(dataOptions.seed)],
                          notes: ["threshold": "t_C = t where planted E[Y2] = 1/2 (primary), per (n, d)"],
                          results: Output(csv: csvPath, thresholdsCSV: thresholdsPath, rows: rows.map(Output.Row.init),
                                          thresholds: thresholds.map(Output.Threshold.init)))
            return
        }
        print("data: \(spec)   \(rows.count) rows in \(csvPath)   (\(samples) planted forward samples per row, seed \(dataOptions.seed))")
        print("Memorisation threshold per (n, d): measured t where E[Y2] = ½ vs predicted t_C (Docs/Theory.md §3.2)")
        print("       n      d      α          measured t_C^{Y2}   f^e/α=0.1   eq. 10    spectrum   t_S=½ln(1+Λ)")
        func f(_ x: Double?) -> String { x.map { String(format: "%8.4f", $0) } ?? "       -" }
        for h in thresholds {
            let m = h.measured.map { String(format: "%8.4f ± %6.4f", $0.t, $0.standardError) } ?? "  (not bracketed)"
            print(String(format: "  %7d %6d %9.6f   ", h.n, h.d, h.alpha) + m + "   " + f(h.measuredEntropy10?.t) + "   "
                  + f(h.tCGaussian) + "   " + f(h.tCSpectrum) + " " + f(h.tS))
        }
        print("rows: \(csvPath); thresholds: \(thresholdsPath)")
        if let plot = output.plot { print("figure: \(plot)") }
    }

    private func drawPlot(spec: DatasetSpec, csv: String, thresholds: String, rows: [MemorizationMapRow], to png: String) throws {
        let dat = (png as NSString).deletingPathExtension + ".dat"
        // Data next to the PNG: copy of the rows (space separated) and the thresholds.
        let text = CSVTable.spaceSeparated(try String(contentsOfFile: csv, encoding: .utf8))
        try writeText(text, to: dat)
        let thr = (png as NSString).deletingPathExtension + "-thresholds.dat"
        try writeText(CSVTable.spaceSeparated(try String(contentsOfFile: thresholds, encoding: .utf8)), to: thr)
        let alphas = rows.map(\.alpha).filter { $0 > 0 }
        let aMin = (alphas.min() ?? 0.01) / 1.5, aMax = (alphas.max() ?? 1) * 1.5
        let tMax = (rows.map(\.t).max() ?? 3) * 1.2, tMin = (rows.map(\.t).min() ?? 0.01) / 1.2
        // The title names the swept n and d (not the spec's single d), and both log axes get
        // 1-2-5 ticks inside their (often narrow) ranges.
        func values(_ v: [Int]) -> String { let u = Array(Set(v)).sorted(); return u.count == 1 ? "= \(u[0])" : "∈ {" + u.map(String.init).joined(separator: ", ") + "}" }
        let family = spec.description.split(separator: ":").first.map(String.init) ?? "\(spec)"
        var lines = [
            "set title \(Gnuplot.quote("\(family): memorisation map, n \(values(rows.map(\.n))), d \(values(rows.map(\.d))) (colour = measured planted E[Y2]; error bars ±1 SE)")) noenhanced",
            "set xlabel 'α = ln n / d'", "set ylabel 't (forward time)'", "set logscale xy",
            "set xtics (\(Gnuplot.logTicks(from: aMin, to: aMax).map { "'\(String(format: "%g", $0))' \($0)" }.joined(separator: ", ")))",
            "set ytics (\(Gnuplot.logTicks(from: tMin, to: tMax).map { "'\(String(format: "%g", $0))' \($0)" }.joined(separator: ", ")))",
            "set mxtics 10; set mytics 10; set grid xtics ytics lc rgb '#bbbbbb' lw 0.5",
            "set xrange [\(aMin):\(aMax)]", "set yrange [\(tMin):\(tMax)]", "set cbrange [0:1]", "set cblabel 'E[Y2]'",
            "set palette defined (0 'white', 0.5 'orange', 1 'dark-red')", "set key below horizontal", "set xlabel offset 0,0.4",
            "set object 1 rectangle from graph 0,0 to graph 1,1 fc rgb '#dddddd' fs solid behind",
            "set samples 400",
        ]
        var plots = ["'\(dat)' using 3:4:5 every ::1 with points pt 5 ps 2.5 lc palette notitle"]
        var sigma2: Double? = nil
        switch spec {
        case .gaussian(_, _, let s), .gmm2(_, _, _, let s, _): sigma2 = s * s
        default: break
        }
        if let s2 = sigma2, s2 > 0 {
            lines.append("tc(a) = 0.5*log(1 + \(s2)/(exp(2*a) - 1))")
            plots.append("tc(x) with lines lw 2 lc rgb 'black' title 'theory: t_C(α), eq. 10'")
        } else {
            plots.append("'\(thr)' using 3:8 every ::1 with points pt 6 ps 1.5 lc rgb 'black' title 'theory: t_C Gaussian-spectrum bound'")
        }
        plots.append("'\(thr)' using 3:4:5 every ::1 with yerrorbars pt 7 lc rgb 'blue' title 'measured t_C (E[Y2] = 1/2)'")
        if case .gaussian = spec {} else {
            plots.append("'\(thr)' using 3:9 every ::1 with points pt 9 ps 1.5 lc rgb 'dark-green' title 't_S = ½ ln(1 + Λ)'")
        }
        lines.append("plot " + plots.joined(separator: ", "))
        try Gnuplot.render(script: lines.joined(separator: "\n"), to: png, width: 1000, height: 700)
    }
}

extension MemorizationMapCommand: SampleCountDefaults {
    /// Forward samples per (n, d, t).
    static let samples = 1000
}
