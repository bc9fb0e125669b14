import DiffusionPhysics
import Foundation
import GSLKit
import XCTest

/// The output schema of Docs/Schema.md (issue 15): every command's JSON is the documented envelope
/// with the documented `results` keys; no "nan"/"inf" strings; shared quantities have one key and
/// one shape in every command; every option of every command has help text stating its default.
final class SchemaTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var temp: URL!

    override func setUpWithError() throws {
        temp = FileManager.default.temporaryDirectory.appendingPathComponent("diffphys-schema-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: temp) }

    func path(_ name: String) -> String { temp.appendingPathComponent(name).path }

    /// The documented key sets: command → (required, optional), parsed from the table in Docs/Schema.md.
    static func documentedKeys() throws -> [String: (required: Set<String>, optional: Set<String>)] {
        let text = try String(contentsOf: root.appendingPathComponent("Docs/Schema.md"), encoding: .utf8)
        guard let start = text.range(of: "| command | results keys |") else { throw XCTSkip("Docs/Schema.md has no key table") }
        var table: [String: (Set<String>, Set<String>)] = [:]
        for line in text[start.upperBound...].split(separator: "\n").dropFirst() {
            guard line.hasPrefix("| `") else { if table.isEmpty { continue } else { break } }
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            let command = cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            var required = Set<String>(), optional = Set<String>()
            for k in cells[1].split(separator: ",") {
                let key = k.trimmingCharacters(in: CharacterSet(charactersIn: "` "))
                if key.hasSuffix("?") { optional.insert(String(key.dropLast())) } else { required.insert(key) }
            }
            table[command] = (required, optional)
        }
        return table
    }

    static let envelopeKeys: Set<String> = ["schemaVersion", "command", "data", "conventions", "parameters", "warnings", "results"]
    static let tSKeys: Set<String> = ["primary", "paper", "curvature", "drift", "primaryConvention"]
    static let tCKeys: Set<String> = ["primary", "measured", "predicted"]

    /// Checks one JSON tree: key style, standard-error naming, value objects, tS/tC shapes, no nan strings.
    func checkTree(_ node: Any, path: String, command: String, failures: inout [String]) {
        if let s = node as? String {
            if ["nan", "inf", "-inf", "infinity", "-infinity"].contains(s.lowercased()) { failures.append("\(command): \(path) is the string \"\(s)\"") }
        } else if let d = node as? [String: Any] {
            if d["stderr"] != nil, d["value"] == nil { failures.append("\(command): \(path) has stderr without value") }
            for (k, v) in d {
                let p = path + "." + k
                // The envelope's conventions describe the names in words.
                if path.isEmpty && k == "conventions" { continue }
                let camel = k.range(of: #"^([a-z][A-Za-z0-9]*|[A-Z]|[0-9]+)$"#, options: .regularExpression) != nil
                // Map keys that are data (class names, estimator names, timing names) are lower-case words too.
                if !camel { failures.append("\(command): key \(p) is not camelCase") }
                if k == "standardError" || k == "se" || (k.hasSuffix("Stderr") && k != "stderr") {
                    failures.append("\(command): \(p): standard errors are \"stderr\" inside a value object")
                }
                if k == "tS" {
                    if let o = v as? [String: Any] { if Set(o.keys) != Self.tSKeys { failures.append("\(command): \(p) has keys \(o.keys.sorted())") } }
                    else if !(v is NSNull) { failures.append("\(command): \(p) is not the tS object") }
                }
                if k == "tC" {
                    if let o = v as? [String: Any] { if Set(o.keys) != Self.tCKeys { failures.append("\(command): \(p) has keys \(o.keys.sorted())") } }
                    else if !(v is NSNull) { failures.append("\(command): \(p) is not the tC object") }
                }
                checkTree(v, path: p, command: command, failures: &failures)
            }
        } else if let a = node as? [Any] {
            for (i, v) in a.enumerated() { checkTree(v, path: path + "[\(i)]", command: command, failures: &failures) }
        }
    }

    /// Inputs: a labelled training set, generated samples, trajectories and clones as .npy.
    func writeInputs() throws {
        let data = try DatasetSpec.parse("gmm2:d=6,n=40,mtilde=1,sigma=1").load(seed: 3)
        try data.writeNPY(to: path("train.npy"), labelsPath: path("labels.npy"))
        let score = try EmpiricalScore(data)
        let grid = try TimeGrid.geometric(from: 3, to: 1e-3, steps: 12)
        let run = try BackwardSDE(model: score, finalStep: .posteriorDraw, threads: 1)
            .run(grid: grid, start: .prior(count: 8), seed: 2, recording: [.states])
        try run.samples.writeNPY(to: path("samples.npy"))
        try NPYLoader.write(values: run.statePath.flatMap { $0.flatMap { $0 } }, shape: [8, grid.times.count, data.d], to: path("traj.npy"))
        try NPYLoader.write(values: grid.times, shape: [grid.times.count], to: path("times.npy"))
        var values: [Double] = []
        for k in 0..<2 { for p in 0..<6 { values += data.points.row(p) + data.points.row(k == 0 ? p : (p * 7 + 3) % data.n) } }
        try NPYLoader.write(values: values, shape: [2, 6, 2, data.d], to: path("clones.npy"))
        try "0.1,0.2\n0.3,0.4\n-0.5,0.6\n1,1\n".write(toFile: path("points.csv"), atomically: true, encoding: .utf8)
    }

    /// One small run of every command that writes JSON, by its documented name.
    func commandRuns() -> [(String, [String])] {
        let gmm = "gmm2:d=6,n=60,mtilde=1,sigma=1"
        let train = ["--data", path("train.npy"), "--labels", path("labels.npy"), "--reference-samples", "20"]
        return [
            ("overview", ["overview", "--data", gmm, "--samples", "60", "--points", "5"]),
            ("collapse", ["collapse", "--data", gmm, "--samples", "40", "--points", "4", "--trajectories", "4", "--steps", "16",
                          "--pairs", "4", "--fresh", "20", "--fit-samples", "20", "--out", path("collapse.csv")]),
            ("speciation", ["speciation", "--data", gmm, "--samples", "30", "--pairs", "8", "--estimator", "all", "--points", "3",
                            "--steps", "16", "--fit-samples", "20", "--out", path("speciation.csv")]),
            ("memorization-map", ["memorization-map", "--data", "gaussian:d=4,n=10", "--n", "10,20", "--times", "0.1,0.5,2",
                                  "--samples", "20", "--out", path("map")]),
            ("score", ["score", "--data", gmm, "--t", "0.5", "--x", "0,0,0,0,0,0"]),
            ("sample", ["sample", "--data", gmm, "--samples", "3", "--steps", "10"]),
            ("theory phi", ["theory", "phi", "--d", "64", "--t", "2"]),
            ("theory phi", ["theory", "phi", "--tau", "0.1"]),
            ("theory speciation-time", ["theory", "speciation-time", "--lambda", "7"]),
            ("theory collapse-time", ["theory", "collapse-time", "--n", "60", "--d", "6", "--sigma", "1"]),
            ("analyze samples", ["analyze", "samples", path("samples.npy")] + train),
            ("analyze trajectories", ["analyze", "trajectories", path("traj.npy"), "--times", path("times.npy")] + train),
            ("analyze clones", ["analyze", "clones", path("clones.npy"), "--times", "0.2,1.5"] + train),
            ("pfgm sample", ["pfgm", "sample", "--extra-dimensions", "4", "--data", path("points.csv"), "--samples", "2"]),
            ("pfgm field", ["pfgm", "field", "--extra-dimensions", "1", "--data", path("points.csv"), "--x", "0.3,-0.2", "--noise-level", "0.5"]),
            ("pfgm collapse", ["pfgm", "collapse", "--extra-dimensions", "4,inf", "--data", "gmm2:d=4,n=12", "--samples", "20",
                               "--trajectories", "2", "--points", "5", "--sigma-max", "20"]),
            ("pfgm speciation", ["pfgm", "speciation", "--extra-dimensions", "4,inf", "--data", "gmm2:d=4,n=12", "--samples", "20",
                                 "--trajectories", "0", "--points", "5", "--sigma-max", "20"]),
            ("genphys field", ["genphys", "field", "--m", "1.5", "--data", path("points.csv"), "--x", "0.3,-0.2", "--z", "0.7"]),
            ("genphys sample", ["genphys", "sample", "--m", "1", "--data", path("points.csv"), "--samples", "2", "--z-max", "5"]),
            ("genphys collapse", ["genphys", "collapse", "--m", "0.5", "--data", path("points.csv"), "--samples", "20", "--points", "4"]),
            ("bench", ["bench", "--batch", "4", "--n", "30", "--d", "8", "--repeat", "1", "--kernel-only"]),
        ]
    }

    func testEveryCommandMatchesTheDocumentedSchema() throws {
        try writeInputs()
        let documented = try Self.documentedKeys()
        var failures: [String] = [], outputs: [String: [[String: Any]]] = [:]
        for (name, args) in commandRuns() {
            let r = try CLI.run(args + ["--json"] + (args.first == "theory" || args.first == "score" || args.contains("field") ? [] : ["--threads", "1"]))
            guard r.status == 0 else { failures.append("\(name): exit \(r.status): \(r.stderr)"); continue }
            XCTAssertFalse(r.stdout.lowercased().contains("\"nan\"") || r.stdout.lowercased().contains("\"inf\""), name)
            guard let j = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] else {
                failures.append("\(name): output is not a JSON object"); continue
            }
            outputs[name, default: []].append(j)
            if Set(j.keys) != Self.envelopeKeys { failures.append("\(name): envelope keys \(j.keys.sorted())") }
            XCTAssertEqual(j["schemaVersion"] as? Int, OutputSchema.version, name)
            XCTAssertEqual(j["command"] as? String, name)
            XCTAssertNotNil(j["warnings"] as? [String], name)
            XCTAssertNotNil(j["parameters"] as? [String: Any], name)
            let conventions = j["conventions"] as? [String: String] ?? [:]
            XCTAssertTrue(conventions["tS"]?.contains("(1/2) ln(1 + Lambda)") == true, "\(name): conventions state the primary t_S")
            guard let doc = documented[name] else { failures.append("\(name): not in Docs/Schema.md"); continue }
            let keys = Set((j["results"] as? [String: Any] ?? [:]).keys)
            let missing = doc.required.subtracting(keys), extra = keys.subtracting(doc.required).subtracting(doc.optional)
            if !missing.isEmpty { failures.append("\(name): documented results keys missing: \(missing.sorted())") }
            if !extra.isEmpty { failures.append("\(name): results keys not in Docs/Schema.md: \(extra.sorted())") }
            checkTree(j, path: "", command: name, failures: &failures)
        }
        XCTAssertTrue(failures.isEmpty, failures.joined(separator: "\n"))
        // --out writes every curve as a camelCase CSV.
        for file in ["collapse.csv", "speciation.csv"] {
            let text = try String(contentsOfFile: path(file), encoding: .utf8)
            let header = text.split(separator: "\n").first.map(String.init) ?? ""
            XCTAssertTrue(header.hasPrefix("t,"), "\(file): \(header)")
            for h in header.split(separator: ",") { XCTAssertNotNil(h.range(of: #"^[a-z][A-Za-z0-9]*$"#, options: .regularExpression), "\(file): \(h)") }
            XCTAssertFalse(text.contains("nan"), file)
        }
        let thresholds = try String(contentsOfFile: path("map/thresholds.csv"), encoding: .utf8)
        XCTAssertTrue(thresholds.hasPrefix("n,d,alpha,tC,tCStderr,"), thresholds)

        // The same quantity has the same key and value in every command: t_S of one data set, and
        // eq. 10 of one (n, d, σ).
        func results(_ name: String, _ i: Int = 0) -> [String: Any] { (outputs[name]?[i]["results"] as? [String: Any]) ?? [:] }
        let lambda = try XCTUnwrap(results("overview")["lambda"] as? Double)
        for name in ["overview", "collapse", "speciation"] {
            let tS = try XCTUnwrap(results(name)["tS"] as? [String: Any], name)
            XCTAssertEqual(tS["primary"] as? Double ?? .nan, 0.5 * log1p(lambda), accuracy: 1e-12, name)
            XCTAssertEqual(tS["paper"] as? Double ?? .nan, 0.5 * log(lambda), accuracy: 1e-12, name)
        }
        let theoryTS = try XCTUnwrap(results("theory speciation-time")["tS"] as? [String: Any])
        XCTAssertEqual(theoryTS["primary"] as? Double ?? .nan, 0.5 * log(8.0), accuracy: 1e-12)
        func eq10(_ name: String) -> Double? {
            (((results(name)["tC"] as? [String: Any])?["predicted"] as? [String: Any])?["gaussian"] as? [String: Any])?["value"] as? Double
        }
        let tC = try XCTUnwrap(eq10("theory collapse-time"))
        XCTAssertEqual(tC, 0.5 * log1p(1 / (pow(60, 2.0 / 6) - 1)), accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(eq10("overview")), tC, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(eq10("collapse")), tC, accuracy: 1e-12)
        // The primary measured t_C is `tC.primary` = `tC.measured.y2` wherever it is measured.
        for name in ["overview", "collapse"] {
            let c = try XCTUnwrap(results(name)["tC"] as? [String: Any], name)
            let primary = try XCTUnwrap(c["primary"] as? [String: Any], name)
            let y2 = try XCTUnwrap((c["measured"] as? [String: Any])?["y2"] as? [String: Any], name)
            XCTAssertEqual(primary["value"] as? Double, y2["value"] as? Double, name)
        }
    }

    /// The schema checker itself fails on the old spellings.
    func testCheckerCatchesOldSpellings() {
        var failures: [String] = []
        checkTree(["tS": 0.3, "tCStderr": 0.1, "x": "nan", "tC": ["y2": 1], "crossing": ["t": 1, "stderr": 0.1],
                   "tS_paper": 1] as [String: Any], path: "", command: "old", failures: &failures)
        XCTAssertEqual(failures.count, 6, failures.joined(separator: "\n"))
    }

    // MARK: - Options

    /// Every command path of the CLI, from the help of its parent.
    func commandPaths() throws -> [[String]] {
        var paths: [[String]] = [], queue: [[String]] = [[]]
        while let p = queue.popLast() {
            let r = try CLI.run(p + ["--help"])
            XCTAssertEqual(r.status, 0, "\(p): \(r.stderr)")
            var inSub = false, subs: [String] = []
            for line in r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
                if line.hasPrefix("SUBCOMMANDS:") { inSub = true; continue }
                guard inSub else { continue }
                if line.isEmpty { inSub = false; continue }
                // "  name    abstract": two spaces, then the name (continuation lines are indented further).
                guard line.hasPrefix("  "), !line.hasPrefix("   ") else { continue }
                let name = line.trimmingCharacters(in: .whitespaces).split(separator: " ").first.map(String.init) ?? ""
                if !name.isEmpty, name != "help" { subs.append(name) }
            }
            if subs.isEmpty { if !p.isEmpty { paths.append(p) } } else { queue += subs.map { p + [$0] } }
        }
        return paths.sorted { $0.joined(separator: " ") < $1.joined(separator: " ") }
    }

    /// Every option and flag of every command has help text that states its default (or says it
    /// is required); long names are lower case; no two options differ only by case; usage lines
    /// are written out (never just "<options>").
    func testEveryOptionHasHelpAndDefault() throws {
        let paths = try commandPaths()
        XCTAssertGreaterThan(paths.count, 15, "\(paths)")
        var failures: [String] = []
        for p in paths {
            let r = try CLI.run(p + ["--help"])
            let name = p.joined(separator: " ")
            // Entries: (names, help, is an argument); help on the first line after two spaces, or on continuation lines.
            var entries: [(names: String, help: String, argument: Bool)] = [], section = ""
            for line in r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
                if line.hasPrefix("USAGE:"), line.hasSuffix("<options>") { failures.append("\(name): usage line is only '<options>'") }
                if line.hasPrefix("OPTIONS:") || line.hasPrefix("ARGUMENTS:") { section = line; continue }
                guard !section.isEmpty else { continue }
                if line.hasPrefix("  -") || line.hasPrefix("  <") {
                    // Leading tokens "-x,", "--name", "<value>" are the names; the rest is the help text.
                    let tokens = line.split(separator: " ").map(String.init)
                    let k = tokens.firstIndex { !($0.hasPrefix("-") || $0.hasPrefix("<")) } ?? tokens.count
                    entries.append((tokens[..<k].joined(separator: " "), tokens[k...].joined(separator: " "), section.hasPrefix("ARGUMENTS")))
                } else if line.hasPrefix("     "), !entries.isEmpty {
                    entries[entries.count - 1].help += " " + line.trimmingCharacters(in: .whitespaces)
                }
            }
            var longNames = Set<String>()
            for e in entries where !e.names.contains("--help") && !e.names.contains("--version") {
                let help = e.help.trimmingCharacters(in: .whitespaces)
                if help.isEmpty { failures.append("\(name): \(e.names) has no help text"); continue }
                // A positional argument is required by nature; an option states its default or that it is required.
                if !e.argument, !(help.contains("default") || help.contains("required")) {
                    failures.append("\(name): \(e.names): no default stated in '\(help)'")
                }
                for token in e.names.split(separator: " ") where token.hasPrefix("--") {
                    let long = token.trimmingCharacters(in: CharacterSet(charactersIn: ","))
                    if long != long.lowercased() { failures.append("\(name): \(long) is not lower case") }
                    if !longNames.insert(long.lowercased()).inserted { failures.append("\(name): \(long) differs from another option only by case") }
                }
            }
        }
        XCTAssertTrue(failures.isEmpty, failures.joined(separator: "\n"))
    }

    /// Former spellings still parse (hidden aliases), and the new names are what errors cite.
    func testFormerSpellingsAreHiddenAliases() throws {
        let a = try CLI.run(["sample", "--data", "gmm2:d=3,n=20", "--count", "2", "--steps", "8", "--json"])
        let b = try CLI.run(["sample", "--data", "gmm2:d=3,n=20", "--samples", "2", "--steps", "8", "--json"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(a.stdout, b.stdout)
        let help = try CLI.run(["sample", "--help"]).stdout
        XCTAssertFalse(help.contains("--count") || help.contains("--T "), help)
        let c = try CLI.run(["theory", "collapse-time", "--n", "100", "--d", "10", "--sigma2", "4", "--json"])
        let d = try CLI.run(["theory", "collapse-time", "--n", "100", "--d", "10", "--sigma", "2", "--json"])
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertEqual(c.stdout, d.stdout, "--sigma2 is the variance, --sigma the standard deviation")
        let bad = try CLI.run(["sample", "--data", "gmm2:d=4,n=10", "--horizon", "0.0001"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--horizon"), bad.stderr)
    }
}
