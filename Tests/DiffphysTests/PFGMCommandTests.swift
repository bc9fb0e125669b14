import Foundation
import XCTest

final class PFGMCommandTests: XCTestCase {
    func testSampleFieldAndErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pfgm-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = dir.appendingPathComponent("y2.csv").path
        try "1,0\n-0.5,0.8\n-0.3,-0.9\n0.6,0.6\n0,-0.2\n".write(toFile: csv, atomically: true, encoding: .utf8)
        let s = try CLI.run(["pfgm", "sample", "--extra-dimensions", "4", "--data", csv, "--samples", "3", "--json"])
        XCTAssertEqual(s.status, 0, s.stderr)
        let json = try CLI.results(s)
        let samples = try XCTUnwrap(json["samples"] as? [[Double]])
        XCTAssertEqual(samples.count, 3)
        // --start: one trajectory from (40, −70); --no-denoise leaves it off the training point.
        let one = try CLI.run(["pfgm", "sample", "--extra-dimensions", "inf", "--data", csv, "--start", "40,-70", "--no-denoise", "--sigma-min", "0.01", "--json"])
        XCTAssertEqual(one.status, 0, one.stderr)
        let x = try XCTUnwrap(try CLI.results(one)["samples"] as? [[Double]])
        XCTAssertEqual(x.count, 1)
        let f = try CLI.run(["pfgm", "field", "--extra-dimensions", "1", "--data", csv, "--x", "0.3,-0.2", "--noise-level", "0.5"])
        XCTAssertEqual(f.status, 0, f.stderr)
        XCTAssertTrue(f.stdout.contains("0.877812933"), f.stdout)
        XCTAssertTrue(f.stderr.contains("infinite mean"), f.stderr)
        for bad in [["--D", "0"], ["--D", "-2"], ["--D", "abc"], ["--sigma-min", "0"], ["--start", "1,2,3"]] {
            let r = try CLI.run(["pfgm", "sample", "--data", csv] + bad)
            XCTAssertNotEqual(r.status, 0, "\(bad)")
            XCTAssertFalse(r.stderr.isEmpty)
        }
    }
}
