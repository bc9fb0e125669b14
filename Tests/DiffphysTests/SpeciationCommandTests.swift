import Foundation
import XCTest

/// `diffphys speciation` (style of CommandLineTests; `CLI` runs the built executable).
final class SpeciationCommandTests: XCTestCase {
    func json(_ r: CLI.Result) throws -> [String: Any] {
        XCTAssertEqual(r.status, 0, r.stderr)
        let envelope = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        return try XCTUnwrap(envelope["results"] as? [String: Any], r.stdout)
    }

    /// Population gmm2 with every estimator: the required keys, Λ = d m̃² + σ² exactly, theory on every point.
    func testJSONKeysPopulationAll() throws {
        let j = try json(try CLI.run(["speciation", "--data", "gmm2:d=16,mtilde=1,sigma=1", "--times", "1,1.4,2",
                                      "--pairs", "200", "--samples", "200", "--steps", "40", "--estimator", "all", "--json"]))
        for key in ["lambda", "tS", "phi", "tCross", "tCrossOverTS", "estimators", "threshold"] {
            XCTAssertNotNil(j[key], "missing \(key)")
        }
        XCTAssertEqual(j["lambda"] as! Double, 17, accuracy: 1e-12)
        let tS = j["tS"] as! [String: Any]
        XCTAssertEqual(tS["primary"] as! Double, 0.5 * log(18.0), accuracy: 1e-12)
        XCTAssertEqual(tS["paper"] as! Double, 0.5 * log(17.0), accuracy: 1e-12)
        XCTAssertEqual(tS["curvature"] as! Double, 0.5 * log(18.0), accuracy: 1e-12)
        XCTAssertEqual(tS["drift"] as! Double, 0.5 * log(34.0), accuracy: 1e-12)
        let phi = j["phi"] as! [[String: Any]]
        XCTAssertEqual(phi.count, 3)
        for p in phi { for k in ["t", "phi", "theory"] { XCTAssertNotNil(p[k], "phi point lacks \(k)") } }
        let est = j["estimators"] as! [String: Any]
        XCTAssertEqual(Set(est.keys), ["clones", "rb", "uturn"])
        XCTAssertEqual(j["estimator"] as? String, "rb")
    }

    /// Population gmm2 clones run the exact 1-D reduction (said in text and JSON) with the step-halving
    /// check's `systematic` on every point; --full-dimensional forces the d-dimensional run (no check).
    func testReducedDynamicsReported() throws {
        let args = ["speciation", "--data", "gmm2:d=64,mtilde=1,sigma=1", "--times", "1.6,2.1,2.6", "--pairs", "2000", "--estimator", "clones"]
        let j = try json(try CLI.run(args + ["--json"]))
        XCTAssertEqual(j["dynamics"] as? String, "exact-1d-reduction")
        for p in j["phi"] as! [[String: Any]] {
            let value = try XCTUnwrap(p["phi"] as? [String: Any])
            let s = try XCTUnwrap(value["systematic"] as? Double, "no systematic")
            XCTAssertLessThan(s, 0.01)
            let v = value["value"] as! Double, se = value["stderr"] as! Double, th = p["theory"] as! Double
            XCTAssertLessThan(abs(v - th), 3.5 * (se * se + s * s).squareRoot(), "φ(\(p["t"]!)) vs exact")
        }
        let text = try CLI.run(args)
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssert(text.stdout.contains("dynamics: exact 1-D reduction"), text.stdout)
        let full = try json(try CLI.run(args + ["--json", "--full-dimensional", "--pairs", "100", "--steps", "40"]))
        XCTAssertEqual(full["dynamics"] as? String, "full-dimensional")
        XCTAssertNil(((full["phi"] as! [[String: Any]])[0]["phi"] as? [String: Any])?["systematic"])
        let unchecked = try json(try CLI.run(args + ["--json", "--no-check-steps", "--pairs", "200"]))
        XCTAssertNil((unchecked["phi"] as! [[String: Any]])[0]["systematic"])
    }

    /// Empirical score on a labelled dataset with --auto: 11 times, no analytic curve for a file,
    /// a plot and its data file.
    func testAutoEmpiricalWithPlot() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("diffphys-spec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let png = dir.appendingPathComponent("phi.png").path
        let r = try CLI.run(["speciation", "--data", "digits:classes=0,1", "--auto", "--samples", "300", "--json", "--plot", png])
        let j = try json(r)
        let phi = j["phi"] as! [[String: Any]]
        XCTAssertEqual(phi.count, 11)
        XCTAssertTrue(phi[0]["theory"] is NSNull, "no analytic curve for real data: theory is null")
        XCTAssertEqual(j["phiInfinity"] as! Double, 0.5, accuracy: 0.01)
        XCTAssertTrue(FileManager.default.fileExists(atPath: png.replacingOccurrences(of: ".png", with: ".dat")))
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/gnuplot") {
            XCTAssertTrue(FileManager.default.fileExists(atPath: png))
        }
    }

    /// Text output names the seed, the conventions and the three t_S.
    func testTextOutput() throws {
        let r = try CLI.run(["speciation", "--data", "gmm2:d=8,n=300", "--times", "0.5,1,1.5", "--samples", "100", "--seed", "7"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for s in ["seed 7", "conventions:", "½lnΛ", "½ln(1+Λ)", "½ln(2Λ)", "t_cross", "φ_theory"] {
            XCTAssert(r.stdout.contains(s), "text output lacks '\(s)':\n\(r.stdout)")
        }
    }

    /// Bad input: one-line error, non-zero exit, no crash.
    func testBadInputFailsCleanly() throws {
        let dir = FileManager.default.temporaryDirectory
        let unlabelled = dir.appendingPathComponent("unlabelled-\(UUID().uuidString).csv").path
        try "1,0\n-1,0\n0,2\n".write(toFile: unlabelled, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: unlabelled) }
        let cases: [[String]] = [
            ["speciation", "--data", "gmm2:d=8", "--threshold", "2"],
            ["speciation", "--data", "gmm2:d=8", "--pairs", "0"],
            ["speciation", "--data", "gmm2:d=8", "--samples", "1"],
            ["speciation", "--data", "gmm2:d=8", "--times", "1,-0.5"],
            ["speciation", "--data", "gmm2:d=8", "--times", "1,abc"],
            ["speciation", "--data", "gmm2:d=8", "--times", "1", "--auto"],
            ["speciation", "--data", unlabelled, "--estimator", "clones", "--times", "1"],
            ["speciation", "--data", "gaussian:d=8", "--times", "1"],
            ["speciation", "--data", "gmm2:d=8", "--times", "50", "--horizon", "10"],
            ["speciation", "--data", "gmm2:d=8", "--estimator", "best"],
            ["theory", "phi", "--tau", "nan"],
            ["theory", "phi", "--tau", "0.5", "--t", "1"],
        ]
        for args in cases {
            let r = try CLI.run(args)
            XCTAssertNotEqual(r.status, 0, "\(args) should fail")
            XCTAssert(r.status < 128, "\(args) crashed with status \(r.status): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n").filter { !$0.isEmpty && !$0.hasPrefix("Usage") && !$0.hasPrefix("  See") && !$0.hasPrefix("Help:") }
            XCTAssertEqual(lines.count, 1, "\(args): expected one error line, got:\n\(r.stderr)")
            XCTAssertFalse(r.stderr.contains("Fatal error"), "\(args): \(r.stderr)")
        }
    }

    /// `theory phi` as the issue asks: --d --mtilde --sigma --t and --tau.
    func testTheoryPhi() throws {
        let a = try json(try CLI.run(["theory", "phi", "--d", "256", "--mtilde", "1", "--sigma", "1", "--t", "3", "--json"]))
        XCTAssertEqual(a["phi"] as! Double, 0.70685, accuracy: 5e-6)
        let b = try json(try CLI.run(["theory", "phi", "--tau", "0.5", "--json"]))
        XCTAssertEqual(b["phiInfinity"] as! Double, 0.63910, accuracy: 5e-6)
        let c = try json(try CLI.run(["theory", "phi", "--d", "100", "--mtilde", "0.8", "--sigma", "0.5", "--t", "\(0.5 * log(1 + 64 - 0.25))", "--json"]))
        XCTAssertEqual(c["phi"] as! Double, 0.7752002454, accuracy: 1e-9)
    }
}
