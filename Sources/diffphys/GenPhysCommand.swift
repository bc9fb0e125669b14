import ArgumentParser
import DiffusionPhysics
import DiffusionStudies
import Foundation
import GSLKit

/// `diffphys genphys …`: the GenPhys Yukawa (screened Poisson) model, exact-empirical (Docs/PoissonFlow.md §6, §11.5).
struct GenPhysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "genphys",
        abstract: "Exact-empirical GenPhys Yukawa model (screening mass m; m → 0 is PFGM, D = 1): field, weighted particles, collapse.",
        discussion: """
        One extra coordinate z ≥ 0 (it plays σ = r of PFGM with D = 1). The flow dx/dz = (x − Σ w_i y_i)/z is not \
        conservative (∂_z q + div(q v) = g q): particles carry log-weights d(ln W)/dz = g = m − m² φ/E_z (Docs/PoissonFlow.md §6).
        """,
        subcommands: [GenPhysField.self, GenPhysSample.self, GenPhysCollapse.self])
}

func parseMasses(_ text: String) throws -> [Double] {
    try text.split(separator: ",").map { part in
        guard let v = Double(part.trimmingCharacters(in: .whitespaces)), v.isFinite, v > 0 else {
            throw ValidationError("--m: '\(part)' must be a finite number > 0")
        }
        return v
    }
}

struct GenPhysField: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "field",
        abstract: "Yukawa weights and their logarithms, velocity dx/dz, potential, density q_z and particle log-weight rate at (x, z).",
        usage: UsageText.line("genphys field", "[--m <m>] --x <x1,x2,…> --z <z>", UsageText.data, UsageText.output),
        discussion: "Example: diffphys genphys field --m 1.5 --data points.csv --x 0.3,-0.2 --z 0.5 --json")

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var output: OutputOptions
    @Option(name: .customLong("m"), parsing: .unconditional, help: "Screening mass m > 0 (default: 1).") var mass = 1.0
    @Option(parsing: .unconditional, help: "The point x1,x2,… (required).") var x: String
    @Option(parsing: .unconditional, help: "Extra coordinate z > 0 (required).") var z: Double

    func validate() throws {
        guard mass > 0, mass.isFinite else { throw ValidationError("--m must be finite and > 0") }
        guard z > 0, z.isFinite else { throw ValidationError("--z must be finite and > 0") }
        try SizeCheck.check(dataOptions, [])
    }

    struct Output: Encodable {
        var mass: Double, z: Double
        var weights: [Double]
        var logWeights: [Double]
        var velocity: [Double]
        var potential: Double
        var density: Double
        /// d(ln W)/dz = g.
        var logWeightRate: Double
        var ex: [Double], ez: Double
    }

    func run() throws {
        let data = try dataOptions.dataset()
        let model = try YukawaFlowModel(points: data.points, mass: mass)
        let point = try parseNumbers(x, option: "--x")
        guard point.count == data.d else { throw ValidationError("--x has \(point.count) coordinates, the data have d = \(data.d)") }
        let e = try model.evaluate(at: point, z: z)
        let lw = try model.logWeights(at: point, z: z)
        let out = Output(mass: mass, z: z, weights: e.weights, logWeights: lw, velocity: e.velocity, potential: e.potential,
                         density: e.density, logWeightRate: e.growthRate, ex: e.ex, ez: e.ez)
        if output.json {
            try printJSON(command: "genphys field", data: DataDescription(spec: try dataOptions.spec().description, n: data.n, d: data.d),
                          parameters: ["m": .number(mass), "z": .number(z)], results: out)
            return
        }
        let f = { (v: [Double]) in v.map { String(format: "%.10g", $0) }.joined(separator: " ") }
        print("Yukawa m = \(mass)  z = \(z)")
        print("  weights       \(f(e.weights))")
        print("  ln weights    \(f(lw))")
        print("  dx/dz         \(f(e.velocity))")
        print("  φ \(String(format: "%.10g", e.potential))  q_z \(String(format: "%.10g", e.density))  g = d ln W/dz \(String(format: "%.10g", e.growthRate))")
    }
}

struct GenPhysSample: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Weighted particles: exact prior q_{z_max}, transport to z_min (gsl_odeiv2 in ln z) with their log-weights.",
        usage: UsageText.line("genphys sample", "[--m <m>] [--samples <n>] [--z-max <z>] [--z-min <z>] [--rtol <tol>]", UsageText.data, UsageText.output, UsageText.threads),
        discussion: "Example: diffphys genphys sample --m 1.5 --data gmm2:d=2,n=5 --count 16 --json")

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var threadOptions: ThreadOptions
    @Option(name: .customLong("m"), parsing: .unconditional, help: "Screening mass m > 0 (default: 1).") var mass = 1.0
    @Option(name: .customLong("samples"), parsing: .unconditional, help: "Number of particles (default: 16).") var samplesOption: Int?
    /// `--count`: the former spelling of `--samples`, kept as a hidden alias.
    @Option(name: .customLong("count"), parsing: .unconditional, help: .private) var legacyCount: Int?
    var count: Int { samplesOption ?? legacyCount ?? 16 }
    @Option(parsing: .unconditional, help: "Start plane z_max (default: 20).") var zMax = 20.0
    @Option(parsing: .unconditional, help: "Final plane z_min (default: 0.001).") var zMin = 1e-3
    @Option(parsing: .unconditional, help: "Relative tolerance of the ODE (default: 1e-8).") var rtol = 1e-8

    func validate() throws {
        guard mass > 0, mass.isFinite else { throw ValidationError("--m must be finite and > 0") }
        guard count >= 1 else { throw ValidationError("--count must be ≥ 1") }
        guard zMin > 0, zMax.isFinite, zMax > zMin else { throw ValidationError("need z_max > z_min > 0") }
        guard rtol > 0 else { throw ValidationError("--rtol must be > 0") }
        let (n, d) = SizeCheck.shape(dataOptions)
        try SizeCheck.check(dataOptions, [SizeCheck.item("--samples", count, Double(count) * (6 * d + n))])
    }

    struct Output: Encodable {
        var data: String, mass: Double, zMax: Double, zMin: Double, seed: UInt64
        var samples: [[Double]]
        /// ln W of each particle (d ln W/dz = g integrated from z_max down to z_min, starting at 0).
        var logWeights: [Double]
        /// W normalised to sum 1.
        var normalisedWeights: [Double]
        /// (Σ W)²/Σ W².
        var effectiveSampleSize: Double
        var nearestTrainingPoint: [Int]
        var nearestDistance: [Double]
    }

    func run() throws {
        let data = try dataOptions.dataset()
        let model = try YukawaFlowModel(points: data.points, mass: mass)
        let starts = try model.samplePrior(z: zMax, count: count, seed: dataOptions.seed)
        let progress = ProgressReporter("genphys sample", total: count, enabled: output.showProgress)
        let (zMax, zMin, rtol) = (self.zMax, self.zMin, self.rtol)
        let parts = try Parallel.mapChunks(count: count, chunkSize: 1, threads: threadOptions.count, makeWorkspace: { () }) { _, range in
            let r = try model.transport(Array(starts.rowSlice(range.lowerBound)), zMax: zMax, zMin: zMin, relativeTolerance: rtol)
            progress.advance(1)
            return r
        }
        // The denoising step at z_min: x(0) = Σ w_i y_i.
        let samples = try parts.map { try model.evaluate(at: $0.x, z: zMin) }.map { e -> [Double] in
            (0..<data.d).map { j in (0..<data.n).reduce(0.0) { $0 + e.weights[$1] * data.points[$1, j] } }
        }
        let lw = parts.map(\.logWeight)
        let top = lw.max() ?? 0
        let w = lw.map { exp($0 - top) }, total = w.reduce(0, +)
        let nw = w.map { $0 / total }
        let ess = total * total / w.map { $0 * $0 }.reduce(0, +)
        let nn = NearestNeighbours.find(samples: Matrix(rows: count, columns: data.d, storage: samples.flatMap { $0 }), points: data.points)
        let out = Output(data: try dataOptions.spec().description, mass: mass, zMax: zMax, zMin: zMin, seed: dataOptions.seed,
                         samples: samples, logWeights: lw, normalisedWeights: nw, effectiveSampleSize: ess,
                         nearestTrainingPoint: nn.map(\.nearest), nearestDistance: nn.map(\.nearestDistance))
        if output.json {
            try printJSON(command: "genphys sample", data: DataDescription(spec: out.data, n: data.n, d: data.d),
                          parameters: ["m": .number(mass), "samples": .integer(count), "zMax": .number(zMax), "zMin": .number(zMin),
                                       "rtol": .number(rtol), "seed": .seed(dataOptions.seed)], results: out)
            return
        }
        print("Yukawa m = \(mass)  data \(out.data)  z: \(zMax) → \(zMin)  ESS \(String(format: "%.2f", ess)) of \(count)")
        for (i, s) in samples.enumerated() {
            print(String(format: "  %4d  ln W %+.4f  w %.4f  nearest %5d  dist %.3e  ", i, lw[i], nw[i], nn[i].nearest, nn[i].nearestDistance)
                  + s.prefix(4).map { String(format: "%.5f", $0) }.joined(separator: " ") + (s.count > 4 ? " …" : ""))
        }
    }
}

struct GenPhysCollapse: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collapse",
        abstract: "Collapse fraction P_{x~q_z}[max w ≥ 0.99] against z for several masses, beside PFGM (D = 1, r = z).",
        usage: UsageText.line("genphys collapse", "[--m <m,…>] [--samples <n>] [--z-max <z>] [--z-min <z>] [--points <n>]", UsageText.data, UsageText.output, UsageText.threads),
        discussion: "Example: diffphys genphys collapse --m 0.1,1,4 --data gmm2:d=8,n=20 --samples 400")

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var threadOptions: ThreadOptions
    @Option(name: .customLong("m"), parsing: .unconditional, help: "Screening masses, a comma list (default: 0.1,1,4).") var masses = "0.1,1,4"
    @Option(parsing: .unconditional, help: "Prior draws per z level (default: 400).") var samples = 400
    @Option(parsing: .unconditional, help: "Largest z (default: 20).") var zMax = 20.0
    @Option(parsing: .unconditional, help: "Smallest z (default: 0.01).") var zMin = 0.01
    @Option(parsing: .unconditional, help: "Number of log-spaced z levels (default: 24).") var points = 24

    func validate() throws {
        _ = try parseMasses(masses)
        guard samples >= 2, points >= 3 else { throw ValidationError("need --samples ≥ 2 and --points ≥ 3") }
        guard zMin > 0, zMax.isFinite, zMax > zMin else { throw ValidationError("need z_max > z_min > 0") }
        try SizeCheck.check(dataOptions, [SizeCheck.item("--samples", samples, Double(samples) * Double(points) * 64)])
    }

    struct Row: Encodable {
        /// nil: PFGM (D = 1), the m → 0 limit.
        var mass: Double?
        var z: [Double]
        var collapseFraction: [Measured]
        var zCollapseHalf: Measured?
    }

    func run() throws {
        let data = try dataOptions.dataset()
        let zs = PoissonFlowAnalysis.levels(from: zMax, to: zMin, count: points)
        var rows: [Row] = []
        for m in try parseMasses(masses) {
            let c = try YukawaFlowModel(points: data.points, mass: m).collapseCurve(zs: zs, samples: samples, seed: dataOptions.seed)
            rows.append(Row(mass: m, z: zs, collapseFraction: c.points.map { $0.collapseFraction.measured },
                            zCollapseHalf: c.zCollapseHalf?.measured))
        }
        let pfgm = try PoissonFlowAnalysis.marginalCurves(model: try PoissonFlowModel(points: data.points, D: 1), sigmas: zs, samples: samples,
                                                          seed: dataOptions.seed, threads: threadOptions.count)
        rows.append(Row(mass: nil, z: zs, collapseFraction: pfgm.points.map { $0.collapseFraction.measured },
                        zCollapseHalf: pfgm.sigmaCollapseHalf?.measured))
        if output.json {
            try printJSON(command: "genphys collapse", data: DataDescription(spec: try dataOptions.spec().description, n: data.n, d: data.d),
                          parameters: ["m": .text(masses), "samples": .integer(samples), "zMax": .number(zMax), "zMin": .number(zMin),
                                       "points": .integer(points), "seed": .seed(dataOptions.seed)], results: ["curves": rows])
            return
        }
        print("data \(try dataOptions.spec())  n = \(data.n), N = \(data.d)   z where P(max w ≥ 0.99) = ½")
        for r in rows {
            let label = r.mass.map { "m = \($0)" } ?? "PFGM (m → 0, D = 1)"
            print("  " + label.padding(toLength: 22, withPad: " ", startingAt: 0)
                  + (r.zCollapseHalf.map { String(format: "z½ = %.4g ± %.2g", $0.value, $0.stderr ?? .nan) } ?? "z½ not crossed"))
        }
    }
}
