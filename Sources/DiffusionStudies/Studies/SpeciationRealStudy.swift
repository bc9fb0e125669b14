import Foundation
import DiffusionPhysics
import GSLKit

/// Study 4, "Speciation on real data" ([BBdBM] Fig. 4, Docs/Theory.md §4.2, §5 F4): Fashion-MNIST class
/// pairs and the 8×8 digits with the exact empirical score. φ(t) = E Σ_c p_c² (Rao–Blackwellised,
/// equal in expectation to brute-force clones, Docs/Theory.md §2.2) against t/t_S, and the measured
/// 0.775 crossing beside the spectral t_S.
public enum SpeciationRealStudy: StudyKind {
    public static let measurement = "speciation-real"

    struct Source { var label: String; var spec: String }

    public static func run(_ p: StudyParameters, context: StudyContext) throws -> StudyOutcome {
        let perClass = try p.integer("perClass"), samples = try p.integer("samples")
        let pairs = try p.numbers("fashionPairs").map(Int.init), ratios = try p.numbers("ratios")
        guard pairs.count % 2 == 0 else { throw StudyError("fashionPairs must list classes two by two") }
        var sources: [Source] = []
        var outcome = StudyOutcome()
        if FashionMNIST.isAvailable() {
            for k in stride(from: 0, to: pairs.count, by: 2) {
                sources.append(Source(label: "fmnist \(pairs[k])v\(pairs[k + 1])", spec: "fashion-mnist:classes=\(pairs[k]),\(pairs[k + 1]),per-class=\(perClass)"))
            }
        } else {
            outcome.notes.append("Fashion-MNIST not installed (Debian package dataset-fashion-mnist): only the digits were run.")
        }
        let digits = try p.numbers("digitsClasses").map(Int.init)
        sources.append(Source(label: "digits \(digits.map(String.init).joined(separator: "v"))", spec: "digits:classes=\(digits.map(String.init).joined(separator: ","))"))
        var table = CSVTable(header: ["dataset", "t", "t_over_tS", "phi", "stderr"])
        var summary = CSVTable(header: ["dataset", "n", "d", "lambda", "tS_paper", "tS_curvature", "tS_drift", "tCross", "tCrossStderr"])
        let progress = context.progress("speciation-real", total: sources.count * ratios.count)
        for source in sources {
            let data = try DatasetSpec.parse(source.spec).load(seed: context.seed)
            let spectrum = try DataSpectrum(points: data.points)
            let ts = spectrum.speciationTimes
            let times = ratios.map { $0 * ts.curvature }
            let curve = try ForwardSampling(score: try EmpiricalScore(data), threads: context.threads)
                .estimate(times: times, samples: samples, seed: context.seed, progress: progress)
            for e in curve {
                table.append([.text(source.label), .number(e.t), .number(e.t / ts.curvature), .number(e.classAgreement!.mean), .number(e.classAgreement!.standardError)])
            }
            let cross = LevelCrossing.find(times: times, values: curve.map { $0.classAgreement!.mean },
                                           errors: curve.map { $0.classAgreement!.standardError }, level: 0.775)
            summary.append([.text(source.label), .integer(data.n), .integer(data.d), .number(spectrum.lambda), .number(ts.paper),
                            .number(ts.curvature), .number(ts.drift), .number(cross?.t ?? .nan), .number(cross?.standardError ?? .nan)])
            outcome.checks.append(StudyCheck("\(source.label): t_cross / ½ln(1+Λ)", prediction: 1,
                                             measurement: (cross?.t ?? .nan) / ts.curvature,
                                             standardError: cross.map { $0.standardError / ts.curvature }, tolerance: try p.tolerance("ratio")))
            outcome.notes.append("\(source.label): n = \(data.n), d = \(data.d), Λ = \(String(format: "%.3f", spectrum.lambda)); t_S = ½lnΛ \(String(format: "%.3f", ts.paper)), ½ln(1+Λ) \(String(format: "%.3f", ts.curvature)), ½ln(2Λ) \(String(format: "%.3f", ts.drift)); measured t_cross = \(cross.map { String(format: "%.3f ± %.3f", $0.t, $0.standardError) } ?? "none") (t_cross/½lnΛ = \(cross.map { String(format: "%.3f", $0.t / ts.paper) } ?? "–")).")
        }
        try table.write(to: context.path("phi.csv"))
        try summary.write(to: context.path("summary.csv"))
        outcome.dataFiles = ["phi.csv", "summary.csv"]
        let colors = ["#cc2222", "#2244cc", "#229944", "#aa7700", "#7722aa"]
        let plots = sources.enumerated().map { i, s in
            "'\(context.path("phi.csv"))' every ::1 using (strcol(1) eq '\(s.label)' ? $3 : 1/0):4:(3*$5) with yerrorlines lc rgb '\(colors[i % colors.count])' title '\(s.label)'"
        }
        let script = """
        set datafile separator ','
        set title 'Speciation on real data (exact empirical score, Rao-Blackwellised phi)'
        set xlabel 't / t_S,  t_S = (1/2) ln(1 + Lambda)'; set ylabel 'phi(t)'
        set key bottom left; set yrange [0.45:1.02]
        set object 1 rect from graph 0, graph 0 to first 1, graph 1 fc rgb '#eeeeff' fs solid 0.5 behind
        set label 1 'symmetry broken' at graph 0.05, graph 0.95
        set label 2 'symmetry preserved' at first 1.1, graph 0.95
        set arrow from graph 0, first 0.775 to graph 1, first 0.775 nohead dt 2
        plot \(plots.joined(separator: ", "))
        """
        try Gnuplot.render(script: script, to: context.path("speciation-real.png"))
        outcome.figure = "speciation-real.png"
        outcome.notes.append("t_S = ½ ln Λ assumes the classes separate along the top principal component. For a pair that does not (e.g. T-shirt vs shirt, whose top component is shared brightness/shape variance), φ crosses 0.775 later in generation (smaller t) and the check disagrees: the speciation direction carries a smaller eigenvalue ([ABBM26], Docs/Theory.md §2.1).")
        outcome.notes.append("Preprocessing as the paper (Docs/Theory.md §4.2): x/255 (digits x/16), first k images per class in file order, global scalar mean removed; Λ from the unbiased per-pixel covariance.")
        return outcome
    }
}
