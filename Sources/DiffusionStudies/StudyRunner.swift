import DiffusionPhysics
import Foundation

/// How a measurement must relate to its prediction.
public enum CheckRelation: String, Codable, Sendable {
    /// |measurement − prediction| ≤ tolerance.
    case equal = "="
    /// measurement ≤ prediction + tolerance (the prediction is an upper bound).
    case atMost = "<="
}

/// What kind of claim a study check makes (Docs/Conventions.md "Kinds of claim").
public enum ClaimKind: String, Codable, Sendable, CaseIterable {
    /// An exact identity (e.g. E[Y2] = E[w_origin]): passes within k SE of zero.
    case identity
    /// A theorem or proven bound: checked only as what is proven (the only kind a one-sided
    /// check against a theoretical bound may have).
    case theorem
    /// An asymptotic (large-d / large-n) prediction, compared within its finite-size window.
    case asymptotic
    /// A measurement beside the papers' numbers, a heuristic prediction or another measurement;
    /// no verdict beyond the stated tolerance.
    case empirical

    /// The label printed in reports and results/index.md.
    public var label: String {
        switch self {
        case .identity: return "exact identity"
        case .theorem: return "theorem / bound"
        case .asymptotic: return "asymptotic prediction"
        case .empirical: return "empirical comparison"
        }
    }
}

/// One prediction beside its measurement, with the verdict that follows from the numbers and
/// the kind of claim it is.
public struct StudyCheck: Codable, Sendable, Equatable {
    public var name: String
    public var kind: ClaimKind
    public var prediction: Double
    public var measurement: Double
    public var standardError: Double?
    public var tolerance: Double
    public var relation: CheckRelation
    public var agrees: Bool

    /// A one-sided check (`relation: .atMost`) is a bound check: allowed for a theorem, or for an
    /// empirical ordering of two measurements, never for an identity or an asymptotic prediction.
    public init(_ name: String, kind: ClaimKind, prediction: Double, measurement: Double, standardError: Double? = nil,
                tolerance: Double, relation: CheckRelation = .equal) {
        precondition(relation == .equal || kind == .theorem || kind == .empirical,
                     "a one-sided check is a bound: only a theorem (or an empirical ordering) may use relation atMost")
        self.name = name
        self.kind = kind
        self.prediction = prediction
        self.measurement = measurement
        self.standardError = standardError
        self.tolerance = tolerance
        self.relation = relation
        agrees = StudyCheck.verdict(prediction: prediction, measurement: measurement, tolerance: tolerance, relation: relation)
    }

    public static func verdict(prediction: Double, measurement: Double, tolerance: Double, relation: CheckRelation) -> Bool {
        guard measurement.isFinite, prediction.isFinite else { return false }
        switch relation {
        case .equal: return abs(measurement - prediction) <= tolerance
        case .atMost: return measurement <= prediction + tolerance
        }
    }
}

/// What a study produced.
public struct StudyOutcome: Sendable {
    public var checks: [StudyCheck] = []
    /// Data files written (relative to the study folder).
    public var dataFiles: [String] = []
    /// The figure (relative to the study folder).
    public var figure: String?
    /// Extra lines for the report (findings, caveats).
    public var notes: [String] = []
    public init() {}
}

/// Everything a study needs to run.
public struct StudyContext: Sendable {
    /// The study's own output folder.
    public var directory: String
    public var seed: UInt64
    public var threads: Int
    public var quick: Bool
    public var showProgress: Bool
    /// The figure formats to write (the first is the one the report embeds).
    public var figureFormats: [Gnuplot.Format] = [.png]

    public init(directory: String, seed: UInt64, threads: Int, quick: Bool, showProgress: Bool, figureFormats: [Gnuplot.Format] = [.png]) {
        (self.directory, self.seed, self.threads, self.quick, self.showProgress) = (directory, seed, threads, quick, showProgress)
        self.figureFormats = figureFormats.isEmpty ? [.png] : figureFormats
    }

    public func path(_ file: String) -> String { directory + "/" + file }

    /// Renders a study figure named `stem` (no extension) in every chosen format, with its `.gp`
    /// script beside it (data paths relative to the study folder); returns the first file's name.
    @discardableResult
    public func figure(_ stem: String, script: String, width: Int = 900, height: Int = 600) throws -> String {
        let file = try Gnuplot.render(script: script, stem: path(stem), formats: figureFormats, width: width, height: height)
        return (file as NSString).lastPathComponent
    }

    public func progress(_ label: String, total: Int) -> ProgressReporter {
        ProgressReporter(label, total: total, enabled: showProgress)
    }
}

/// A measurement that a study file can name.
public protocol StudyKind {
    static var measurement: String { get }
    static func run(_ parameters: StudyParameters, context: StudyContext) throws -> StudyOutcome
}

/// Runs study declarations and writes their reports.
public enum StudyRunner {
    /// The study kinds known to the engine, by `measurement` name.
    public static var kinds: [String: any StudyKind.Type] {
        let all: [any StudyKind.Type] = [RegimesStudy.self, SpeciationGMMStudy.self, CollapseGMMStudy.self, SpeciationRealStudy.self,
                                         CollapseRealStudy.self, MemorizationNoveltyStudy.self, TheoryPanelsStudy.self, PoissonFlowStudy.self,
                                         PFGMClaimsStudy.self, CurieWeissStudy.self, LocalScoresStudy.self]
        return Dictionary(uniqueKeysWithValues: all.map { ($0.measurement, $0) })
    }

    /// The `Analyses/` folder (beside `Data/`): `$DIFFPHYS_ANALYSES`, else found like `Data/`.
    public static func analysesDirectory() throws -> String {
        if let env = ProcessInfo.processInfo.environment["DIFFPHYS_ANALYSES"], !env.isEmpty { return env }
        let data = try DataDirectory.locate()
        return URL(fileURLWithPath: data).deletingLastPathComponent().appendingPathComponent("Analyses").path
    }

    /// All study files, sorted by name.
    public static func declarations(in directory: String) throws -> [StudyDeclaration] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let decls = try files.filter { $0.hasSuffix(".json") }.sorted().map { try StudyDeclaration.load(path: directory + "/" + $0) }
        guard !decls.isEmpty else { throw StudyError("no study files (*.json) in \(directory)") }
        return decls
    }

    /// The manifest of a study folder: everything that determines its rows (Output/RunManifest).
    public static func manifest(_ study: StudyDeclaration, parameters: StudyParameters, quick: Bool, seed: UInt64) -> RunManifest {
        RunManifest(["study": study.name, "measurement": study.measurement, "seed": "\(seed)", "quick": quick ? "quick" : "full",
                     "parameters": parameters.values.keys.sorted().map { "\($0)=\(parameters.values[$0]!)" }.joined(separator: ";")])
    }

    /// Runs one study into `<out>/<name>/`, writing `checks.csv`, `report.md` and its own files.
    /// The folder's manifest must match (else the run refuses, naming the differing fields);
    /// `fresh` removes its earlier rows first.
    public static func run(_ study: StudyDeclaration, quick: Bool, out: String, seed: UInt64, threads: Int,
                           showProgress: Bool, fresh: Bool = false,
                           figureFormats: [Gnuplot.Format] = [.png]) throws -> (StudyOutcome, seconds: Double) {
        guard let kind = kinds[study.measurement] else {
            throw StudyError("study \(study.name): unknown measurement '\(study.measurement)' (known: \(kinds.keys.sorted().joined(separator: ", ")))")
        }
        let dir = out + "/" + study.name
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw OutputError("cannot create folder \(dir): \(FileErrors.cause(error))")
        }
        let start = Date()
        let context = StudyContext(directory: dir, seed: seed, threads: threads, quick: quick, showProgress: showProgress,
                                   figureFormats: figureFormats)
        let parameters = study.resolved(quick: quick)
        let existing = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { !$0.hasPrefix(".") && $0 != RunManifest.fileName }
        try manifest(study, parameters: parameters, quick: quick, seed: seed).claim(directory: dir, rowFiles: existing, fresh: fresh)
        let outcome = try kind.run(parameters, context: context)
        let seconds = Date().timeIntervalSince(start)
        var table = CSVTable(header: ["check", "kind", "prediction", "measurement", "stderr", "tolerance", "relation", "agrees"])
        for c in outcome.checks {
            table.append([.text(c.name), .text(c.kind.rawValue), .number(c.prediction), .number(c.measurement), .number(c.standardError ?? .nan),
                          .number(c.tolerance), .text(c.relation.rawValue), .text(c.agrees ? "agrees" : "disagrees")])
        }
        try table.write(to: dir + "/checks.csv")
        try writeText(report(study, parameters: parameters, outcome: outcome, quick: quick, seed: seed, seconds: seconds),
                      to: dir + "/report.md")
        return (outcome, seconds)
    }

    static func format(_ v: Double) -> String {
        if !v.isFinite { return "\(v)" }
        return abs(v) >= 1e4 || (abs(v) < 1e-3 && v != 0) ? String(format: "%.4e", v) : String(format: "%.4f", v)
    }

    static func report(_ study: StudyDeclaration, parameters: StudyParameters, outcome: StudyOutcome, quick: Bool,
                       seed: UInt64, seconds: Double) -> String {
        var lines = ["# \(study.title)", "", "**Claim.** \(study.claim)", "",
                     "**Measurement:** `\(study.measurement)`. **Prediction:** \(study.prediction)"]
        if let s = study.source { lines += ["", "**Source:** \(s)"] }
        lines += ["", "Run: \(quick ? "quick (reduced sizes)" : "full size"), seed \(seed), \(String(format: "%.1f", seconds)) s. "
                  + "Conventions: t = forward time, Δ_t = 1 − e^{−2t} (Docs/Theory.md §0).", "",
                  "Parameters: " + parameters.values.keys.sorted().map { "\($0) = \(parameters.values[$0]!)" }.joined(separator: "; "),
                  "", "| check | kind | prediction | measurement | SE | tolerance | verdict |", "|---|---|---|---|---|---|---|"]
        for c in outcome.checks {
            lines.append("| \(c.name) | \(c.kind.label) | \(c.relation == .atMost ? "≥ " : "")\(format(c.prediction)) | \(format(c.measurement)) | \(c.standardError.map(format) ?? "–") | \(format(c.tolerance)) | \(c.agrees ? "agrees" : "**disagrees**") |")
        }
        if let f = outcome.figure {
            lines += ["", "![\(study.title)](\(f))", "",
                      "Figure: \(Gnuplot.errorBarConvention); re-render with `gnuplot \((f as NSString).deletingPathExtension).gp` in this folder."]
        }
        if !outcome.dataFiles.isEmpty { lines += ["", "Data: " + outcome.dataFiles.map { "`\($0)`" }.joined(separator: ", ") + ", `checks.csv`."] }
        if !outcome.notes.isEmpty { lines += [""] + outcome.notes.map { "- \($0)" } }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The index report of `reproduce all`: every check of every study.
    /// The lines `reproduce` prints for one finished study: one per check (prediction,
    /// measurement ± SE, tolerance, verdict), then where its report and figure are.
    public static func summaryLines(_ study: StudyDeclaration, _ outcome: StudyOutcome, seconds: Double, out: String) -> [String] {
        func fmt(_ v: Double) -> String { String(format: abs(v) < 1e-3 && v != 0 ? "%.3e" : "%.4f", v) }
        let checks = outcome.checks.map { c in
            "\(study.name): [\(c.kind.label)] \(c.name): predicted \(fmt(c.prediction)), measured \(fmt(c.measurement))\(c.standardError.map { " ± \(fmt($0))" } ?? "") (tolerance \(fmt(c.tolerance))) → \(c.agrees ? "agrees" : "DISAGREES")"
        }
        let report = "\(study.name): report \(out)/\(study.name)/report.md\(outcome.figure.map { ", figure \(out)/\(study.name)/\($0)" } ?? "") (\(String(format: "%.1f", seconds)) s)"
        return checks + [report]
    }

    public static func writeIndex(_ results: [(StudyDeclaration, StudyOutcome, Double)], out: String, quick: Bool) throws {
        var lines = ["# DiffusionPhysics — lecture results reproduced", "",
                     "Mode: \(quick ? "quick (reduced sizes)" : "full size"). Each study has its own folder with data, figure and report.", "",
                     "| study | check | kind | prediction | measurement | SE | tolerance | verdict |", "|---|---|---|---|---|---|---|---|"]
        var agree = 0, total = 0
        for (s, o, _) in results {
            for c in o.checks {
                total += 1
                if c.agrees { agree += 1 }
                lines.append("| [\(s.name)](\(s.name)/report.md) | \(c.name) | \(c.kind.label) | \(c.relation == .atMost ? "≥ " : "")\(format(c.prediction)) | \(format(c.measurement)) | \(c.standardError.map(format) ?? "–") | \(format(c.tolerance)) | \(c.agrees ? "agrees" : "**disagrees**") |")
            }
        }
        lines += ["", "\(agree) of \(total) checks agree.", "", "| study | wall time (s) |", "|---|---|"]
        lines += results.map { "| \($0.0.name) | \(String(format: "%.1f", $0.2)) |" }
        try writeText(lines.joined(separator: "\n") + "\n", to: out + "/index.md")
    }
}
