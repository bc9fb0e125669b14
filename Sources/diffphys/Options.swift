import ArgumentParser
import DiffusionPhysics
import Foundation
import GSLKit

/// `--data SPEC` and `--seed`, shared by every command that reads a dataset.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Dataset spec.", discussion: """
        gaussian:d=64,n=1000,sigma=1 | gmm2:d=64,n=1000,mtilde=1,sigma=1 (omit n for the population law) | \
        fashion-mnist:classes=1,9,per-class=1000 | digits:classes=0,1 | a .csv, .npy or IDX file path.
        """, valueName: "spec"))
    var data: String = "gmm2:d=256,n=2000,mtilde=1,sigma=1"

    @Option(help: "Random seed (results depend only on the seed, not on the thread count).")
    var seed: UInt64 = 1

    func spec() throws -> DatasetSpec { try DatasetSpec.parse(data) }

    /// The finite dataset (throws for population-only specs).
    func dataset() throws -> Dataset { try spec().load(seed: seed) }
}

/// `--json`, shared by commands that print results.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print machine-readable JSON instead of text.")
    var json = false

    @Option(help: "Write a figure (PNG, through gnuplot) to this path.")
    var plot: String?
}

/// `--threads`.
struct ThreadOptions: ParsableArguments {
    @Option(help: "Worker threads (default: all cores, or DIFFPHYS_THREADS).")
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
