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
}
