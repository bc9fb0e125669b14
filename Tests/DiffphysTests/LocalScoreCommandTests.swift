import Foundation
import XCTest
@testable import DiffusionPhysics
import GSLKit

/// `--score ls|els|els-circ|bbels` in `diffphys score` and `diffphys sample` (Docs/LocalScores.md §7).
final class LocalScoreCommandTests: XCTestCase {
    var temp: URL!
    override func setUpWithError() throws {
        temp = FileManager.default.temporaryDirectory.appendingPathComponent("diffphys-local-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: temp) }

    /// The Docs/LocalScores.md §5 toy as an n × H × W .npy: the CLI prints its test values.
    func testScoreCommandPrintsToyValues() throws {
        let images = (0..<3).flatMap { mu in
            (0..<25).map { k in let r = Double(k / 5), c = Double(k % 5); return sin(0.7 + 1.9 * Double(mu) + 0.83 * r + 0.37 * c + 0.11 * r * c) }
        }
        let path = temp.appendingPathComponent("toy.npy").path
        let shaped = try Dataset(points: Matrix(rows: 3, columns: 25, storage: images), name: "toy")
        try NPYLoader.write(shaped.points, to: path)
        // The same images as CSV with --image-shape.
        let csv = temp.appendingPathComponent("toy.csv").path
        try CSVLoader.write(shaped.points, header: false, to: csv)
        let x = (0..<25).map { k -> String in let r = Double(k / 5), c = Double(k % 5); return String(0.9 * cos(0.5 + 0.61 * r - 1.07 * c)) }
        let r = try CLI.run(["score", "--data", csv, "--image-shape", "5x5", "--score", "ls", "--patch", "3", "--t", "0.3",
                             "--x", x.joined(separator: ","), "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        struct Out: Decodable { var posteriorMean: [Double]; var score: [Double]; var y2: [Double]; var entropy: [Double]; var dictionarySize: [Int] }
        let out = try JSONDecoder().decode(Envelope<Out>.self, from: Data(r.stdout.utf8)).results
        XCTAssertEqual(out.posteriorMean[12], 0.844503455595996, accuracy: 1e-12)
        XCTAssertEqual(out.score[0], -0.704699369077413, accuracy: 1e-12)
        XCTAssertEqual(out.y2[8], 0.654756872025, accuracy: 1e-12)
        XCTAssertEqual(out.entropy[24], 0.823635093470, accuracy: 1e-12)
        XCTAssertEqual(out.dictionarySize, [Int](repeating: 3, count: 25))
        // A 2-D .npy has no image shape: one clear line.
        let bad = try CLI.run(["score", "--data", path, "--score", "ls", "--t", "0.3", "--x", x.joined(separator: ",")])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("image shape"), bad.stderr)
        let even = try CLI.run(["score", "--data", csv, "--image-shape", "5x5", "--score", "ls", "--patch", "4", "--t", "0.3", "--x", x.joined(separator: ",")])
        XCTAssertNotEqual(even.status, 0)
    }

    /// `speciation --score ls --estimator clones`: φ(t) by clones with nearest-image labels on the
    /// schema envelope with binomial standard errors (Docs/LocalScores.md §7); other estimators are refused.
    func testSpeciationClonesWithLocalScore() throws {
        let common = ["speciation", "--data", "digits:classes=0,1,per-class=6", "--estimator", "clones", "--pairs", "24",
                      "--times", "0.3,1", "--steps", "30", "--fit-samples", "0", "--json"]
        let r = try CLI.run(common + ["--score", "ls", "--patch", "15"])
        XCTAssertEqual(r.status, 0, r.stderr)
        struct M: Decodable { var value: Double; var stderr: Double }
        struct P: Decodable { var t: Double; var phi: M; var count: Int }
        struct Out: Decodable { var score: String; var phi: [P] }
        let out = try JSONDecoder().decode(Envelope<Out>.self, from: Data(r.stdout.utf8)).results
        XCTAssertTrue(out.score.contains("nearest training image"), out.score)
        XCTAssertEqual(out.phi.map(\.t), [0.3, 1])
        for p in out.phi {
            XCTAssertTrue((0...1).contains(p.phi.value))
            XCTAssertEqual(p.phi.stderr, (p.phi.value * (1 - p.phi.value) / Double(p.count)).squareRoot(), accuracy: 1e-12)
        }
        let bad = try CLI.run(common.map { $0 == "clones" ? "rb" : $0 } + ["--score", "ls", "--patch", "3"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("clones only"), bad.stderr)
    }

    func testSampleCommandWithLocalScore() throws {
        let r = try CLI.run(["sample", "--data", "digits:classes=0,1,per-class=10", "--score", "ls", "--patch", "3", "--samples", "4",
                             "--steps", "20", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        struct M: Decodable { var value: Double; var stderr: Double }
        struct Out: Decodable { var machine: String; var memorisedFraction: M; var samples: [S] }
        struct S: Decodable { var sample: [Double]; var gapRatio: Double }
        let out = try JSONDecoder().decode(Envelope<Out>.self, from: Data(r.stdout.utf8)).results
        XCTAssertEqual(out.machine, "ls")
        XCTAssertEqual(out.samples.count, 4)
        XCTAssertEqual(out.samples[0].sample.count, 64)
        XCTAssertTrue((0...1).contains(out.memorisedFraction.value))
    }
}

/// The schema envelope around a command's results (Docs/Schema.md).
private struct Envelope<R: Decodable>: Decodable { var results: R }
