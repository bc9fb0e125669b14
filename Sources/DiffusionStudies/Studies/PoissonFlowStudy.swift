import Foundation
import DiffusionPhysics
import GSLKit

/// Study 8, "PFGM++ against diffusion" (Docs/PoissonFlow.md §5, §8; issue 7): for the exact-empirical
/// PFGM++ with D extra dimensions (r = σ√D), the collapse fraction C_D(σ) and the class agreement
/// φ_D(σ) from the marginal p_σ alone, for several D beside diffusion (D = ∞). Small D lowers both
/// the speciation and the collapse levels (the random clock of §8.3).
public enum PoissonFlowStudy: StudyKind {
    public static let measurement = "pfgm-vs-diffusion"

    public static func run(_ p: StudyParameters, context: StudyContext) throws -> StudyOutcome {
        let d = try p.integer("d"), n = try p.integer("n"), samples = try p.integer("samples")
        let Ds = try p.numbers("D").map { $0 <= 0 ? Double.infinity : $0 }   // 0 in the file stands for D = ∞
        let spec = try DatasetSpec.parse("gmm2:d=\(d),n=\(n),mtilde=1,sigma=1")
        let data = try spec.load(seed: context.seed)
        let sigmas = PoissonFlowAnalysis.levels(from: try p.number("sigmaMax"), to: try p.number("sigmaMin"), count: try p.integer("levels"))
        var table = CSVTable(header: ["D", "sigma", "collapse", "collapseStderr", "phi", "phiStderr"])
        var summary = CSVTable(header: ["D", "sigmaSpeciation", "sigmaSpeciationStderr", "sigmaCollapseHalf", "sigmaCollapseHalfStderr"])
        var curves: [Double: MarginalCurves] = [:]
        let progress = context.progress("pfgm-vs-diffusion", total: Ds.count * sigmas.count)
        for D in Ds {
            let model = try PoissonFlowModel(data, D: D)
            let c = try PoissonFlowAnalysis.marginalCurves(model: model, sigmas: sigmas, samples: samples, seed: context.seed,
                                                           threads: context.threads, progress: progress)
            curves[D] = c
            for pt in c.points {
                table.append([.number(D), .number(pt.sigma), .number(pt.collapseFraction.mean), .number(pt.collapseFraction.standardError),
                              .number(pt.classAgreement?.mean ?? .nan), .number(pt.classAgreement?.standardError ?? .nan)])
            }
            summary.append([.number(D), .number(c.sigmaSpeciation?.t ?? .nan), .number(c.sigmaSpeciation?.standardError ?? .nan),
                            .number(c.sigmaCollapseHalf?.t ?? .nan), .number(c.sigmaCollapseHalf?.standardError ?? .nan)])
        }
        try table.write(to: context.path("marginals.csv"))
        try summary.write(to: context.path("levels.csv"))
        var outcome = StudyOutcome()
        outcome.dataFiles = ["marginals.csv", "levels.csv"]
        // D = ∞ is diffusion: its φ = 0.775 level must sit at the population h = 1 point, σ_S² = d m̃² − σ² (Docs/Theory.md §2.2, VE variables).
        guard let diffusion = curves[.infinity], let smallest = Ds.min(), let small = curves[smallest] else {
            throw StudyError("pfgm-vs-diffusion needs D = ∞ (written 0) and at least one finite D")
        }
        outcome.checks.append(StudyCheck("D = ∞: φ = 0.775 level vs population σ_S = √(d m̃² − σ²)", kind: .asymptotic, prediction: (Double(d) - 1).squareRoot(),
                                         measurement: diffusion.sigmaSpeciation?.t ?? .nan, standardError: diffusion.sigmaSpeciation?.standardError,
                                         tolerance: try p.tolerance("sigmaS")))
        outcome.checks.append(StudyCheck("D = \(smallest): speciation level below diffusion's", kind: .empirical, prediction: diffusion.sigmaSpeciation?.t ?? .nan,
                                         measurement: small.sigmaSpeciation?.t ?? .nan, standardError: small.sigmaSpeciation?.standardError,
                                         tolerance: 0, relation: .atMost))
        outcome.checks.append(StudyCheck("D = \(smallest): collapse level (C = ½) below diffusion's", kind: .empirical, prediction: diffusion.sigmaCollapseHalf?.t ?? .nan,
                                         measurement: small.sigmaCollapseHalf?.t ?? .nan, standardError: small.sigmaCollapseHalf?.standardError,
                                         tolerance: 0, relation: .atMost))
        let colors = ["#cc2222", "#dd8800", "#229944", "#2244cc", "#000000"]
        // Theory: for D = ∞ (diffusion in VE variables, σ² = e^{2t} − 1) the population φ of the
        // two-class mixture, φ(h) with h = d m̃²/(σ² + σ_c²), m̃ = σ_c = 1 (Docs/Theory.md §2.2).
        var theory = CSVTable(header: ["sigma", "phiDiffusionPopulation"])
        let sLo = sigmas.min()!, sHi = sigmas.max()!
        for i in 0...200 {
            let sigma = sLo * pow(sHi / sLo, Double(i) / 200)
            theory.append([.number(sigma), .number(SpeciationTheory.phi(h: Double(d) / (sigma * sigma + 1)))])
        }
        try theory.write(to: context.path("theory.csv"))
        outcome.dataFiles.append("theory.csv")
        // gnuplot reads "inf" as a string; select rows of D = ∞ by the non-numeric first column instead.
        let plotsPhi = Ds.enumerated().map { i, D -> String in
            let select = D.isFinite ? "(strcol(1) eq '\(CSVValue.number(D))' ? $2 : 1/0)" : "(strcol(1) eq 'inf' ? $2 : 1/0)"
            return "'\(context.path("marginals.csv"))' every ::1 using \(select):5:6 with yerrorlines pt 7 ps 0.5 lc rgb '\(colors[i % colors.count])' title 'D = \(D.isFinite ? String(format: "%g", D) : "∞ (diffusion)")'"
        }.joined(separator: ", ")
        let plotsCollapse = plotsPhi.replacingOccurrences(of: ":5:6 with", with: ":3:4 with")
        let sigmaS = (Double(d) - 1).squareRoot()
        let sigmaLine = Gnuplot.keyedVerticalLine(at: sigmaS, label: "σ_S = √(d m̃² − σ_c^2) = \(String(format: "%.2f", sigmaS))", colour: "gray30", tag: 2)
        let script = """
        set multiplot layout 1,2 title 'Exact-empirical PFGM++ vs diffusion: two-class mixture d = \(d), n = \(n) (error bars ±1 SE)'
        set datafile separator ','
        set logscale x; set xlabel 'σ  (r = σ √D)'; set key top right
        set title 'Class agreement φ_D(σ)'; set ylabel 'φ'; set yrange [0.45:1.02]; set key bottom left font ',9' samplen 2
        \(Gnuplot.horizontalLine(at: 0.775, label: "φ = 0.775", tag: 1, labelX: 0.02).replacingOccurrences(of: " right offset", with: " left offset"))
        \(sigmaLine.setup)
        plot \(plotsPhi), '\(context.path("theory.csv"))' every ::1 using 1:2 with lines lw 2 dt 2 lc rgb 'black' title 'theory: D = ∞, population φ (exact)', \(sigmaLine.series)
        unset arrow 1; unset label 1; unset arrow 2; unset label 2
        set key top right
        set title 'Collapse fraction C_D(σ)'; set ylabel 'C_D = P(max w ≥ 0.99)'; set yrange [-0.02:1.02]
        plot \(plotsCollapse)
        unset multiplot
        """
        outcome.figure = try context.figure("pfgm-vs-diffusion", script: script, width: 1400, height: 580)
        for D in Ds {
            let c = curves[D]!
            outcome.notes.append("D = \(D.isFinite ? String(format: "%g", D) : "∞"): σ_S (φ = 0.775) = \(c.sigmaSpeciation.map { String(format: "%.3f ± %.3f", $0.t, $0.standardError) } ?? "–"), σ½ (C = ½) = \(c.sigmaCollapseHalf.map { String(format: "%.3f ± %.3f", $0.t, $0.standardError) } ?? "–").")
        }
        outcome.notes.append("Cloning is meaningless for a deterministic flow: class commitment is measured by the posterior class agreement φ = E Σ_c p_c² under p_σ, collapse by P(max w ≥ 0.99), both without integrating the ODE (Docs/PoissonFlow.md §8.2).")
        return outcome
    }
}
