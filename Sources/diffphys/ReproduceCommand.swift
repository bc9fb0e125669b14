import ArgumentParser
import DiffusionPhysics
import DiffusionStudies
import Foundation

struct ReproduceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reproduce",
        abstract: "Regenerate the lecture results: one study per figure, with data, plot and a predicted-vs-measured report.",
        discussion: """
        Studies are the declarative files in Analyses/ (parameters, measurement, prediction, tolerance, claim). \
        Each writes <out>/<name>/ with CSV data, a figure (gnuplot; PNG, PDF or SVG by --figure-format) with its .gp script and report.md; `all` also writes \
        <out>/index.md, a table of every prediction beside its measurement with its verdict.
        Examples: diffphys reproduce --list;  diffphys reproduce all --quick --out results
        """)

    @Argument(help: "A study name, or 'all' (default: none; give one, or --list).") var study: String?
    @Flag(help: "List the studies with their claims (default: off).") var list = false
    @Flag(help: "Reduced sizes: every study within a few minutes in total on 2 cores (default: full size).") var quick = false
    @Option(help: "Output folder.") var out = "results"
    @Option(help: "Folder of study files (default: the package's Analyses/).") var analyses: String?
    @Option(parsing: .unconditional, help: "Random seed.") var seed: UInt64 = 1
    @Flag(help: "Start each study folder over (remove its earlier rows) instead of resuming (default: resume).") var fresh = false
    @Flag(help: "No progress lines on stderr (default: progress with an ETA on stderr for parts over 2 s).") var quiet = false
    @Option(name: .customLong("figure-format"), help: ArgumentHelp("Figure formats, a comma list of png, pdf, svg (default: png); the report embeds the first.", valueName: "list"))
    var figureFormat = "png"
    @OptionGroup var threadOptions: ThreadOptions

    /// The --figure-format list, parsed.
    var figureFormats: [Gnuplot.Format] {
        get throws {
            try figureFormat.split(separator: ",").map { f in
                guard let format = Gnuplot.Format(rawValue: f.trimmingCharacters(in: .whitespaces).lowercased()) else {
                    throw ValidationError("--figure-format takes png, pdf and svg (comma separated), got '\(f)'")
                }
                return format
            }
        }
    }

    func validate() throws {
        if !list && study == nil { throw ValidationError("name a study (or 'all'), or use --list") }
        if try figureFormats.isEmpty { throw ValidationError("--figure-format needs at least one of png, pdf, svg") }
    }

    func run() throws {
        let dir = try analyses ?? StudyRunner.analysesDirectory()
        let all = try StudyRunner.declarations(in: dir)
        if list {
            let width = (all.map(\.name.count).max() ?? 0) + 2
            for s in all { print(s.name + String(repeating: " ", count: width - s.name.count) + s.claim) }
            return
        }
        let chosen = study == "all" ? all : all.filter { $0.name == study }
        guard !chosen.isEmpty else {
            throw ValidationError("no study named '\(study!)' (known: \(all.map(\.name).joined(separator: ", ")))")
        }
        var results: [(StudyDeclaration, StudyOutcome, Double)] = []
        for s in chosen {
            note("study \(s.name): \(s.title)\(quick ? " [quick]" : "")")
            let (outcome, seconds) = try StudyRunner.run(s, quick: quick, out: out, seed: seed, threads: threadOptions.count, showProgress: !quiet, fresh: fresh,
                                                         figureFormats: try figureFormats)
            results.append((s, outcome, seconds))
            StudyRunner.summaryLines(s, outcome, seconds: seconds, out: out).forEach { print($0) }
        }
        if study == "all" {
            try StudyRunner.writeIndex(results, out: out, quick: quick)
            print("index: \(out)/index.md")
        }
    }

}
