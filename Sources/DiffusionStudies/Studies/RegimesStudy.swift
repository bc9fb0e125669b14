import Foundation
import DiffusionPhysics
import GSLKit

/// Study 1, "Regimes" ([BBdBM] Fig. 1, Docs/Theory.md §5 F1): backward trajectories of a 2-D two-class
/// mixture with a few dozen training points, coloured by final class against time — one bundle
/// above t_S (regime I), the split at t_S, class-committed motion (regime II), and the fall onto
/// training points below t_C (regime III).
public enum RegimesStudy: StudyKind {
    public static let measurement = "regimes"

    public static func run(_ p: StudyParameters, context: StudyContext) throws -> StudyOutcome {
        let d = try p.integer("d"), n = try p.integer("n"), count = try p.integer("trajectories")
        let mTilde = try p.number("mtilde"), sigma = try p.number("sigma")
        let horizon = try p.number("T"), tMin = try p.number("tMin"), steps = try p.integer("steps")
        let law = try GaussianMixtureModel.twoClass(d: d, mTilde: mTilde, sigma: sigma)
        let data = try law.sample(n: n, seed: context.seed)
        let score = try EmpiricalScore(data)
        let grid = try TimeGrid.geometric(from: horizon, to: tMin, steps: steps)
        let run = try BackwardSDE(model: score, finalStep: .none, threads: context.threads)
            .run(grid: grid, start: .prior(count: count), seed: context.seed, recording: [.states, .argmax],
                 progress: context.progress("regimes trajectories", total: count))
        // Projection on the class axis m̂ and the final class (label of the training point reached).
        let norm = (0..<d).map { law.means[0, $0] * law.means[0, $0] }.reduce(0, +).squareRoot()
        let axis = (0..<d).map { law.means[0, $0] / norm }
        let labels = data.labels ?? Array(repeating: 0, count: n)
        var lines: [String] = ["# t  q=m.x/|m|  final_class  (one block per trajectory)"]
        var onPoint = 0
        for i in 0..<count {
            let finalClass = labels[run.argmaxPath[i].last!]
            for (k, t) in grid.times.enumerated() {
                let x = run.statePath[i][k]
                let q = zip(x, axis).map(*).reduce(0, +)
                lines.append("\(t) \(q) \(finalClass)")
            }
            lines.append("")
            // Regime III: x(t_min) within 4√(dΔ) of its nearest scaled training point a e^{−t}.
            let mu = run.argmaxPath[i].last!, x = run.lastStates.row(i)
            let dist = (0..<d).map { pow(x[$0] - data.points[mu, $0] * exp(-tMin), 2) }.reduce(0, +).squareRoot()
            if dist < 4 * (Double(d) * ForwardProcess.delta(tMin)).squareRoot() { onPoint += 1 }
        }
        try writeText(lines.joined(separator: "\n") + "\n", to: context.path("trajectories.dat"))
        // Predictions: t_S where h = 1 (exact for the population, Docs/Theory.md §2.2); t_C from the data spectrum.
        let spectrum = try DataSpectrum(points: data.points)
        let tSPredicted = 0.5 * log1p(Double(d) * mTilde * mTilde - sigma * sigma)
        let tCPredicted = try CollapseTheory.tCSpectrum(eigenvalues: spectrum.eigenvalues, n: Double(n))
        // Measurements by forward sampling on the same data (Docs/Theory.md §2.2 (ii), §3.4 M5).
        let times = (0..<40).map { tMin * 10 * pow(horizon / (tMin * 10), Double($0) / 39) }
        let curve = try ForwardSampling(score: score, threads: context.threads)
            .estimate(times: times, samples: try p.integer("samples"), seed: context.seed)
        var table = CSVTable(header: ["t", "y2", "y2Stderr", "phi", "phiStderr"])
        for e in curve { table.append([.number(e.t), .number(e.y2.mean), .number(e.y2.standardError), .number(e.classAgreement?.mean ?? .nan), .number(e.classAgreement?.standardError ?? .nan)]) }
        try table.write(to: context.path("curves.csv"))
        let phiCross = LevelCrossing.find(times: times, values: curve.map { $0.classAgreement?.mean ?? .nan },
                                          errors: curve.map { $0.classAgreement?.standardError ?? 0 }, level: 0.775)
        let y2Cross = LevelCrossing.find(times: times, values: curve.map(\.y2.mean), errors: curve.map(\.y2.standardError), level: 0.5)
        var outcome = StudyOutcome()
        outcome.checks.append(StudyCheck("fraction of trajectories ending on a training point (regime III)", kind: .asymptotic, prediction: 1,
                                         measurement: Double(onPoint) / Double(count), tolerance: try p.tolerance("endpoints")))
        outcome.checks.append(StudyCheck("speciation t_S: φ = 0.775 crossing vs h(t) = 1", kind: .asymptotic, prediction: tSPredicted,
                                         measurement: phiCross?.t ?? .nan, standardError: phiCross?.standardError, tolerance: try p.tolerance("tS")))
        outcome.checks.append(StudyCheck("collapse t_C: E[Y2] = ½ vs Gaussian-spectrum t_C", kind: .asymptotic, prediction: tCPredicted,
                                         measurement: y2Cross?.t ?? .nan, standardError: y2Cross?.standardError, tolerance: try p.tolerance("tC")))
        outcome.dataFiles = ["trajectories.dat", "curves.csv"]
        // Theory: the population φ(t) of the two-class mixture (exact, Docs/Theory.md §2.2), on a fine grid.
        var theory = CSVTable(header: ["t", "phiPopulation"])
        for i in 0...200 {
            let t = times[0] * pow(times.last! / times[0], Double(i) / 200)
            theory.append([.number(t), .number(SpeciationTheory.phi(t: t, d: Double(d), mTilde: mTilde, sigma: sigma))])
        }
        try theory.write(to: context.path("theory.csv"))
        outcome.dataFiles.append("theory.csv")
        let refs = [Gnuplot.verticalLine(at: tSPredicted, label: "t_S (h = 1)", colour: "black", tag: 1),
                     Gnuplot.verticalLine(at: tCPredicted, label: "t_C (Gaussian spectrum)", colour: "gray40", tag: 2)].joined(separator: "\n")
        let script = """
        set multiplot layout 1,2 title 'Dynamical regimes, d = \(d), n = \(n) (exact empirical score)'
        set tmargin 4; set bmargin 6
        set logscale x
        set xlabel 't (forward time; generation runs right to left)'
        set ylabel 'q = m·x / |m|'
        set key below horizontal
        \(refs)
        plot '\(context.path("trajectories.dat"))' using 1:($3==0?$2:1/0) with lines lw 0.6 lc rgb '#cc2222' title 'trajectory ending in class +', \\
             '' using 1:($3==1?$2:1/0) with lines lw 0.6 lc rgb '#2244cc' title 'trajectory ending in class −'
        set ylabel 'probability'
        set yrange [0:1.05]
        set key inside left top at graph 0.03, graph 0.9 Left reverse font ',10'
        set datafile separator ','
        plot '\(context.path("curves.csv"))' every ::1 using 1:4:5 with yerrorlines pt 7 ps 0.6 lc rgb '#2244cc' title 'φ (same class), measured ±1 SE', \\
             '' every ::1 using 1:2:3 with yerrorlines pt 5 ps 0.6 lc rgb '#cc2222' title 'E[Y2] (same training point), measured ±1 SE', \\
             '\(context.path("theory.csv"))' every ::1 using 1:2 with lines lw 2 lc rgb 'black' title 'theory: population φ(t), exact'
        unset multiplot
        """
        outcome.figure = try context.figure("regimes", script: script, width: 1400, height: 620)
        outcome.notes += ["Left: \(count) backward-SDE trajectories (exact-OU steps, \(steps)-step geometric grid, T = \(horizon) → t_min = \(tMin)); colour = class of the training point reached.",
                         "Right: forward-sampling φ(t) = E Σ_c p_c² and E[Y2](t) on the same data (\(Gnuplot.errorBarConvention)); black: the population φ(t) of the two-class mixture, which the empirical score follows above t_C.",
                         "In d = 2 the transitions are smooth crossovers; the tolerances are correspondingly wide (sharp transitions need d ≫ 1, studies speciation-gmm and collapse-gmm)."]
        return outcome
    }
}
