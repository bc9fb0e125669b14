import Foundation
import XCTest

/// `--labels` / `--label-column` through the CLI (issue 14): same speciation numbers as the
/// header-column CSV; pandas index refused; missing labels explained in one line.
final class LabelsCommandTests: XCTestCase {
    var temp: URL!
    override func setUpWithError() throws {
        temp = FileManager.default.temporaryDirectory.appendingPathComponent("diffphys-labels-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: temp) }

    func path(_ name: String) -> String { temp.appendingPathComponent(name).path }

    /// Two blobs in d = 6 (n = 80): header CSV with `label`, headerless CSV with labels first,
    /// a text-label CSV, and the same points as rows of an .npy-free CSV + a labels file.
    func writeBlobs() throws -> (header: String, headerless: String, features: String, labels: String, text: String) {
        var header = "x0,x1,x2,x3,x4,x5,label\n", headerless = "", features = "", labels = "", text = ""
        var state: UInt64 = 12345
        func uniform() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53)
        }
        for i in 0..<80 {
            let c = i % 2
            let x = (0..<6).map { _ in (c == 0 ? -1.0 : 1.0) + 2 * (uniform() - 0.5) }
            let row = x.map { "\($0)" }.joined(separator: ",")
            header += row + ",\(c)\n"
            headerless += "\(c)," + row + "\n"
            features += row + "\n"
            labels += "\(c)\n"
            text += (c == 0 ? "cat" : "dog") + "\n"
        }
        for (name, content) in [("h.csv", header), ("n.csv", headerless), ("f.csv", features), ("y.txt", labels), ("t.txt", text)] {
            try content.write(toFile: path(name), atomically: true, encoding: .utf8)
        }
        return (path("h.csv"), path("n.csv"), path("f.csv"), path("y.txt"), path("t.txt"))
    }

    func speciation(_ dataArguments: [String]) throws -> [String: Any] {
        let r = try CLI.run(["speciation"] + dataArguments + ["--times", "0.5,1,1.5", "--estimator", "rb", "--samples", "100", "--threads", "1", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try CLI.results(r)
    }

    func testRoutesGiveTheSameSpeciation() throws {
        let f = try writeBlobs()
        let reference = try speciation(["--data", f.header])
        let phi = (reference["phi"] as! [[String: Any]]).map { ($0["phi"] as! [String: Any])["value"] as! Double }
        for args in [["--data", f.headerless, "--label-column", "0"], ["--data", f.features, "--labels", f.labels],
                     ["--data", f.features, "--labels", f.text]] {
            let out = try speciation(args)
            XCTAssertEqual(out["lambda"] as! Double, reference["lambda"] as! Double, "\(args)")
            XCTAssertEqual((out["tS"] as! [String: Any])["primary"] as? Double, (reference["tS"] as! [String: Any])["primary"] as? Double, "\(args)")
            XCTAssertEqual((out["phi"] as! [[String: Any]]).map { ($0["phi"] as! [String: Any])["value"] as! Double }, phi, "\(args)")
        }
    }

    func testMissingLabelsAndIndexColumn() throws {
        let f = try writeBlobs()
        let r = try CLI.run(["speciation", "--data", f.features, "--times", "1", "--estimator", "rb", "--pairs", "10"])
        XCTAssertNotEqual(r.status, 0)
        let message = r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(message.contains("--labels") && message.contains("--label-column") && message.contains("'label'"), message)
        XCTAssertEqual(message.split(separator: "\n").count, 1, message)
        let pandas = ",a,b,c,label\n" + (0..<5).map { "\($0),1,\($0),2,\($0 % 2)" }.joined(separator: "\n")
        try pandas.write(toFile: path("p.csv"), atomically: true, encoding: .utf8)
        let p = try CLI.run(["score", "--data", path("p.csv"), "--t", "1", "--x", "0,0,0"])
        XCTAssertNotEqual(p.status, 0)
        XCTAssertTrue(p.stderr.contains("pandas index") && p.stderr.contains("index=False"), p.stderr)
        let g = try CLI.run(["score", "--data", "gmm2:d=2,n=4", "--labels", f.labels, "--t", "1", "--x", "0,0"])
        XCTAssertNotEqual(g.status, 0)
        XCTAssertTrue(g.stderr.contains("apply to a data file"), g.stderr)
    }
}
