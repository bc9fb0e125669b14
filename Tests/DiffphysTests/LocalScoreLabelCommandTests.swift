import Foundation
import XCTest
@testable import DiffusionPhysics

/// The clone endpoint labelling rules in `diffphys speciation` and the shift-aware memorised fraction in
/// `diffphys sample --score els` (Docs/LocalScores.md §7, Docs/Schema.md).
final class LocalScoreLabelCommandTests: XCTestCase {
    /// At the full window (P = 15 = 2·8 − 1 on digits) every rule is reported on the same pairs; the
    /// nearest-image φ is the primary clone curve and its crossing of --threshold the clones crossing;
    /// the midpoint level is (1 + Σ_c π_c²)/2; the JSON passes the schema checker; --out has the rule columns.
    func testSpeciationReportsEveryRule() throws {
        let csv = FileManager.default.temporaryDirectory.appendingPathComponent("labels-\(UUID().uuidString).csv").path
        defer { try? FileManager.default.removeItem(atPath: csv) }
        let r = try CLI.run(["speciation", "--data", "digits:classes=0,1,per-class=6", "--estimator", "clones", "--pairs", "40",
                             "--times", "0.1,0.4,1,2", "--steps", "30", "--fit-samples", "0", "--json", "--threads", "1",
                             "--score", "ls", "--patch", "15", "--out", csv])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        var failures: [String] = []
        SchemaTests(name: "checkTree", testClosure: { _ in }).checkTree(j, path: "", command: "speciation", failures: &failures)
        XCTAssertTrue(failures.isEmpty, failures.joined(separator: "\n"))
        let results = try XCTUnwrap(j["results"] as? [String: Any])
        let rules = try XCTUnwrap(results["labelRules"] as? [String: Any])
        XCTAssertEqual(rules["rules"] as? [String], ["finalComponent", "nearestImage", "pixelVote", "classifier"])
        let phiInf = try XCTUnwrap(results["phiInfinity"] as? Double)
        XCTAssertEqual(rules["midpointLevel"] as? Double ?? .nan, (1 + phiInf) / 2, accuracy: 1e-15)
        let rows = try XCTUnwrap(rules["phi"] as? [[String: Any]])
        let primary = try XCTUnwrap(results["phi"] as? [[String: Any]])
        XCTAssertEqual(rows.count, 4)
        func value(_ o: Any?) -> Double { ((o as? [String: Any])?["value"] as? Double) ?? .nan }
        for (row, p) in zip(rows, primary) {
            XCTAssertEqual(row["t"] as? Double, p["t"] as? Double)
            XCTAssertEqual(value(row["nearestImage"]), value(p["phi"]), accuracy: 1e-15)
            for key in ["finalComponent", "pixelVote", "classifier", "branchPurity", "endpointPurity", "sameNearestImage"] {
                XCTAssertTrue((0...1).contains(value(row[key])), key)
            }
        }
        let crossings = try XCTUnwrap(rules["crossings"] as? [String: Any])
        let nearest = try XCTUnwrap(crossings["nearestImage"] as? [String: Any])
        let clones = (results["crossings"] as? [String: Any])?["clones"]
        XCTAssertEqual(value(nearest["threshold"]), value(clones), accuracy: 1e-15)
        let header = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")[0]
        for column in ["phiNearestImage", "phiPixelVote", "phiClassifier", "branchPurity", "endpointPurityStderr"] {
            XCTAssertTrue(header.split(separator: ",").contains(Substring(column)), column)
        }
    }

    /// `sample --score els` reports the shift-aware f_mem and per-sample shift-aware gap ratios, nearest
    /// image and shift; `--score ls` does not.
    func testSampleReportsShiftAwareFractionForELS() throws {
        let common = ["sample", "--data", "digits:classes=0,1,per-class=5", "--patch", "3", "--samples", "3", "--steps", "10", "--json"]
        let r = try CLI.run(common + ["--score", "els"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let results = try XCTUnwrap(j["results"] as? [String: Any])
        let f = try XCTUnwrap(results["shiftAwareMemorisedFraction"] as? [String: Any])
        XCTAssertTrue((0...1).contains(f["value"] as? Double ?? -1))
        XCTAssertNotNil(f["stderr"] as? Double)
        for s in try XCTUnwrap(results["samples"] as? [[String: Any]]) {
            let shift = try XCTUnwrap(s["shift"] as? [Int])
            XCTAssertEqual(shift.count, 2)
            XCTAssertNotNil(s["shiftAwareNearest"] as? Int)
            // d₁ can only shrink when shifts are allowed, but d₂ may shrink too: only 0 ≤ ratio ≤ 1 holds.
            XCTAssertTrue((0...1).contains(try XCTUnwrap(s["shiftAwareGapRatio"] as? Double)))
        }
        let ls = try CLI.run(common + ["--score", "ls"])
        XCTAssertEqual(ls.status, 0, ls.stderr)
        XCTAssertFalse(ls.stdout.contains("shiftAware"))
    }
}
