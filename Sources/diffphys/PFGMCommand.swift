import ArgumentParser
import DiffusionPhysics
import DiffusionStudies
import Foundation
import GSLKit

/// `diffphys pfgm …`: exact-empirical PFGM / PFGM++ (Docs/PoissonFlow.md).
struct PFGMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pfgm",
        abstract: "Exact-empirical Poisson flow (PFGM, PFGM++ with D extra dimensions; D = inf is diffusion).",
        discussion: """
        Conventions (Docs/PoissonFlow.md §2): σ is the diffusion-equivalent noise level, r = σ√D; the generator integrates \
        dx/dσ = (x − m_D(x, σ))/σ from σ_max down to σ_min and ends with the denoising step x(0) = m_D.
        """,
        subcommands: [PFGMSample.self, PFGMField.self, PFGMCollapse.self, PFGMSpeciation.self])
}

/// Parses `--D VALUE|inf` (or a comma list where allowed).
func parseExtraDimensions(_ text: String) throws -> [Double] {
    try text.split(separator: ",").map { part in
        let p = part.trimmingCharacters(in: .whitespaces).lowercased()
        if p == "inf" || p == "infinity" { return .infinity }
        guard let v = Double(p), v.isFinite, v > 0 else { throw ValidationError("--extra-dimensions: '\(part)' must be a real number > 0 or inf") }
        return v
    }
}

/// Default of `--extra-dimensions` for one command.
protocol ExtraDimensionDefault { static var value: String { get } }
/// One D (sample, field): diffusion.
enum SingleDefault: ExtraDimensionDefault { static let value = "inf" }
/// A sweep of D (collapse, speciation).
enum ListDefault: ExtraDimensionDefault { static let value = "1,4,16,inf" }

/// `--extra-dimensions D` (lower case; `--D` is its former spelling, kept as a hidden alias: `--d` is the data dimension elsewhere).
struct ExtraDimensionOption<Default: ExtraDimensionDefault>: ParsableArguments {
    @Option(name: .customLong("extra-dimensions"), parsing: .unconditional,
            help: "Extra dimensions D of PFGM++: a real number > 0 or inf (diffusion); a comma list where a sweep is allowed (default: \(Default.value)).")
    var option: String?
    @Option(name: .customLong("D"), parsing: .unconditional, help: .private) var legacy: String?

    var value: String { option ?? legacy ?? Default.value }

    func validate() throws {
        if option != nil, legacy != nil { throw ValidationError("give --extra-dimensions once (--D is its former spelling)") }
    }
}

func warnExtraDimension(_ D: Double) {
    for w in PoissonFlowModel.warnings(D: D) { note("warning: \(w)") }
}

struct PFGMSample: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Generate with the exact PFGM++ ODE (adaptive gsl_odeiv2 in ln σ, or the EDM Heun schedule).",
        usage: UsageText.line("pfgm sample", UsageText.data, UsageText.output, UsageText.threads, "[--extra-dimensions <D>] [--sigma-max <σ>] [--sigma-min <σ>]",
                             "[--samples <n> | --start <x1,x2,…>] [--no-denoise] [--integrator <adaptive|heun>] [--steps <n>] [--rtol <tol>] [--noise <chi2|beta>]"),
        discussion: "Example: diffphys pfgm sample --extra-dimensions 4 --data gmm2:d=2,n=5 --samples 8 --json")

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var extraDimensions: ExtraDimensionOption<SingleDefault>
    var extra: String { extraDimensions.value }
    @Option(parsing: .unconditional, help: "Start noise level σ_max.") var sigmaMax = 80.0
    @Option(parsing: .unconditional, help: "Final noise level σ_min.") var sigmaMin = 1e-3
    @Option(name: .customLong("samples"), parsing: .unconditional, help: "Number of samples, prior draws (default: 16).") var samplesOption: Int?
    /// `--count`: the former spelling of `--samples`, kept as a hidden alias.
    @Option(name: .customLong("count"), parsing: .unconditional, help: .private) var legacyCount: Int?
    var count: Int { samplesOption ?? legacyCount ?? 16 }
    @Option(parsing: .unconditional, help: "One trajectory from this point x1,x2,… instead of prior draws (default: --samples prior draws).") var start: String?
    @Flag(help: "Return x at σ_min without the final denoising step (default: denoise).") var noDenoise = false
    @Option(help: "Integrator: adaptive (gsl rk8pd in ln σ) or heun (EDM schedule).") var integrator: Method = .adaptive
    @Option(parsing: .unconditional, help: "Heun steps (18 as in EDM).") var steps = 18
    @Option(parsing: .unconditional, help: "Relative tolerance of the adaptive integrator.") var rtol = 1e-10
    @Option(help: "Prior noise: chi2 (scale mixture) or beta (authors' Beta-prime radius).") var noise: PoissonFlowNoise = .chiSquared

    enum Method: String, ExpressibleByArgument, CaseIterable { case adaptive, heun }

    func validate() throws {
        if samplesOption != nil, legacyCount != nil { throw ValidationError("give --samples once (--count is its former spelling)") }
        guard count >= 1 else { throw ValidationError("--samples must be ≥ 1") }
        let (n, d) = SizeCheck.shape(dataOptions)
        try SizeCheck.check(dataOptions, [SizeCheck.item("--samples", count, Double(count) * (6 * d + n)),
                                          SizeCheck.item("--steps", steps, 4 * Double(steps))])
        guard sigmaMin > 0, sigmaMax.isFinite, sigmaMax > sigmaMin else { throw ValidationError("need σ_max > σ_min > 0") }
        guard sigmaMax <= 1e150, sigmaMin >= 1e-150 else {
            throw ValidationError("--sigma-max and --sigma-min must lie in [1e-150, 1e150] (σ² must be a finite, normal number)")
        }
        guard steps >= 2 else { throw ValidationError("--steps must be ≥ 2") }
        guard rtol > 0 else { throw ValidationError("--rtol must be > 0") }
        guard try parseExtraDimensions(extra).count == 1 else { throw ValidationError("--extra-dimensions takes one value here") }
    }

    struct Output: Encodable {
        var data: String, D: Double, sigmaMax: Double, sigmaMin: Double, integrator: String, denoised: Bool, seed: UInt64
        /// Results keys (data, seed in the envelope; the model's warnings in the envelope's warnings).
        enum CodingKeys: String, CodingKey { case D, sigmaMax, sigmaMin, integrator, denoised, samples, nearestTrainingPoint, nearestDistance, kappa }
        var samples: [[Double]]
        var nearestTrainingPoint: [Int]
        var nearestDistance: [Double]
        var kappa: [Double]
        var warnings: [String]
    }

    func run() throws {
        let D = try parseExtraDimensions(extra)[0]
        let data = try dataOptions.dataset()
        let model = try PoissonFlowModel(data, D: D)
        if !output.json { warnExtraDimension(D) }
        let startSpec: PoissonFlowStart
        if let start {
            let x = try parseNumbers(start, option: "--start")
            guard x.count == data.d else { throw ValidationError("--start has \(x.count) coordinates, the data have d = \(data.d)") }
            startSpec = .states(Matrix(rows: 1, columns: data.d, storage: x))
        } else {
            startSpec = .prior(count: count, noise: noise)
        }
        let method: PoissonFlowIntegrator = integrator == .heun ? .heunEDM(steps: steps) : .adaptive(relativeTolerance: rtol, absoluteTolerance: rtol)
        let progress = ProgressReporter("pfgm sample", total: startSpec.countForProgress, enabled: output.showProgress)
        let run = try PoissonFlowSampler(model: model, integrator: method, threads: threadOptions.count)
            .run(sigmaMax: sigmaMax, sigmaMin: sigmaMin, start: startSpec, seed: dataOptions.seed, denoise: !noDenoise, progress: progress)
        let nn = NearestNeighbours.find(samples: run.samples, points: data.points)
        let samples = (0..<run.samples.rows).map { run.samples.row($0) }
        let out = Output(data: try dataOptions.spec().description, D: D, sigmaMax: sigmaMax, sigmaMin: sigmaMin,
                         integrator: integrator.rawValue, denoised: !noDenoise, seed: dataOptions.seed, samples: samples,
                         nearestTrainingPoint: nn.map(\.nearest), nearestDistance: nn.map(\.nearestDistance),
                         kappa: run.kappa, warnings: model.warnings)
        if let plot = output.plot {
            guard data.d >= 2 else { throw ValidationError("--plot needs d ≥ 2 (plots the first two coordinates)") }
            let base = (plot as NSString).deletingPathExtension
            var pts = CSVTable(header: ["x1", "x2"]), gen = CSVTable(header: ["x1", "x2"])
            for i in 0..<data.n { pts.append([.number(data.points[i, 0]), .number(data.points[i, 1])]) }
            for s in samples { gen.append([.number(s[0]), .number(s[1])]) }
            try writeText(CSVTable.spaceSeparated(pts.text), to: base + "-data.dat")
            try writeText(CSVTable.spaceSeparated(gen.text), to: base + "-samples.dat")
            try Gnuplot.render(script: """
                set title \(Gnuplot.quote("PFGM++ D = \(D): samples (first two coordinates)")) noenhanced
                set xlabel 'x1'; set ylabel 'x2'
                plot '\(base)-data.dat' every ::1 with points pt 7 ps 1.5 title 'training points', \
                '\(base)-samples.dat' every ::1 with points pt 1 ps 1 title 'samples'
                """, to: plot)
        }
        if output.json {
            try printJSON(command: "pfgm sample", data: DataDescription(spec: out.data, n: data.n, d: data.d),
                          parameters: ["extraDimensions": .number(D), "samples": .integer(samples.count), "sigmaMax": .number(sigmaMax),
                                       "sigmaMin": .number(sigmaMin), "integrator": .text(integrator.rawValue), "steps": .integer(steps),
                                       "rtol": .number(rtol), "noise": .text(noise.rawValue), "denoise": .flag(!noDenoise),
                                       "seed": .seed(dataOptions.seed)],
                          warnings: model.warnings, results: out)
            return
        }
        print("PFGM++ D = \(D)  data \(out.data)  σ: \(sigmaMax) → \(sigmaMin)  \(integrator.rawValue)\(noDenoise ? "  (no denoising)" : "")")
        for (i, s) in samples.enumerated() {
            print(String(format: "  %4d  nearest %5d  dist %.3e  κ %.4f  ", i, nn[i].nearest, nn[i].nearestDistance, run.kappa[i])
                  + s.prefix(4).map { String(format: "%.5f", $0) }.joined(separator: " ") + (s.count > 4 ? " …" : ""))
        }
        if let plot = output.plot { print("figure: \(plot)") }
    }
}

extension PoissonFlowStart {
    var countForProgress: Int {
        switch self {
        case .prior(let c, _): return c
        case .states(let m): return m.rows
        }
    }
}

struct PFGMField: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "field",
        abstract: "Posterior weights, denoiser, velocity, true score, log-density and raw (E_x, E_r) at one point.",
        discussion: "Example: diffphys pfgm field --extra-dimensions 1 --data points.csv --x 0.3,-0.2 --noise-level 0.5 --json")

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var extraDimensions: ExtraDimensionOption<SingleDefault>
    var extra: String { extraDimensions.value }
    @Option(parsing: .unconditional, help: "The point x1,x2,… (required).") var x: String
    @Option(name: .customLong("noise-level"), parsing: .unconditional, help: "Noise level σ, r = σ√D (required).") var noiseLevel: Double?
    /// `--sigma`: the former spelling of `--noise-level` (σ is the cluster standard deviation elsewhere), hidden alias.
    @Option(name: .customLong("sigma"), parsing: .unconditional, help: .private) var legacySigma: Double?
    var sigma: Double { noiseLevel ?? legacySigma ?? .nan }

    func validate() throws {
        if noiseLevel != nil, legacySigma != nil { throw ValidationError("give --noise-level once (--sigma is its former spelling)") }
        guard noiseLevel != nil || legacySigma != nil else { throw ValidationError("missing --noise-level") }
        guard sigma > 0, sigma.isFinite else { throw ValidationError("--noise-level must be finite and > 0") }
        try SizeCheck.check(dataOptions, [])
        guard try parseExtraDimensions(extra).count == 1 else { throw ValidationError("--extra-dimensions takes one value here") }
    }

    func run() throws {
        let D = try parseExtraDimensions(extra)[0]
        let model = try PoissonFlowModel(try dataOptions.dataset(), D: D)
        if !output.json { warnExtraDimension(D) }
        let e = try model.evaluate(at: try parseNumbers(x, option: "--x"), sigma: sigma)
        if output.json {
            let data = try dataOptions.dataset()
            try printJSON(command: "pfgm field", data: DataDescription(spec: try dataOptions.spec().description, n: data.n, d: data.d),
                          parameters: ["extraDimensions": .number(D), "noiseLevel": .number(sigma), "seed": .seed(dataOptions.seed)],
                          results: e)
            return
        }
        let f = { (v: [Double]) in v.map { String(format: "%.10g", $0) }.joined(separator: " ") }
        print("D = \(D)  σ = \(sigma)\(e.r.map { "  r = \($0)" } ?? "")")
        print("  weights     \(f(e.weights))")
        print("  denoiser m  \(f(e.denoiser))")
        print("  dx/dσ       \(f(e.velocity))")
        print("  V = Σ w|y − m|²  \(String(format: "%.10g", e.posteriorVariance))   (posterior variance: irreducible denoising loss)")
        print("  ∇ ln p      \(f(e.score))   (true score; ≠ −(x − m)/σ² at finite D)")
        print("  ln p_σ(x)   \(String(format: "%.12f", e.logDensity))")
        if let fld = e.field { print("  E_x \(f(fld.ex))  E_r \(String(format: "%.12g", fld.er))  (c = 1/n; ln scale \(fld.logScale))") }
    }
}

/// Shared: the D list, sample counts, σ range.
struct PFGMAnalysisOptions: ParsableArguments {
    @OptionGroup var extraDimensions: ExtraDimensionOption<ListDefault>
    var extra: String { extraDimensions.value }
    @Option(parsing: .unconditional, help: "Marginal samples per σ level.") var samples = 2000
    @Option(parsing: .unconditional, help: "ODE trajectories for per-trajectory levels (0: skip).") var trajectories = 100
    @Option(parsing: .unconditional, help: "Largest noise level σ_max.") var sigmaMax = 80.0
    @Option(parsing: .unconditional, help: "Smallest noise level σ_min.") var sigmaMin = 1e-3
    @Option(parsing: .unconditional, help: "Number of log-spaced σ levels.") var points = 40

    /// The envelope parameters of `pfgm collapse` / `pfgm speciation`.
    func parameters(seed: UInt64) -> [String: ParameterValue] {
        ["extraDimensions": .text(extra), "samples": .integer(samples), "trajectories": .integer(trajectories),
         "sigmaMax": .number(sigmaMax), "sigmaMin": .number(sigmaMin), "points": .integer(points), "seed": .seed(seed)]
    }

    func validate() throws {
        guard samples >= 2, trajectories >= 0, points >= 3 else { throw ValidationError("need --samples ≥ 2, --trajectories ≥ 0, --points ≥ 3") }
        try SizeCheck.check(nil, [SizeCheck.item("--samples", samples, 4 * Double(samples) * 1000),
                                  SizeCheck.item("--points", points, Double(points) * (Double(samples) + Double(trajectories) + 64)),
                                  SizeCheck.item("--trajectories", trajectories, 4 * Double(trajectories) * 1000)])
        guard sigmaMin > 0, sigmaMax.isFinite, sigmaMax > sigmaMin else { throw ValidationError("need σ_max > σ_min > 0") }
        _ = try parseExtraDimensions(extra)
    }
}

struct PFGMLevelsRow: Encodable {
    var D: Double
    var marginal: MarginalCurves
    var trajectories: TrajectoryLevels?
    var clock: RandomClockReport?
}

func runLevels(_ opts: PFGMAnalysisOptions, data: Dataset, seed: UInt64, threads: Int, clock: Bool, quiet: Bool) throws -> [PFGMLevelsRow] {
    let sigmas = PoissonFlowAnalysis.levels(from: opts.sigmaMax, to: opts.sigmaMin, count: opts.points)
    return try parseExtraDimensions(opts.extra).map { D in
        if !quiet { warnExtraDimension(D) }
        let model = try PoissonFlowModel(data, D: D)
        let marginal = try PoissonFlowAnalysis.marginalCurves(model: model, sigmas: sigmas, samples: opts.samples, seed: seed, threads: threads,
                                                              progress: ProgressReporter("pfgm D=\(D) marginal", total: opts.samples, enabled: !quiet))
        var traj: TrajectoryLevels? = nil
        var rc: RandomClockReport? = nil
        if opts.trajectories > 0 {
            traj = try PoissonFlowAnalysis.trajectoryLevels(model: model, count: opts.trajectories, sigmaMax: opts.sigmaMax, sigmaMin: opts.sigmaMin,
                                                            levels: opts.points, seed: seed, threads: threads,
                                                            progress: ProgressReporter("pfgm D=\(D) ODE", total: opts.trajectories, enabled: !quiet))
            if clock, D.isFinite {
                rc = try PoissonFlowAnalysis.randomClock(points: data.points, D: D, count: opts.trajectories, sigmaMax: opts.sigmaMax,
                                                         sigmaMin: max(opts.sigmaMin, 1e-2), seed: seed, threads: threads,
                                                         progress: ProgressReporter("pfgm D=\(D) clock", total: opts.trajectories, enabled: !quiet))
            }
        }
        return PFGMLevelsRow(D: D, marginal: marginal, trajectories: traj, clock: rc)
    }
}

private func fmt(_ v: Double?) -> String { v.map { String(format: "%.4g", $0) } ?? "-" }

struct PFGMCollapse: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collapse",
        abstract: "Collapse level vs D: C_D(σ) from the marginal (no ODE), σ_c/r_c along ODE paths, random-clock κ.",
        usage: UsageText.line("pfgm collapse", UsageText.data, UsageText.output, UsageText.threads, UsageText.pfgmLevels, "[--no-clock]"),
        discussion: """
        C_D(σ) = P_{x~p_σ}[max w ≥ 0.99] (Docs/PoissonFlow.md §8.2); σ_c = level from which w_max ≥ 0.99 for good along an \
        exact ODE path; the random clock (§8.3) compares each PFGM++ path with the diffusion path from the same start \
        on the clock κσ (deviations in units of the minimum training-point spacing).
        Example: diffphys pfgm collapse --extra-dimensions 1,4,16,inf --data gmm2:d=16,n=64 --trajectories 64
        """)

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var opts: PFGMAnalysisOptions
    @Flag(help: "Skip the random-clock diagnostic (default: run it).") var noClock = false

    func run() throws {
        let data = try dataOptions.dataset()
        let rows = try runLevels(opts, data: data, seed: dataOptions.seed, threads: threadOptions.count, clock: !noClock, quiet: !output.showProgress)
        if let plot = output.plot { try plotCurves(rows, keyPath: \.collapseFractionOptional, label: "C_D(sigma)", to: plot) }
        if output.json {
            try printJSON(command: "pfgm collapse", data: DataDescription(spec: try dataOptions.spec().description, n: data.n, d: data.d),
                          parameters: opts.parameters(seed: dataOptions.seed), results: ["levels": rows])
            return
        }
        print("data \(try dataOptions.spec())  n = \(data.n), N = \(data.d)")
        print("       D   σ½(C=½)     ±SE     r½    σ_c p10/med/p90 (ODE)     κ p10/med/p90   clock dev med/p90  no-clock med")
        for r in rows {
            let t = r.trajectories
            print("\(r.D)".padding(toLength: 8, withPad: " ", startingAt: 0) + "\(fmt(r.marginal.sigmaCollapseHalf?.t)) ± \(fmt(r.marginal.sigmaCollapseHalf?.standardError))  \(fmt(r.marginal.rCollapseHalf))   "
                  + "\(fmt(t?.sigmaCollapse.p10))/\(fmt(t?.sigmaCollapse.median))/\(fmt(t?.sigmaCollapse.p90))   "
                  + "\(fmt(t?.kappa.p10))/\(fmt(t?.kappa.median))/\(fmt(t?.kappa.p90))   "
                  + "\(fmt(r.clock?.deviationWithClock.median))/\(fmt(r.clock?.deviationWithClock.p90))  \(fmt(r.clock?.deviationWithoutClock.median))")
        }
        if let plot = output.plot { print("figure: \(plot)") }
    }
}

struct PFGMSpeciation: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "speciation",
        abstract: "Speciation level vs D from posterior class probabilities (labelled data).",
        usage: UsageText.line("pfgm speciation", UsageText.data, UsageText.output, UsageText.threads, UsageText.pfgmLevels),
        discussion: """
        A deterministic flow has no clones (two copies of a state stay equal), so cloning is meaningless here. \
        Instead: φ(σ) = E_{x~p_σ} Σ_c p_c(x)² (probability that two posterior draws share a class; ODE-free) and its \
        crossing of --threshold, and per ODE path σ_S = the level from which the final class has posterior \
        probability ≥ 0.9 for good.
        Example: diffphys pfgm speciation --extra-dimensions 1,16,inf --data gmm2:d=64,n=200
        """)

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var opts: PFGMAnalysisOptions

    func run() throws {
        let data = try dataOptions.dataset()
        guard let labels = data.labels, Set(labels).count >= 2 else { throw ValidationError("speciation needs labelled data with ≥ 2 classes") }
        let rows = try runLevels(opts, data: data, seed: dataOptions.seed, threads: threadOptions.count, clock: false, quiet: !output.showProgress)
        if let plot = output.plot { try plotCurves(rows, keyPath: \.classAgreement, label: "phi(sigma)", to: plot) }
        if output.json {
            try printJSON(command: "pfgm speciation", data: DataDescription(spec: try dataOptions.spec().description, n: data.n, d: data.d),
                          parameters: opts.parameters(seed: dataOptions.seed), results: ["levels": rows])
            return
        }
        print("data \(try dataOptions.spec())  n = \(data.n), N = \(data.d)")
        print("       D   σ_S(φ=0.775)   ±SE      σ_S p10/med/p90 (ODE, p_c ≥ 0.9)    σ½ collapse")
        for r in rows {
            let t = r.trajectories?.sigmaSpeciation
            print("\(r.D)".padding(toLength: 8, withPad: " ", startingAt: 0) + "\(fmt(r.marginal.sigmaSpeciation?.t)) ± \(fmt(r.marginal.sigmaSpeciation?.standardError))   "
                  + "\(fmt(t?.p10))/\(fmt(t?.median))/\(fmt(t?.p90))   \(fmt(r.marginal.sigmaCollapseHalf?.t))")
        }
        if let plot = output.plot { print("figure: \(plot)") }
    }
}

private func plotCurves(_ rows: [PFGMLevelsRow], keyPath: KeyPath<MarginalPoint, MeanEstimate?>, label: String, to png: String) throws {
    let base = (png as NSString).deletingPathExtension
    var plots: [String] = []
    for (k, r) in rows.enumerated() {
        var table = CSVTable(header: ["sigma", "value", "se"])
        for p in r.marginal.points { if let v = p[keyPath: keyPath] { table.append([.number(p.sigma), .number(v.mean), .number(v.standardError)]) } }
        let file = "\(base)-D\(k).dat"
        try writeText(CSVTable.spaceSeparated(table.text), to: file)
        plots.append("'\(file)' using 1:2:3 every ::1 with yerrorlines title 'D = \(r.D)'")
    }
    try Gnuplot.render(script: """
        set title \(Gnuplot.quote(label + " vs sigma")) noenhanced
        set xlabel 'sigma'; set ylabel \(Gnuplot.quote(label)) noenhanced
        set logscale x; set yrange [0:1.05]; set key outside right
        plot \(plots.joined(separator: ", "))
        """, to: png)
}

extension MarginalPoint {
    var collapseFractionOptional: MeanEstimate? { collapseFraction }
}

extension PoissonFlowNoise: ExpressibleByArgument {}
