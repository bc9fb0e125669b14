import ArgumentParser
import DiffusionPhysics
import Foundation
import GSLKit

/// `--data SPEC`, `--labels`, `--label-column` and `--seed`, shared by every command that reads a dataset.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Dataset spec.", discussion: """
        gaussian:d=64,n=1000,sigma=1 | gmm2:d=64,n=1000,mtilde=1,sigma=1 (omit n for the population law) | \
        fashion-mnist:classes=1,9,per-class=1000 | digits:classes=0,1 | curie-weiss:N=1000,beta=1.5,n=2000 | a .csv, .npy or IDX file path \
        (labels: --labels, --label-column, or a CSV header column named label).
        """, valueName: "spec"))
    var data: String = "gmm2:d=256,n=2000,mtilde=1,sigma=1"

    @Option(help: ArgumentHelp("Class labels of a data file, one per row (default: none).", discussion: """
        .npy (integers or strings, shape (n,)), .csv/.txt (one column, or pick one with --label-column), \
        or IDX …-labels-idx1-ubyte[.gz]. Docs/YourData.md.
        """, valueName: "file"))
    var labels: String?

    @Option(help: ArgumentHelp("The CSV column holding the labels: a header name or a 0-based index, with or without header (default: a header column named label).",
                               valueName: "name|index"))
    var labelColumn: String?

    @Option(parsing: .unconditional, help: "Random seed, a whole number ≥ 0 (results depend only on the seed, not on the thread count).")
    var seed: UInt64 = 1

    func validate() throws {
        if let labels, labels.isEmpty { throw ValidationError("--labels needs a file path") }
        if let labelColumn, labelColumn.isEmpty { throw ValidationError("--label-column needs a column name or index") }
    }

    /// The `--data` spec with `--labels` / `--label-column` attached.
    func spec() throws -> DatasetSpec { try DatasetSpec.parse(data).withLabels(labels, column: labelColumn) }

    /// The finite dataset (throws for population-only specs).
    func dataset() throws -> Dataset { try spec().load(seed: seed) }
}

/// `--json`: commands whose only output choice is JSON vs text.
struct JSONOptions: ParsableArguments {
    @Flag(help: "Print machine-readable JSON (the Docs/Schema.md envelope) instead of text (default: text).")
    var json = false
}

/// `--json` and `--plot`, shared by commands that print results and can draw them.
struct OutputOptions: ParsableArguments {
    @OptionGroup var format: JSONOptions

    @Option(help: "Write a figure to this path, through gnuplot: .png, .pdf or .svg, the format chosen by the extension (default: no figure).")
    var plot: String?

    @Flag(help: "No progress lines on stderr (default: progress with an ETA on stderr for runs over 2 s; --json also silences it).")
    var quiet = false

    var json: Bool { format.json }

    /// Progress on stderr unless --quiet or --json.
    var showProgress: Bool { !quiet && !format.json }

    func validate() throws {
        if let plot, !["png", "pdf", "svg"].contains((plot as NSString).pathExtension.lowercased()) {
            throw ValidationError("--plot must end in .png, .pdf or .svg (the extension chooses the format), got \(plot)")
        }
    }
}

/// `--out FILE` for commands that write their samples to a table: .csv or .npy.
struct SampleFileOptions: ParsableArguments {
    @Option(help: "Write samples to this .csv or .npy file (default: none).")
    var out: String?

    func validate() throws {
        if let out, !(out.hasSuffix(".csv") || out.hasSuffix(".npy")) {
            throw ValidationError("--out must end in .csv or .npy")
        }
    }

    /// Writes `samples` (one row each) to `out`, if given: atomically (a temporary name renamed
    /// when complete), creating missing folders as `--plot` does.
    func write(_ samples: Matrix<Double>) throws {
        guard let out else { return }
        try AtomicFile.replace(out) { tmp in
            if out.hasSuffix(".npy") { try NPYLoader.write(samples, to: tmp) } else { try CSVLoader.write(samples, header: false, to: tmp) }
        }
    }
}

/// The backward-SDE options (`--horizon`, `--t-min`, `--steps`, `--grid`, `--scheme`) → `SDESettings`,
/// with the library's one set of defaults.
struct SDEOptions: ParsableArguments {
    @Option(name: .customLong("horizon"), parsing: .unconditional,
            help: "Start time T of backward trajectories, x(T) ~ N(0, I) (default: 6; speciation: max(½ln Λ + 3, t_max + 1)).")
    var horizonOption: Double?

    /// `--T`: the former spelling of `--horizon`, kept as a hidden alias.
    @Option(name: .customLong("T"), parsing: .unconditional, help: .private)
    var legacyHorizon: Double?

    var horizon: Double? { horizonOption ?? legacyHorizon }

    @Option(parsing: .unconditional, help: "Final time t_min > 0 of backward trajectories.")
    var tMin: Double = SDESettings.defaultTMin

    @Option(parsing: .unconditional, help: "Steps of the backward grid T → t_min.")
    var steps: Int = SDESettings.defaultSteps

    @Option(help: "Backward grid: hybrid (h ≈ min(h_max, c·t), Docs/Engine.md \"Time grids\"), geometric or uniform.")
    var grid: GridKind = SDESettings.defaultGrid

    @Option(help: "SDE scheme: ou (exact-OU ancestral step) or euler (Euler–Maruyama).")
    var scheme: SDEScheme = SDESettings.defaultScheme

    var settings: SDESettings { SDESettings(horizon: horizon, tMin: tMin, steps: steps, grid: grid, scheme: scheme) }

    /// T as run: `--horizon`, or the library default.
    var resolvedHorizon: Double { settings.resolvedHorizon() }

    func validate() throws {
        if horizonOption != nil, legacyHorizon != nil { throw ValidationError("give --horizon once (--T is its former spelling)") }
        do { try settings.validate() } catch let e as ModelError { throw CLIError.validation(e) }
    }
}

/// A comma list of forward times t > 0 ("0.1,0.5,2"), parsed once.
struct TimeList: ExpressibleByArgument, Sendable, Equatable {
    var values: [Double]

    init(_ values: [Double]) { self.values = values }

    /// Fails unless every entry is a finite number > 0.
    init?(argument: String) {
        guard let v = try? parseNumbers(argument, option: "times"), !v.isEmpty, v.allSatisfy({ $0 > 0 }) else { return nil }
        values = v
    }

    var defaultValueDescription: String { values.map { "\($0)" }.joined(separator: ",") }
}

/// Defaults of `TimeGridOptions` for one command.
protocol TimeGridDefaults { static var points: Int { get } }

/// `--times`, `--auto`, `--points`: the measurement times of a command, given or chosen automatically.
struct TimeGridOptions<Defaults: TimeGridDefaults>: ParsableArguments {
    @Option(parsing: .unconditional, help: "Comma-separated forward times t > 0 (default: chosen automatically, as with --auto).")
    var times: TimeList?

    @Flag(help: "Choose the times around the predicted time (default: on when --times is absent).")
    var auto = false

    @Option(parsing: .unconditional, help: "Number of times for --auto.")
    var points: Int = Defaults.points

    func validate() throws {
        if auto, times != nil { throw ValidationError("give --times or --auto, not both") }
        guard points >= 2 else { throw ValidationError("--points must be ≥ 2") }
    }
}

/// Defaults of `SampleCountOptions` for one command.
protocol SampleCountDefaults { static var samples: Int { get } }

/// `--samples`: forward samples per time.
struct SampleCountOptions<Defaults: SampleCountDefaults>: ParsableArguments {
    @Option(parsing: .unconditional, help: "Forward samples per time.")
    var samples: Int = Defaults.samples

    func validate() throws {
        guard samples >= 2 else { throw ValidationError("--samples must be ≥ 2") }
    }
}

/// `--threads`.
struct ThreadOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Worker threads (default: DIFFPHYS_THREADS if set, else all cores).")
    var threads: Int?

    var count: Int { threads ?? Parallel.defaultThreads }

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be ≥ 1") }
    }
}

/// Parses "x1,x2,…" into finite numbers.
func parseNumbers(_ text: String, option: String) throws -> [Double] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    return try parts.map { p in
        guard let v = Double(p), v.isFinite else { throw ValidationError("\(option): '\(p)' is not a finite number") }
        return v
    }
}

/// Library errors as the CLI reports them: a `ModelError` whose parameter maps to a flag is
/// prefixed with that flag.
enum CLIError {
    /// Flags by library parameter name (`ModelError.parameter`).
    static let flags: [String: String] = [
        "t_min": "--t-min", "T": "--horizon", "steps": "--steps", "scheme": "--scheme", "grid": "--grid",
        "t": "--t", "point": "--x", "times": "--times", "pairs": "--pairs", "samples": "--samples",
        "trajectories": "--trajectories", "count": "--samples", "sigma_min": "--sigma-min", "sigma_max": "--sigma-max",
        "tolerance": "--rtol", "D": "--extra-dimensions", "sigma": "--sigma",
    ]

    /// The flag a library parameter is set by, if any.
    static func flag(for parameter: String?) -> String? { parameter.flatMap { flags[$0] } }

    /// A `ValidationError` naming the flag of the error's parameter.
    static func validation(_ e: ModelError) -> ValidationError {
        if let flag = flag(for: e.parameter) { return ValidationError("\(flag): \(e.message)") }
        return ValidationError(e.message)
    }

    /// A run-time error worded with the flag (printed as one line, without the usage text).
    struct Flagged: Error, CustomStringConvertible {
        var description: String
    }

    /// Maps errors thrown by a command's `run()` (see `DiffPhys.main`).
    static func map(_ error: Error) -> Error {
        if let e = error as? ModelError, let flag = flag(for: e.parameter) { return Flagged(description: "\(flag): \(e.message)") }
        // Foundation/POSIX errors: one line naming the file and the cause, never an NSError dump.
        if let e = error as? CocoaError {
            return Flagged(description: (e.filePath ?? e.url?.path).map { "\($0): " } .map { $0 + FileErrors.cause(e) } ?? FileErrors.cause(e))
        }
        if let e = error as? POSIXError { return Flagged(description: FileErrors.cause(e)) }
        if String(describing: type(of: error)).hasPrefix("NS") { return Flagged(description: FileErrors.cause(error)) }
        return error
    }
}

/// `--out FILE.csv`: the curves a command computes, as a camelCase CSV (Docs/Schema.md "CSV").
struct CurveFileOptions: ParsableArguments {
    @Option(name: .customLong("out"), help: "Write the computed curve(s) to this .csv file (default: none).")
    var out: String?

    func validate() throws {
        if let out, !out.hasSuffix(".csv") { throw ValidationError("--out must end in .csv") }
    }

    /// Writes `table` to `--out` (atomically), if given.
    func write(_ table: CSVTable) throws {
        guard let out else { return }
        try table.write(to: out)
    }
}

/// Prints a command's JSON: the schema envelope around `results` (Docs/Schema.md).
func printJSON<R: Encodable>(command: String, data: DataDescription?, parameters: [String: ParameterValue],
                             notes: [String: String] = [:], warnings: [String] = [], results: R) throws {
    print(try JSONOutput.encode(OutputEnvelope(command: command, data: data, parameters: parameters, notes: notes,
                                               warnings: warnings, results: results)))
}

extension ParameterValue {
    /// A seed (UInt64) as a parameter.
    static func seed(_ s: UInt64) -> ParameterValue { s <= UInt64(Int.max) ? .integer(Int(s)) : .text(String(s)) }
}

/// Fragments of the full usage lines (ArgumentParser shortens a usage with more than 12 options
/// to "<options>"; commands with many options state theirs in full).
enum UsageText {
    static let data = "[--data <spec>] [--labels <file>] [--label-column <name|index>] [--seed <seed>]"
    static let output = "[--json] [--plot <file>]"
    static let threads = "[--threads <threads>]"
    static let times = "[--times <times> | --auto] [--points <points>]"
    static let sde = "[--horizon <T>] [--t-min <t-min>] [--steps <steps>] [--grid <grid>] [--scheme <scheme>]"
    static let pfgmLevels = "[--extra-dimensions <D,…>] [--samples <n>] [--trajectories <n>] [--sigma-max <σ>] [--sigma-min <σ>] [--points <n>]"

    /// `diffphys <command> <parts…>`.
    static func line(_ command: String, _ parts: String...) -> String { (["diffphys", command] + parts).joined(separator: " ") }
}

/// Prints to standard error.
func note(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// A `ScoreModel` chosen from a dataset spec: the empirical score of the loaded data, or the
/// population score of a Gaussian/GMM spec without n.
enum ModelChoice {
    case empirical(EmpiricalScore, Dataset)
    case population(GaussianMixtureScore, GaussianMixtureModel)

    init(spec: DatasetSpec, seed: UInt64) throws {
        if spec.isPopulationOnly {
            guard let law = spec.population else { throw ValidationError("\(spec) has no population law") }
            self = .population(GaussianMixtureScore(law), law)
        } else {
            let data = try spec.load(seed: seed)
            self = .empirical(try EmpiricalScore(data), data)
        }
    }

    var model: any ScoreModel {
        switch self {
        case .empirical(let s, _): return s
        case .population(let s, _): return s
        }
    }
}

extension SDEScheme: ExpressibleByArgument {}
extension GridKind: ExpressibleByArgument {}
extension FinalStep: ExpressibleByArgument {}
