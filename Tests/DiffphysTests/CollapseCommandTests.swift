import Foundation
import XCTest
import DiffusionPhysics

final class CollapseCommandTests: XCTestCase {
    var temp: URL!
    override func setUpWithError() throws {
        temp = FileManager.default.temporaryDirectory.appendingPathComponent("diffphys-collapse-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: temp) }

    /// `collapse --json`: the documented keys, eq. 10 from the library, an E[Y2] curve through ½.
    func testCollapseJSON() throws {
        let r = try CLI.run(["collapse", "--data", "gaussian:d=16,n=100", "--auto", "--points", "8", "--samples", "200",
                             "--trajectories", "40", "--steps", "60", "--fresh", "100", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try CLI.results(r)
        let alpha = json["alpha"] as! Double
        XCTAssertEqual(alpha, log(100.0) / 16, accuracy: 1e-12)
        let tCObject = json["tC"] as! [String: Any]
        let predicted = tCObject["predicted"] as! [String: [String: Any]], measured = tCObject["measured"] as! [String: [String: Any]]
        XCTAssertEqual(predicted["gaussian"]!["value"] as! Double, CollapseTheory.tCGaussian(n: 100, d: 16), accuracy: 1e-12)
        XCTAssertNotNil(predicted["spectrum"])
        for key in ["y2", "trajectory", "entropy10", "entropy05"] { XCTAssertNotNil(measured[key], key) }
        XCTAssertEqual((tCObject["primary"] as! [String: Any])["value"] as? Double, measured["y2"]!["value"] as? Double, "primary t_C is E[Y2] = ½")
        let curve = json["curve"] as! [[String: Any]]
        XCTAssertEqual(curve.count, 8)
        for key in ["t", "y2", "wOrigin", "fe", "feRatio", "y2Rem", "y2NonPlanted"] { XCTAssertNotNil(curve[0][key], key) }
        let y2 = curve.map { ($0["y2"] as! [String: Any])["value"] as! Double }
        XCTAssertGreaterThan(y2.first!, 0.5)
        XCTAssertLessThan(y2.last!, 0.5)
        let traj = json["trajectory"] as! [String: Any]
        XCTAssertEqual((traj["histogram"] as! [String: Any])["counts"].map { ($0 as! [Int]).reduce(0, +) }, 40)
        XCTAssertEqual((traj["memorization"] as! [Any]).count, 3)
    }

    func testCollapseBadInput() throws {
        for args in [["collapse", "--samples", "1"], ["collapse", "--times", "0.1,abc"], ["collapse", "--times", "0.1,-1"],
                     ["collapse", "--horizon", "0.0001"], ["collapse", "--auto", "--times", "1"],
                     ["memorization-map", "--n", "100", "--out", temp.path, "--times", "0"],
                     ["memorization-map", "--data", "digits:classes=0,1", "--n", "50", "--d", "8", "--out", temp.path],
                     ["memorization-map", "--n", "1.5", "--out", temp.path]] {
            let r = try CLI.run(args)
            XCTAssertNotEqual(r.status, 0, "\(args) should fail")
            XCTAssert(r.status < 128, "\(args) crashed: \(r.stderr)")
            XCTAssertFalse(r.stderr.isEmpty, "\(args): no message")
        }
    }

    /// A sweep stopped after 3 rows, with a half-written line left behind (as a kill mid-write
    /// leaves it), resumes to a CSV identical to an uninterrupted run's.
    func testMemorizationMapResume() throws {
        let common = ["memorization-map", "--data", "gaussian:d=8,n=10", "--n", "30,60", "--d", "4,8",
                      "--times", "0.1,0.5,1.5", "--samples", "80", "--seed", "2"]
        let full = temp.appendingPathComponent("full").path, part = temp.appendingPathComponent("part").path
        let a = try CLI.run(common + ["--out", full, "--json"])
        XCTAssertEqual(a.status, 0, a.stderr)
        let b = try CLI.run(common + ["--out", part, "--stop-after", "3"])
        XCTAssertEqual(b.status, 0, b.stderr)
        let partCSV = (part as NSString).appendingPathComponent("map.csv")
        XCTAssertEqual(try String(contentsOfFile: partCSV, encoding: .utf8).split(separator: "\n").count, 4)
        let h = FileHandle(forWritingAtPath: partCSV)!
        h.seekToEndOfFile()
        h.write(Data("30,8,0.4".utf8))
        try h.close()
        let c = try CLI.run(common + ["--out", part])
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertTrue(c.stdout.contains("measured"), c.stdout)
        let fullCSV = (full as NSString).appendingPathComponent("map.csv")
        XCTAssertEqual(try String(contentsOfFile: partCSV, encoding: .utf8), try String(contentsOfFile: fullCSV, encoding: .utf8))
        let json = try CLI.results(a)
        XCTAssertEqual((json["rows"] as! [Any]).count, 12)
        XCTAssertEqual((json["thresholds"] as! [Any]).count, 4)
    }

    /// A real interruption: the CLI is killed (SIGKILL) once rows are on disk, then rerun; the
    /// CSV equals an uninterrupted run's. The kill must land before completion: if the run
    /// finished first, the attempt is retried with an earlier kill (after 2, 1, then 0 rows).
    func testMemorizationMapSurvivesKill() throws {
        let common = ["memorization-map", "--data", "gaussian:d=32,n=10", "--n", "2000,3000",
                      "--times", "0.2,0.4,0.6,0.8,1.0,1.3", "--samples", "1500", "--seed", "5", "--threads", "1"]
        let killed = temp.appendingPathComponent("killed").path, full = temp.appendingPathComponent("full").path
        let csv = (killed as NSString).appendingPathComponent("map.csv")
        var interrupted = false
        for killAfter in [2, 1, 0] where !interrupted {
            try? FileManager.default.removeItem(atPath: killed)
            let p = Process()
            p.executableURL = CLI.executable
            p.arguments = common + ["--out", killed]
            var env = ProcessInfo.processInfo.environment
            env["OPENBLAS_NUM_THREADS"] = "1"
            p.environment = env
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            let deadline = Date().addingTimeInterval(60)
            while p.isRunning && Date() < deadline {
                if let text = try? String(contentsOfFile: csv, encoding: .utf8), text.split(separator: "\n").count - 1 >= killAfter { break }
                usleep(2_000)
            }
            interrupted = p.isRunning
            if interrupted { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
            if interrupted { XCTAssertEqual(p.terminationReason, .uncaughtSignal, "the run was killed, not finished") }
        }
        XCTAssertTrue(interrupted, "every attempt finished before the kill")
        let left = ((try? String(contentsOfFile: csv, encoding: .utf8)) ?? "").split(separator: "\n").count - 1
        XCTAssertLessThan(left, 12, "the kill happened before completion")
        print("CollapseCommandTests: rows on disk after the kill: \(left) of 12")
        let r = try CLI.run(common + ["--out", killed])
        XCTAssertEqual(r.status, 0, r.stderr)
        let u = try CLI.run(common + ["--out", full])
        XCTAssertEqual(u.status, 0, u.stderr)
        XCTAssertEqual(try String(contentsOfFile: csv, encoding: .utf8),
                       try String(contentsOfFile: (full as NSString).appendingPathComponent("map.csv"), encoding: .utf8))
    }
}
