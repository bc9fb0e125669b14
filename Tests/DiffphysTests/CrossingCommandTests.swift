import DiffusionPhysics
import Foundation
import XCTest

/// The measured t_C^{Y2} is solved on the samples, not read off a grid: overview, collapse and
/// memorization-map report the same value for the same data, samples and seed, whatever their
/// time grids (issue "crossings move with the grid").
final class CrossingCommandTests: XCTestCase {
    func testSameCollapseTimeInEveryCommandAndGrid() throws {
        let data = ["--data", "gaussian:d=16,n=120", "--seed", "4"]
        func json(_ args: [String]) throws -> [String: Any] {
            let r = try CLI.run(args + data + ["--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            return try CLI.results(r)
        }
        let overview = try json(["overview", "--samples", "300", "--points", "30", "--threads", "1"])
        let coarse = try json(["collapse", "--samples", "300", "--times", "0.05,0.3,1,3", "--threads", "1"])
        let fine = try json(["collapse", "--samples", "300", "--times", "0.1,0.2,0.35,0.5,0.7,0.9,1.2,2", "--threads", "2"])
        // One key in every command: tC.primary = {value, stderr} (Docs/Schema.md).
        func primary(_ j: [String: Any]) -> [String: Any]? { (j["tC"] as? [String: Any])?["primary"] as? [String: Any] }
        let tOverview = try XCTUnwrap(primary(overview)?["value"] as? Double)
        let se = try XCTUnwrap(primary(overview)?["stderr"] as? Double)
        let tCoarse = try XCTUnwrap(primary(coarse)?["value"] as? Double)
        let tFine = try XCTUnwrap(primary(fine)?["value"] as? Double)
        // Root-finding tolerance 1e-7; BLAS rounding differs between 1 and 2 threads in the last bits.
        XCTAssertEqual(tCoarse, tOverview, accuracy: 1e-6)
        XCTAssertEqual(tFine, tOverview, accuracy: 1e-6)
        XCTAssertGreaterThan(se, 1e-4, "a real statistical error")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("diffphys-cross-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let map = try CLI.run(["memorization-map", "--n", "120", "--times", "0.05,0.6,2.5", "--samples", "300",
                               "--out", out] + data)
        XCTAssertEqual(map.status, 0, map.stderr)
        let rows = try String(contentsOfFile: out + "/thresholds.csv", encoding: .utf8).split(separator: "\n")
        let header = rows[0].split(separator: ","), values = rows[1].split(separator: ",")
        let tMap = try XCTUnwrap(Double(values[header.firstIndex(of: "tC")!]))
        XCTAssertEqual(tMap, tOverview, accuracy: 1e-6)
    }

    /// A number at the first of `paths` present in `json`: a bare number, a measured-value object's
    /// "value" or a crossing's "t" (with its "stderr" / "standardError"), so the test reads the
    /// output before and after the `{"value", "stderr"}` schema.
    func measured(_ json: [String: Any], _ paths: [[String]], stderr errorPaths: [[String]] = []) -> (value: Double, stderr: Double?)? {
        func at(_ path: [String]) -> Any? {
            var node: Any? = json
            for key in path { node = (node as? [String: Any])?[key] }
            return node
        }
        for path in paths {
            if let v = at(path) as? Double { return (v, errorPaths.lazy.compactMap { at($0) as? Double }.first) }
            if let o = at(path) as? [String: Any], let v = (o["value"] as? Double) ?? (o["t"] as? Double) {
                return (v, (o["stderr"] as? Double) ?? (o["standardError"] as? Double))
            }
        }
        return nil
    }

    /// Labelled data: t_C^{Y2} and t_cross(φ = 0.775) are the same in overview, collapse,
    /// memorization-map, speciation --estimator rb and analyze (exact-score reference) for one data
    /// set, sample count and seed, although every command brackets them on its own grid — within
    /// 0.25 SE and within the root-finding tolerance (issue "crossings move with the grid").
    func testSameCrossingsInEveryCommandOnLabelledData() throws {
        let spec = "gmm2:d=16,n=120,mtilde=1,sigma=1", samples = "300"
        let data = ["--data", spec, "--seed", "6"]
        func json(_ args: [String]) throws -> [String: Any] {
            let r = try CLI.run(args + data + ["--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            return try CLI.results(r)
        }
        let overview = try json(["overview", "--samples", samples, "--points", "17", "--threads", "1"])
        let collapse = try json(["collapse", "--samples", samples, "--times", "0.07,0.25,0.6,1.1,2.5", "--threads", "2"])
        let speciation = try json(["speciation", "--estimator", "rb", "--samples", samples, "--times", "0.4,0.9,1.3,1.7,2.6",
                                   "--fit-samples", "0", "--threads", "2"])
        let temp = FileManager.default.temporaryDirectory.appendingPathComponent("diffphys-cross-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: temp) }
        let generated = temp.appendingPathComponent("samples.npy").path
        try NPYLoader.write(values: (0..<(4 * 16)).map { Double($0 % 7) / 7 - 0.4 }, shape: [4, 16], to: generated)
        let analyze = try json(["analyze", "samples", generated, "--reference-samples", samples, "--threads", "1"])
        let map = try CLI.run(["memorization-map", "--n", "120", "--times", "0.04,0.3,0.9,3", "--samples", samples,
                               "--out", temp.appendingPathComponent("map").path] + data)
        XCTAssertEqual(map.status, 0, map.stderr)
        let rows = try String(contentsOfFile: temp.appendingPathComponent("map/thresholds.csv").path, encoding: .utf8).split(separator: "\n")
        let header = rows[0].split(separator: ",").map(String.init), values = rows[1].split(separator: ",").map(String.init)
        let yColumn = try XCTUnwrap(header.firstIndex(of: "tC"), "thresholds.csv columns \(header)")

        let y2 = try XCTUnwrap(measured(overview, [["tC", "primary"]]))
        let seY2 = try XCTUnwrap(y2.stderr)
        let cross = try XCTUnwrap(measured(overview, [["tCross"]], stderr: [["tCrossStderr"]]))
        let seCross = try XCTUnwrap(cross.stderr)
        XCTAssertGreaterThan(seY2, 1e-4, "a real statistical error")
        XCTAssertGreaterThan(seCross, 1e-4, "a real statistical error")
        let others: [(String, Double?, Double, Double)] = [
            ("collapse t_C^{Y2}", measured(collapse, [["tC", "primary"]])?.value, y2.value, seY2),
            ("memorization-map t_C^{Y2}", Double(values[yColumn]), y2.value, seY2),
            ("analyze t_C^{Y2}", measured(analyze, [["reference", "tC", "primary"]])?.value, y2.value, seY2),
            ("speciation t_cross", measured(speciation, [["tCross"], ["crossings", "rb"]])?.value, cross.value, seCross),
            ("analyze t_cross", measured(analyze, [["reference", "tCross"]])?.value, cross.value, seCross),
        ]
        for (what, value, reference, se) in others {
            let v = try XCTUnwrap(value, "\(what) missing")
            // Root-finding tolerance 1e-7; BLAS rounding differs between 1 and 2 threads in the last bits.
            XCTAssertEqual(v, reference, accuracy: 1e-6, what)
            XCTAssertLessThanOrEqual(abs(v - reference), 0.25 * se, what)
        }
        XCTAssertEqual(speciation["rbCrossingMethod"] as? String ?? "brent", "brent")
    }
}
