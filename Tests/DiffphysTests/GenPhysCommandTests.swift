import Foundation
import XCTest

/// `diffphys genphys …` and the posterior variance of `diffphys pfgm field`.
final class GenPhysCommandTests: XCTestCase {
    func testFieldSampleCollapseAndErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("genphys-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = dir.appendingPathComponent("y2.csv").path
        try "1,0\n-0.5,0.8\n-0.3,-0.9\n0.6,0.6\n0,-0.2\n".write(toFile: csv, atomically: true, encoding: .utf8)
        func json(_ args: [String]) throws -> Any {
            let r = try CLI.run(args)
            XCTAssertEqual(r.status, 0, r.stderr)
            let envelope = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            return try XCTUnwrap(envelope["results"])
        }
        // pfgm field reports V = Σ w |y − m|² (independent python value at the Docs/PoissonFlow.md §7.1 point, D = 1).
        let pf = try json(["pfgm", "field", "--extra-dimensions", "1", "--data", csv, "--x", "0.3,-0.2", "--noise-level", "0.5", "--json"]) as! [String: Any]
        XCTAssertEqual(try XCTUnwrap(pf["posteriorVariance"] as? Double), 0.35717546748603113, accuracy: 1e-12)
        let pfw = try XCTUnwrap(pf["weights"] as? [Double])
        // genphys field at m → 0 gives PFGM's weights (D = 1, r = z).
        let g = try json(["genphys", "field", "--m", "1e-6", "--data", csv, "--x", "0.3,-0.2", "--z", "0.5", "--json"]) as! [String: Any]
        let gw = try XCTUnwrap(g["weights"] as? [Double]), lw = try XCTUnwrap(g["logWeights"] as? [Double])
        for i in 0..<5 {
            XCTAssertEqual(gw[i], pfw[i], accuracy: 1e-8)
            XCTAssertEqual(lw[i], log(pfw[i]), accuracy: 1e-7)
        }
        // §7.4: m = 1.5 at (0.3, −0.2), z = 0.7: g = 0.34363226.
        let g15 = try json(["genphys", "field", "--m", "1.5", "--data", csv, "--x", "0.3,-0.2", "--z", "0.7", "--json"]) as! [String: Any]
        XCTAssertEqual(try XCTUnwrap(g15["logWeightRate"] as? Double), 0.34363226, accuracy: 1e-7)
        // Weighted particles: one log-weight per particle, normalised weights sum to 1.
        let s = try json(["genphys", "sample", "--m", "1", "--data", csv, "--samples", "3", "--z-max", "5", "--json"]) as! [String: Any]
        XCTAssertEqual((s["logWeights"] as? [Double])?.count, 3)
        XCTAssertEqual((s["normalisedWeights"] as? [Double])?.reduce(0, +) ?? 0, 1, accuracy: 1e-12)
        let c = try json(["genphys", "collapse", "--m", "0.5", "--data", csv, "--samples", "50", "--points", "5", "--json"]) as! [String: Any]
        let curves = try XCTUnwrap(c["curves"] as? [[String: Any]])
        XCTAssertEqual(curves.count, 2)   // the mass and PFGM beside it
        XCTAssertNotNil((curves[0]["collapseFraction"] as? [[String: Any]])?.first?["stderr"])
        for bad in [["field", "--m", "0", "--x", "0,0", "--z", "1"], ["field", "--m", "1", "--x", "0,0", "--z", "-1"],
                    ["field", "--m", "1", "--x", "0,0,0", "--z", "1"], ["sample", "--z-min", "5", "--z-max", "1"], ["collapse", "--m", "a"]] {
            let r = try CLI.run(["genphys"] + bad + ["--data", csv])
            XCTAssertNotEqual(r.status, 0, "\(bad)")
            XCTAssertFalse(r.stderr.isEmpty)
        }
    }
}
