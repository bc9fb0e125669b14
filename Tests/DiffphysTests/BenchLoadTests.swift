import Foundation
import XCTest

/// `diffphys bench --load` prints its JSON contract (no timing assertions).
final class BenchLoadTests: XCTestCase {
    func testBenchLoadJSON() throws {
        guard FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz") else {
            throw XCTSkip("dataset-fashion-mnist not installed")
        }
        let r = try CLI.run(["bench", "--load", "--repeat", "1", "--python", "none", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let load = try XCTUnwrap((json?["results"] as? [String: Any])?["load"] as? [String: Any])
        XCTAssertEqual(load["n"] as? Int, 60_000)
        XCTAssertEqual(load["d"] as? Int, 784)
        XCTAssertEqual(load["matrixBytes"] as? Int, 60_000 * 784 * 8)
        XCTAssertNotNil((load["seconds"] as? [String: Any])?["median"])
        XCTAssertNil(load["numpy"])
    }
}
