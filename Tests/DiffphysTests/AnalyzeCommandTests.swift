import DiffusionPhysics
import Foundation
import GSLKit
import XCTest

/// `diffphys analyze` end to end: the three subcommands on arrays written from Swift, JSON and
/// figures, the printed time map, and one-line errors for bad files (issue 14).
final class AnalyzeCommandTests: XCTestCase {
    var temp: URL!
    override func setUpWithError() throws {
        temp = FileManager.default.temporaryDirectory.appendingPathComponent("diffphys-analyze-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: temp) }

    func path(_ name: String) -> String { temp.appendingPathComponent(name).path }

    func json(_ r: CLI.Result) throws -> [String: Any] {
        XCTAssertEqual(r.status, 0, r.stderr)
        return try CLI.results(r)
    }

    /// A labelled training set (.npy + labels) and an exact-score run exported as samples,
    /// trajectories (in DDPM ᾱ) and clone endpoints.
    func export() throws -> Dataset {
        let data = try DatasetSpec.parse("gmm2:d=9,n=60,mtilde=1,sigma=1").load(seed: 4)
        try data.writeNPY(to: path("train.npy"), labelsPath: path("labels.npy"))
        let score = try EmpiricalScore(data)
        let grid = try TimeGrid.geometric(from: 4, to: 1e-3, steps: 40)
        let run = try BackwardSDE(model: score, finalStep: .posteriorDraw, threads: 1)
            .run(grid: grid, start: .prior(count: 30), seed: 2, recording: [.states])
        try run.samples.writeNPY(to: path("samples.npy"))
        try NPYLoader.write(values: run.statePath.flatMap { $0.flatMap { $0 } }, shape: [30, grid.times.count, data.d], to: path("traj.npy"))
        try NPYLoader.write(values: grid.times.map { exp(-2 * $0) }, shape: [grid.times.count], to: path("alphabar.npy"))
        // Clones: pairs of training points (same point for the first branch time, random pairs for the second).
        var values: [Double] = []
        for k in 0..<2 { for p in 0..<20 {
            values += data.points.row(p) + data.points.row(k == 0 ? p : (p * 7 + 3) % data.n)
        } }
        try NPYLoader.write(values: values, shape: [2, 20, 2, data.d], to: path("clones.npy"))
        return data
    }

    func testThreeSubcommands() throws {
        _ = try export()
        let common = ["--data", path("train.npy"), "--labels", path("labels.npy"), "--reference-samples", "0", "--threads", "1", "--json"]
        let s = try json(try CLI.run(["analyze", "samples", path("samples.npy")] + common))
        let memo = (s["analysis"] as! [String: Any])["memorization"] as! [String: Any]
        XCTAssertEqual((memo["fraction"] as! [String: Any])["value"] as! Double, 1, "posterior draws are training points")
        let t = try json(try CLI.run(["analyze", "trajectories", path("traj.npy"), "--times", path("alphabar.npy"),
                                      "--time-convention", "ddpm-alphabar", "--plot", path("t.png")] + common))
        let forward = t["forwardTimes"] as! [Double]
        XCTAssertEqual(forward.first!, 4, accuracy: 1e-12)
        XCTAssertEqual(forward.last!, 1e-3, accuracy: 1e-15)
        XCTAssertTrue((t["timeMap"] as! String).contains("ln alphabar"))
        XCTAssertEqual((t["collapseTimes"] as! [Double]).count, 30)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("t.png")))
        let c = try json(try CLI.run(["analyze", "clones", path("clones.npy"), "--times", "0.2,1.5"] + common))
        let points = (c["analysis"] as! [String: Any])["points"] as! [[String: Any]]
        XCTAssertEqual((points[0]["sameComponent"] as! [String: Any])["value"] as! Double, 1)
        XCTAssertLessThan((points[1]["sameComponent"] as! [String: Any])["value"] as! Double, 0.2)
        // Text report prints the map and the comparison table.
        let text = try CLI.run(["analyze", "clones", path("clones.npy"), "--times", "0.2,1.5", "--data", path("train.npy"),
                                "--labels", path("labels.npy"), "--reference-samples", "0"])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("time map: vp") && text.stdout.contains("How far is the model"), text.stdout)
    }

    /// Every option of the three subcommands states its default (required inputs excepted).
    func testHelpGivesDefaults() throws {
        for sub in ["samples", "trajectories", "clones"] {
            let r = try CLI.run(["analyze", sub, "--help"])
            XCTAssertEqual(r.status, 0, r.stderr)
            var entries: [String] = [], inOptions = false
            for line in r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
                if line.hasPrefix("OPTIONS:") { inOptions = true; continue }
                guard inOptions else { continue }
                if line.hasPrefix("  -") { entries.append(line) } else if line.hasPrefix("     "), !entries.isEmpty { entries[entries.count - 1] += " " + line.trimmingCharacters(in: .whitespaces) }
            }
            let options = entries.filter { $0.contains("<") && !$0.contains("--help") && !$0.contains("--times <times>") }
            XCTAssertFalse(options.isEmpty)
            for e in options { XCTAssert(e.contains("default"), "analyze \(sub): no default in '\(e)'") }
        }
    }

    func testBadFilesFailInOneLine() throws {
        _ = try export()
        try NPYLoader.write(values: [1, .nan, 3], shape: [3], to: path("nan-times.npy"))
        try NPYLoader.write(values: [0.5, 0.1], shape: [2], to: path("two.npy"))
        let base = ["--data", path("train.npy"), "--reference-samples", "0"]
        let cases: [[String]] = [
            ["analyze", "trajectories", path("traj.npy"), "--times", path("two.npy")] + base,            // K mismatch
            ["analyze", "trajectories", path("samples.npy"), "--times", path("two.npy")] + base,         // B × d given
            ["analyze", "trajectories", path("traj.npy"), "--times", path("nan-times.npy")] + base,      // NaN
            ["analyze", "samples", path("traj.npy")] + base,                                              // wrong d
            ["analyze", "clones", path("clones.npy"), "--times", "1,2,3"] + base,                        // K mismatch
            ["analyze", "trajectories", path("traj.npy"), "--times", path("alphabar.npy"), "--time-convention", "ddpm-steps"] + base,
            ["analyze", "samples", path("missing.npy")] + base,
        ]
        for args in cases {
            let r = try CLI.run(args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            let message = r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            XCTAssertEqual(message.split(separator: "\n").count, 1, "\(args): \(message)")
            XCTAssertFalse(message.contains("Usage"), message)
        }
    }
}
