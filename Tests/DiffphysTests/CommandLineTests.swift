import Foundation
import XCTest

/// Runs the built `diffphys` executable (it sits beside the test bundle).
struct CLI {
    static var executable: URL {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0])
        var dir = bundle.deletingLastPathComponent()
        if bundle.pathExtension != "xctest" { dir = Bundle.main.bundleURL.deletingLastPathComponent() }
        return dir.appendingPathComponent("diffphys")
    }

    struct Result { var status: Int32; var stdout: String; var stderr: String }

    /// `results` of a command's JSON envelope (Docs/Schema.md).
    static func results(_ r: Result) throws -> [String: Any] {
        let j = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        return j["results"] as! [String: Any]
    }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_NUM_THREADS"] = "1"
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}

final class CommandLineTests: XCTestCase {
    var temp: URL!
    override func setUpWithError() throws {
        temp = FileManager.default.temporaryDirectory.appendingPathComponent("diffphys-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: temp) }

    func write(_ name: String, _ text: String) throws -> String {
        let url = temp.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// `score --json` on the Docs/Theory.md §1.3 vector.
    func testScoreJSON() throws {
        let csv = try write("a.csv", "1,0\n-1,0\n0,2\n")
        let r = try CLI.run(["score", "--data", csv, "--t", "0.5", "--x", "0.3,-0.2", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try CLI.results(r)
        let score = json["score"] as! [Double]
        XCTAssertEqual(score[0], -0.2380798014, accuracy: 1e-9)
        XCTAssertEqual(score[1], 0.5470121634, accuracy: 1e-9)
        XCTAssertEqual(json["logDensity"] as! Double, -2.0095830089298143, accuracy: 1e-10)
        XCTAssertEqual((json["weights"] as! [Double]).count, 3)
        XCTAssertEqual(json["y2"] as! Double, 0.4318682207839598, accuracy: 1e-10)
    }

    /// Population score of gmm2 without n: weights omitted.
    func testPopulationScore() throws {
        let r = try CLI.run(["score", "--data", "gmm2:d=4,mtilde=1,sigma=1", "--t", "1", "--x", "0.5,-0.1,0.2,0", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try CLI.results(r)
        XCTAssertNil(json["weights"])
        XCTAssertEqual((json["score"] as! [Double])[0], -0.4200923533, accuracy: 1e-9)
    }

    /// Every bad input: one clear line on stderr, non-zero exit, no crash.
    func testBadInputsFailCleanly() throws {
        let ragged = try write("ragged.csv", "1,2\n3\n")
        let nan = try write("nan.csv", "1,2\nnan,4\n")
        let empty = try write("empty.csv", "")
        let truncated = temp.appendingPathComponent("trunc-images-idx3-ubyte").path
        try Data([0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3]).write(to: URL(fileURLWithPath: truncated))
        let good = try write("good.csv", "1,0\n-1,0\n")
        let cases: [[String]] = [
            ["score", "--data", ragged, "--t", "1", "--x", "0,0"],
            ["score", "--data", nan, "--t", "1", "--x", "0,0"],
            ["score", "--data", empty, "--t", "1", "--x", "0,0"],
            ["score", "--data", truncated, "--t", "1", "--x", "0,0"],
            ["score", "--data", good, "--t", "1", "--x", "0,0,0"],      // d mismatch
            ["score", "--data", good, "--t", "-1", "--x", "0,0"],       // negative time
            ["score", "--data", good, "--t", "nan", "--x", "0,0"],
            ["score", "--data", good, "--t", "1", "--x", "0,abc"],
            ["score", "--data", "gmm2:d=4,n=0", "--t", "1", "--x", "0,0,0,0"],
            ["score", "--data", "nosuchkind:d=3", "--t", "1", "--x", "0"],
            ["sample", "--data", good, "--t-min", "0"],
            ["sample", "--data", good, "--samples", "0"],
            ["theory", "collapse-time", "--n", "-5", "--d", "10"],
        ]
        for args in cases {
            let r = try CLI.run(args)
            XCTAssertNotEqual(r.status, 0, "\(args) should fail")
            XCTAssert(r.status < 128, "\(args) crashed with status \(r.status): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n").filter { !$0.isEmpty && !$0.hasPrefix("Usage") && !$0.hasPrefix("  See") }
            XCTAssertFalse(lines.isEmpty, "\(args): no message")
            XCTAssertFalse(r.stderr.contains("Fatal error"), "\(args): \(r.stderr)")
        }
    }

    /// Samples from the empirical score land on training points; CSV output is written.
    func testSampleWritesOutput() throws {
        let out = temp.appendingPathComponent("s.csv").path
        let r = try CLI.run(["sample", "--data", "gmm2:d=4,n=10", "--samples", "5", "--out", out, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try CLI.results(r)
        let samples = json["samples"] as! [[String: Any]]
        XCTAssertEqual(samples.count, 5)
        for s in samples { XCTAssertEqual(s["nearestDistance"] as! Double, 0, accuracy: 1e-12) }
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").count, 5)
    }

    func testTheoryCommands() throws {
        let r = try CLI.run(["theory", "collapse-time", "--n", "20000", "--d", "256", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try CLI.results(r)
        let tC = ((json["tC"] as! [String: Any])["predicted"] as! [String: Any])["gaussian"] as! [String: Any]
        XCTAssertEqual(tC["value"] as! Double, 1.298790, accuracy: 1e-6)
        let p = try CLI.run(["theory", "phi", "--d", "1024", "--t", "3.5", "--json"])
        let pj = try CLI.results(p)
        XCTAssertEqual(pj["phi"] as! Double, 0.76441, accuracy: 1e-5)
    }

    /// Same seed, 1 vs 2 threads: identical sample output.
    func testThreadCountDoesNotChangeSamples() throws {
        let a = try CLI.run(["sample", "--data", "gmm2:d=6,n=40", "--samples", "130", "--final", "none", "--json", "--threads", "1"])
        let b = try CLI.run(["sample", "--data", "gmm2:d=6,n=40", "--samples", "130", "--final", "none", "--json", "--threads", "2"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(a.stdout, b.stdout)
    }
}
