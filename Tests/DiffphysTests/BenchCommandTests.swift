import Foundation
import XCTest

/// `diffphys bench` runs on a tiny shape and prints the JSON contract (no timing assertions).
final class BenchCommandTests: XCTestCase {
    func testBenchJSONShape() throws {
        let r = try CLI.run(["bench", "--batch", "8", "--n", "40", "--d", "16", "--repeat", "1", "--json", "--threads", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let cases = try XCTUnwrap((json?["results"] as? [String: Any])?["cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 1)
        for key in ["B", "n", "d", "threads", "floorSeconds", "scoreF64Seconds", "scoreF32Seconds",
                    "generationSeconds", "forwardCurveSeconds"] {
            XCTAssertNotNil(cases[0][key], key)
        }
        XCTAssertEqual(cases[0]["B"] as? Int, 8)
    }

    func testBenchRejectsBadShape() throws {
        let r = try CLI.run(["bench", "--batch", "0"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssert(r.stderr.contains("--batch must be ≥ 1"), r.stderr)
    }
}
