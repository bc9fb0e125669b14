import Foundation
import DiffusionPhysics
import GSLKit

/// Study 2, "Speciation on the two-class mixture" ([BBdBM] Fig. 2, Docs/Theory.md §5 F2): φ(t) from
/// brute-force clones with the exact population score against t/t_S for several d, over the exact
/// finite-d curves. All cross at (t/t_S = 1, φ = 0.7752) and sharpen as d grows.
public enum SpeciationGMMStudy: StudyKind {
    public static let measurement = "speciation-gmm"

    public static func run(_ p: StudyParameters, context: StudyContext) throws -> StudyOutcome {
        let ds = try p.numbers("d").map(Int.init), ratios = try p.numbers("ratios"), pairs = try p.integer("pairs")
        let steps = try p.integer("steps"), horizon = try p.number("T")
        var outcome = StudyOutcome()
        let csv = try ResumableCSV(path: context.path("phi.csv"), header: ["d", "t", "tOverTS", "phi", "phiStderr", "phiTheory"])
        var done: [Int: [[String]]] = [:]
        for row in csv.existingRows { if let d = Int(row[0]) { done[d, default: []].append(row) } }
        var theoryTable = CSVTable(header: ["tOverTS"] + ds.map { "phiTheoryD\($0)" })
        for i in 0...200 {
            let r = 0.5 + Double(i) / 200
            theoryTable.append([.number(r)] + ds.map { .number(SpeciationTheory.phi(t: r * 0.5 * log(Double($0)), d: Double($0), mTilde: 1, sigma: 1)) })
        }
        try theoryTable.write(to: context.path("theory.csv"))
        let progress = context.progress("speciation-gmm", total: ds.count * ratios.count)
        for d in ds {
            let tS = 0.5 * log(Double(d))
            var rows = done[d] ?? []
            if rows.count < ratios.count {
                // A d is computed as one unit (one trunk serves all its branch times) and written when done.
                let model = GaussianMixtureScore(try .twoClass(d: d, mTilde: 1, sigma: 1))
                let clones = try CloningExperiment(model: model, settings: SDESettings(horizon: max(horizon, tS + 4), steps: steps),
                                                   threads: context.threads)
                    .run(branchTimes: ratios.map { $0 * tS }, pairs: pairs, seed: context.seed &+ UInt64(d), progress: progress)
                rows = []
                for e in clones {
                    let values: [CSVValue] = [.integer(d), .number(e.t), .number(e.t / tS), .number(e.sameClass!.mean),
                                              .number(e.sameClass!.standardError), .number(SpeciationTheory.phi(t: e.t, d: Double(d), mTilde: 1, sigma: 1))]
                    try csv.append(values)
                    rows.append(values.map { "\($0)" })
                }
            } else { progress.advance(ratios.count) }
            let t = rows.map { Double($0[1])! }, phi = rows.map { Double($0[3])! }, se = rows.map { Double($0[4])! }
            let cross = LevelCrossing.find(times: t, values: phi, errors: se, level: 0.775)
            // Prediction: exact φ = 0.775 at τ = t − ½ ln d ≈ 0.0006 (Docs/Theory.md §2.2), i.e. t/t_S ≈ 1.
            let predicted = try SpeciationTheory.phiCrossingTime(threshold: 0.775, d: Double(d))
            // Ratio to the primary t_S = ½ ln(1 + Λ), Λ = d m̃² + σ² (Docs/Conventions.md "Which t_S to quote"); the grid
            // and the figure use the h = 1 point ½ ln d, the finite-size-scaling origin.
            let primary = SpeciationTheory.tS(lambda: Double(d) + 1).curvature
            outcome.checks.append(StudyCheck("d = \(d): φ = 0.775 crossing, t_cross / ½ln(1+Λ)", kind: .identity, prediction: predicted / primary,
                                             measurement: (cross?.t ?? .nan) / primary, standardError: cross.map { $0.standardError / primary },
                                             tolerance: try p.tolerance("crossing")))
        }
        outcome.dataFiles = ["phi.csv", "theory.csv"]
        let colors = ["#cc2222", "#2244cc", "#229944", "#aa7700", "#7722aa"]
        var plots: [String] = []
        for (i, d) in ds.enumerated() {
            let c = colors[i % colors.count]
            plots.append("'\(context.path("theory.csv"))' every ::1 using 1:\(i + 2) with lines lw 1.5 lc rgb '\(c)' title 'theory: exact φ, d = \(d)'")
            plots.append("'\(context.path("phi.csv"))' every ::1 using ($1==\(d)?$3:1/0):4:5 with yerrorbars pt 7 ps 0.6 lc rgb '\(c)' title 'clones d = \(d) (±1 SE)'")
        }
        let script = """
        set datafile separator ','
        set title 'Speciation: two clones end in the same class (two-class mixture, exact population score)'
        set xlabel 't / t_S,  t_S = (1/2) ln d'; set ylabel 'φ(t)'
        set xrange [0.5:1.5]; set yrange [0.45:1.02]; set key bottom left
        \(Gnuplot.verticalLine(at: 1, label: "t_S = ½ ln d", colour: "gray30", inside: 0.04, tag: 1))
        \(Gnuplot.horizontalLine(at: 0.7752, label: "φ(h = 1) = 0.775", tag: 2))
        plot \(plots.joined(separator: ", "))
        """
        outcome.figure = try context.figure("speciation-gmm", script: script)
        outcome.notes = ["\(pairs) clone pairs per point; backward SDE with exact-OU steps on a \(steps)-step geometric grid; endpoint class = mixture component of the exact posterior draw.",
                         "The crossing at t/t_S = 1 is d-independent because φ depends on d only through τ = t − ½ ln d (σ = m̃ = 1)."]
        return outcome
    }
}
