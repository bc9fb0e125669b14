import ArgumentParser
import DiffusionPhysics
import Foundation
import GSLKit

struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Generate samples with the backward SDE or the probability-flow ODE and the exact score.",
        usage: UsageText.line("sample", UsageText.data, UsageText.threads, UsageText.sde, "[--out <file.csv|.npy>] [--json] [--samples <n>] [--sampler <sde|ode>] [--final <draw|mean|none>]"),
        discussion: """
        The SDE runs on a geometric grid from T down to t_min (exact-OU or Euler–Maruyama steps, Docs/Theory.md §1.4), \
        the ODE through gsl_odeiv2 in the VE log-sigma variables. Each sample's nearest training point and \
        distance are reported (empirical score). Trajectory i uses random stream (seed, i).
        Example: diffphys sample --data gmm2:d=8,n=50 --samples 10 --sampler sde --out samples.csv
        """)

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var sde: SDEOptions
    @OptionGroup var file: SampleFileOptions
    @OptionGroup var format: JSONOptions
    @Flag(help: "No progress lines on stderr (default: progress with an ETA on stderr for runs over 2 s; --json also silences it).") var quiet = false
    @Option(name: .customLong("samples"), parsing: .unconditional, help: "Number of samples to generate (default: 16).") var samplesOption: Int?
    /// `--count`: the former spelling of `--samples`, kept as a hidden alias.
    @Option(name: .customLong("count"), parsing: .unconditional, help: .private) var legacyCount: Int?
    var count: Int { samplesOption ?? legacyCount ?? 16 }
    @Option(help: "Sampler: sde (backward SDE) or ode (probability flow).") var sampler: SamplerKind = .sde
    @OptionGroup var local: LocalScoreOptions
    @Option(help: "Final step at t_min: draw (posterior sample), mean (Tweedie), none.") var final: FinalStep = .posteriorDraw

    enum SamplerKind: String, ExpressibleByArgument, CaseIterable { case sde, ode }

    var json: Bool { format.json }
    var out: String? { file.out }

    func validate() throws {
        if samplesOption != nil, legacyCount != nil { throw ValidationError("give --samples once (--count is its former spelling)") }
        guard count >= 1 else { throw ValidationError("--samples must be ≥ 1") }
        let (n, d) = SizeCheck.shape(dataOptions), c = Double(count)
        try SizeCheck.check(dataOptions, [SizeCheck.item("--samples", count, c * (6 * d + n)),
                                          SizeCheck.item("--steps", sde.steps, 4 * Double(sde.steps))])
    }

    struct SampleRecord: Encodable {
        var sample: [Double]
        var nearestTrainingPoint: Int?
        var nearestDistance: Double?
    }

    struct Output: Encodable {
        var sampler: String
        var horizon: Double
        var tMin: Double
        var samples: [SampleRecord]
    }

    func run() throws {
        let spec = try dataOptions.spec()
        if local.machine != nil {
            let data = try spec.load(seed: dataOptions.seed)
            return try runLocal(try local.model(data)!, data: data)
        }
        let choice = try ModelChoice(spec: spec, seed: dataOptions.seed)
        let progress = ProgressReporter("sample", total: count, enabled: !json && !quiet)
        let result = try generate(choice.model, progress: progress)
        var neighbours: [NeighbourReport]? = nil
        if case .empirical(_, let data) = choice {
            neighbours = NearestNeighbours.find(samples: result.samples, points: data.points)
        }
        try file.write(result.samples)
        let horizon = sde.resolvedHorizon, tMin = sde.tMin
        let records = (0..<count).map { i in
            SampleRecord(sample: result.samples.row(i), nearestTrainingPoint: neighbours?[i].nearest,
                         nearestDistance: neighbours?[i].nearestDistance)
        }
        if json {
            let n: Int? = { if case .empirical(_, let data) = choice { return data.n } else { return nil } }()
            try printJSON(command: "sample", data: DataDescription(spec: spec.description, n: n, d: result.samples.columns),
                          parameters: ["samples": .integer(count), "sampler": .text(sampler.rawValue), "final": .text(final.rawValue),
                                       "horizon": .number(horizon), "tMin": .number(tMin), "steps": .integer(sde.steps),
                                       "grid": .text(sde.grid.rawValue), "scheme": .text(sde.scheme.rawValue), "seed": .seed(dataOptions.seed)],
                          results: Output(sampler: sampler.rawValue, horizon: horizon, tMin: tMin, samples: records))
        } else {
            print("data: \(spec)   sampler: \(sampler.rawValue)\(sampler == .sde ? " (\(sde.scheme.rawValue), \(sde.steps) \(sde.grid.rawValue) steps)" : "")   T = \(horizon) → t_min = \(tMin)   seed \(dataOptions.seed)")
            for (i, r) in records.enumerated() {
                let head = r.sample.prefix(4).map { String(format: "%.4f", $0) }.joined(separator: ", ")
                let nn = r.nearestTrainingPoint.map { "   nearest training point \($0) at distance \(String(format: "%.4g", r.nearestDistance!))" } ?? ""
                print("sample \(i): [\(head)\(r.sample.count > 4 ? ", …" : "")]\(nn)")
            }
            if let out { print("wrote \(count) samples to \(out)") }
        }
    }

    func generate<Model: ScoreModel>(_ model: Model, progress: ProgressReporter) throws -> SamplerResult {
        switch sampler {
        case .sde:
            return try BackwardSDE(model: model, scheme: sde.scheme, finalStep: final, threads: threadOptions.count)
                .run(grid: try sde.settings.timeGrid(), start: .prior(count: count), seed: dataOptions.seed, progress: progress)
        case .ode:
            return try ProbabilityFlowODE(model: model, threads: threadOptions.count)
                .run(from: sde.resolvedHorizon, to: sde.tMin, start: .prior(count: count), seed: dataOptions.seed,
                     finalStep: final, progress: progress)
        }
    }
}
