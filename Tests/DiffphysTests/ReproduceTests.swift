import Foundation
import XCTest
import DiffusionStudies

/// Every study in Analyses/ runs in --quick mode and produces its data, a real figure and a
/// report whose verdicts match the numbers in its checks.csv.
final class ReproduceTests: XCTestCase {
    func testAllStudiesQuick() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let analyses = root.appendingPathComponent("Analyses").path
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("diffphys-reproduce-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let list = try CLI.run(["reproduce", "--list", "--analyses", analyses])
        XCTAssertEqual(list.status, 0, list.stderr)
        let names = list.stdout.split(separator: "\n").map { String($0.split(separator: " ")[0]) }
        XCTAssertGreaterThanOrEqual(names.count, 2)
        let r = try CLI.run(["reproduce", "all", "--quick", "--out", out, "--analyses", analyses, "--figure-format", "png,pdf,svg"],
                            environment: ["DIFFPHYS_DATA": root.appendingPathComponent("Data").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stderr.lowercased().contains("gnuplot failed"), r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/index.md"))
        for name in names {
            let dir = out + "/" + name
            let files = try FileManager.default.contentsOfDirectory(atPath: dir)
            let pngs = files.filter { $0.hasSuffix(".png") }
            XCTAssertFalse(pngs.isEmpty, "\(name): no figure")
            for png in pngs {
                let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + png))
                XCTAssertGreaterThan(data.count, 20_000, "\(name)/\(png) is suspiciously small")
                XCTAssertEqual(Array(data.prefix(4)), [0x89, 0x50, 0x4E, 0x47], "\(name)/\(png) is not a PNG")
            }
            XCTAssertTrue(files.contains { $0.hasSuffix(".csv") && $0 != "checks.csv" }, "\(name): no data CSV")
            // Every figure in every requested format, with a .gp script that names no folder outside its own.
            for gp in files.filter({ $0.hasSuffix(".gp") }) {
                let stem = (gp as NSString).deletingPathExtension
                for ext in ["png", "pdf", "svg"] { try FigureTests.checkFormat(dir + "/" + stem + "." + ext) }
                let script = try String(contentsOfFile: dir + "/" + gp, encoding: .utf8)
                XCTAssertFalse(script.contains(out), "\(name)/\(gp) names its folder: it would not re-render from there")
                XCTAssertFalse(script.contains("3*$"), "\(name)/\(gp): error bars must be ±1 SE")
                // A study that declares a prediction draws it as a theory series (the image grid of
                // memorization-novelty predicts two fractions, reported in its table, not a curve; the
                // pfgm-claims robustness, cost and Yukawa panels test claims with no analytic curve).
                let curveless = ["memorization-novelty/", "local-scores/sample-grid.gp", "pfgm-claims/claim2-robustness.gp", "pfgm-claims/claim3-cost.gp",
                                 "pfgm-claims/claim6-yukawa.gp"]
                if !curveless.contains(where: { (name + "/" + gp).hasPrefix($0) }) {
                    XCTAssertTrue(script.contains("title 'theory"), "\(name)/\(gp): no theory series")
                }
            }
            // The verdicts in report.md and checks.csv follow from the numbers: |measurement − prediction| ≤ tolerance.
            let report = try String(contentsOfFile: dir + "/report.md", encoding: .utf8)
            let rows = try String(contentsOfFile: dir + "/checks.csv", encoding: .utf8).split(separator: "\n").dropFirst()
            XCTAssertFalse(rows.isEmpty, "\(name): no checks")
            for row in rows {
                let cells = splitCSV(String(row))
                // check, kind, prediction, measurement, stderr, tolerance, relation, agrees
                let kind = ClaimKind(rawValue: cells[1])
                XCTAssertNotNil(kind, "\(name): \(cells[0]) has no claim kind")
                let prediction = Double(cells[2])!, measurement = Double(cells[3]) ?? .nan, tolerance = Double(cells[5])!
                // Only a theorem, or an empirical ordering of two measurements, is checked one-sided.
                if cells[6] == "<=" { XCTAssertTrue(kind == .theorem || kind == .empirical, "\(name): \(cells[0]) is a bound check of a \(cells[1])") }
                let relationHolds = cells[6] == "<=" ? measurement <= prediction + tolerance : abs(measurement - prediction) <= tolerance
                let agrees = measurement.isFinite && relationHolds
                XCTAssertEqual(cells[7], agrees ? "agrees" : "disagrees", "\(name): \(cells[0])")
                XCTAssertTrue(report.contains(kind?.label ?? "?"), "\(name): report does not print the kind of \(cells[0])")
                XCTAssertTrue(report.contains(cells[0]), "\(name): report lacks check \(cells[0])")
            }
            let reportVerdicts = report.components(separatedBy: "| agrees |").count - 1 + report.components(separatedBy: "| **disagrees** |").count - 1
            XCTAssertEqual(reportVerdicts, rows.count, "\(name): report and checks.csv list different checks")
        }
    }

    private func splitCSV(_ line: String) -> [String] {
        var cells: [String] = [], cell = "", quoted = false
        for ch in line {
            if ch == "\"" { quoted.toggle() } else if ch == "," && !quoted { cells.append(cell); cell = "" } else { cell.append(ch) }
        }
        cells.append(cell)
        return cells
    }
}
