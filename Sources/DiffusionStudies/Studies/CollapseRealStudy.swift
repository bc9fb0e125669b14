import Foundation
import DiffusionPhysics
import GSLKit

/// Study 5, "Collapse on real data" ([BBdBM] Fig. 5, Docs/Theory.md §3.4–3.5, §5 F5): on Fashion-MNIST with
/// the exact empirical score — φ_C(t) from clone pairs beside the planted E[Y2](t) (an exact
/// identity), the histogram of per-trajectory collapse times hat t_C, and f^e/α, with the
/// Gaussian-spectrum t_C as an upper bound.
public enum CollapseRealStudy: StudyKind {
    public static let measurement = "collapse-real"

    public static func run(_ p: StudyParameters, context: StudyContext) throws -> StudyOutcome {
        var outcome = StudyOutcome()
        let specText = FashionMNIST.isAvailable() ? try p.text("data") : try p.text("fallbackData")
        if !FashionMNIST.isAvailable() { outcome.notes.append("Fashion-MNIST not installed: ran on \(specText) instead.") }
        let spec = try DatasetSpec.parse(specText)
        let data = try spec.load(seed: context.seed)
        let score = try EmpiricalScore(data)
        let predictions = try CollapsePredictions(spec: spec, data: data)
        let branch = try p.numbers("branchTimes"), samples = try p.integer("samples")
        let times = Array(Set(try p.numbers("times") + branch)).sorted()
        let progress = context.progress("collapse-real", total: times.count + branch.count)
        let curve = try CollapseMeasurement(score: score, threads: context.threads)
            .curve(times: times, samples: samples, seed: context.seed, predictions: predictions, progress: progress)
        let measured = MeasuredCollapseTimes(curve: curve, alpha: predictions.alpha)
        let horizon = try p.number("T"), tMin = try p.number("tMin"), steps = try p.integer("steps")
        let sde = SDESettings(horizon: horizon, tMin: tMin, steps: steps)
        let clones = try CloningExperiment(model: score, settings: sde, threads: context.threads)
            .run(branchTimes: branch, pairs: try p.integer("pairs"), seed: context.seed, progress: progress)
        let trajectories = try TrajectoryCollapse(score: score, settings: sde, threads: context.threads)
            .run(trajectories: try p.integer("trajectories"), seed: context.seed)
        var table = CSVTable(header: ["t", "y2", "y2Stderr", "fe_over_alpha", "feStderr_over_alpha", "argmaxIsOrigin"])
        for c in curve {
            table.append([.number(c.t), .number(c.y2.mean), .number(c.y2.standardError), .number(c.feRatio),
                          .number(c.fe.standardError / predictions.alpha), .number(c.argmaxIsOrigin.mean)])
        }
        try table.write(to: context.path("curve.csv"))
        var cloneTable = CSVTable(header: ["t", "phiC", "stderr"])
        for c in clones { cloneTable.append([.number(c.t), .number(c.sameComponent.mean), .number(c.sameComponent.standardError)]) }
        try cloneTable.write(to: context.path("clones.csv"))
        var hist = CSVTable(header: ["binCentre", "count"])
        let h = trajectories.histogram
        for (centre, c) in zip(h.centres, h.counts) { hist.append([.number(centre), .integer(c)]) }
        try hist.write(to: context.path("collapse-times.csv"))
        outcome.dataFiles = ["curve.csv", "clones.csv", "collapse-times.csv"]
        // Exact identity φ_C(t) = E[Y2](t) (planted, Docs/Theory.md §3.3): the largest deviation in combined SE.
        let deviation = clones.map { c -> Double in
            let f = curve.first { abs($0.t - c.t) < 1e-12 }!
            return abs(c.sameComponent.mean - f.y2.mean) / max(1e-9, (pow(c.sameComponent.standardError, 2) + pow(f.y2.standardError, 2)).squareRoot())
        }.max() ?? .nan
        outcome.checks.append(StudyCheck("φ_C (clones) = E[Y2] (forward): largest deviation in SE", prediction: 0, measurement: deviation,
                                         tolerance: try p.tolerance("identitySE")))
        outcome.checks.append(StudyCheck("t_C^{Y2} (E[Y2] = ½) below the Gaussian-spectrum bound", prediction: predictions.tCSpectrum,
                                         measurement: measured.y2?.t ?? .nan, standardError: measured.y2?.standardError,
                                         tolerance: try p.tolerance("bound"), relation: .atMost))
        outcome.checks.append(StudyCheck("t where f^e/α = 0.1, below the Gaussian-spectrum bound", prediction: predictions.tCSpectrum,
                                         measurement: measured.entropy10?.t ?? .nan, standardError: measured.entropy10?.standardError,
                                         tolerance: try p.tolerance("bound"), relation: .atMost))
        outcome.checks.append(StudyCheck("mean per-trajectory hat t_C below the Gaussian-spectrum bound", prediction: predictions.tCSpectrum,
                                         measurement: trajectories.mean.mean, standardError: trajectories.mean.standardError,
                                         tolerance: try p.tolerance("bound"), relation: .atMost))
        let tc = predictions.tCSpectrum, mean = trajectories.mean.mean
        let script = """
        set multiplot layout 1,3 title 'Collapse on \(spec) (n = \(data.n), d = \(data.d), alpha = \(String(format: "%.4f", predictions.alpha)))' noenhanced
        set datafile separator ','
        set xlabel 't (forward time)'; set ylabel 'probability'; set key bottom right; set yrange [0:1.05]
        set arrow 1 from \(tc), graph 0 to \(tc), graph 1 nohead dt 2 lc rgb 'black'
        set arrow 2 from \(mean), graph 0 to \(mean), graph 1 nohead dt 3 lc rgb 'red'
        set title 'phi_C (clones) and E[Y2] (forward)'
        plot '\(context.path("clones.csv"))' every ::1 using 1:2:(3*$3) with yerrorbars pt 7 lc rgb '#cc2222' title 'phi_C, clone pairs (3 SE)', \\
             '\(context.path("curve.csv"))' every ::1 using 1:2:(3*$3) with yerrorlines lc rgb '#2244cc' title 'E[Y2], planted forward'
        set title 'Per-trajectory collapse times'; set ylabel 'trajectories'; set autoscale y; set style fill solid 0.5; set key top right
        plot '\(context.path("collapse-times.csv"))' every ::1 using 1:2 with boxes lc rgb '#888888' title 'hat t_C (mean: red)'
        set title 'Excess entropy'; set ylabel 'f^e / alpha'; set yrange [-0.05:1.05]
        plot '\(context.path("curve.csv"))' every ::1 using 1:4:(3*$5) with yerrorlines lc rgb '#229944' title 'f^e/alpha (3 SE)'
        unset multiplot
        """
        try Gnuplot.render(script: script, to: context.path("collapse-real.png"), width: 1500, height: 520)
        outcome.figure = "collapse-real.png"
        outcome.notes += [
            "Black dashed: Gaussian-spectrum t_C = \(String(format: "%.3f", tc)) (upper bound for real data, Docs/Theory.md §3.2). Red dotted: mean hat t_C = \(String(format: "%.3f ± %.3f", mean, trajectories.mean.standardError)) (median \(String(format: "%.3f", trajectories.median))).",
            "Operational collapse times: E[Y2] = ½ at \(measured.y2.map { String(format: "%.3f", $0.t) } ?? "–"), f^e/α = 0.1 at \(measured.entropy10.map { String(format: "%.3f", $0.t) } ?? "–"), 0.05 at \(measured.entropy05.map { String(format: "%.3f", $0.t) } ?? "–").",
            "Endpoint memorisation (gap ratio < 1/3): " + trajectories.memorization.map { "\($0.samples) \(String(format: "%.3f", $0.fraction.mean))" }.joined(separator: ", ") + ".",
        ]
        return outcome
    }
}
