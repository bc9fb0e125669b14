import Foundation
import XCTest

/// Issue 13: bad or extreme invocations fail with one clear line, extreme times give finite and
/// correct numbers (Docs/Theory.md §1.2), resumable folders refuse other settings, writes are atomic.
final class RobustnessTests: XCTestCase {
    var temp: URL!
    override func setUpWithError() throws {
        temp = FileManager.default.temporaryDirectory.appendingPathComponent("diffphys-robust-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: temp) }

    func path(_ name: String) -> String { temp.appendingPathComponent(name).path }
    func write(_ name: String, _ text: String) throws -> String {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }

    /// The corpus: every entry must exit non-zero (< 128: no signal), print exactly one
    /// "Error:" line, no crash or backtrace, and finish within 20 s.
    func testCorpusOfBadInvocationsFailsCleanly() throws {
        let good = try write("good.csv", "1,0\n-1,0\n0,2\n")
        let ragged = try write("ragged.csv", "1,2\n3\n")
        let nan = try write("nan.csv", "1,2\nnan,4\n")
        let empty = try write("empty.csv", "")
        let text = try write("f.txt", "hi\n")
        let file = try write("afile", "")
        try FileManager.default.createDirectory(atPath: path("dir.csv"), withIntermediateDirectories: true)
        let big = "1000000000000"
        let gmm = "gmm2:d=4,n=100"
        let cases: [(args: [String], env: [String: String])] = [
            // Sizes (each would allocate terabytes or run away).
            (["sample", "--data", "gmm2:d=4,n=\(big)", "--samples", "2"], [:]),
            (["sample", "--data", gmm, "--samples", big], [:]),
            (["sample", "--data", gmm, "--samples", "1000000000"], [:]),
            (["sample", "--data", gmm, "--steps", big], [:]),
            (["sample", "--data", "gaussian:d=1000000000,n=10", "--samples", "2"], [:]),
            (["bench", "--batch", big, "--n", "100", "--d", "4"], [:]),
            (["bench", "--n", "1000000000", "--d", "1000000"], [:]),
            (["speciation", "--data", gmm, "--pairs", big], [:]),
            (["speciation", "--data", gmm, "--points", "1000000000", "--pairs", "20"], [:]),
            (["score", "--data", "gaussian:d=4,n=\(big)", "--t", "1", "--x", "1,1,1,1"], [:]),
            (["overview", "--data", gmm, "--points", big], [:]),
            (["collapse", "--data", "gaussian:d=4,n=100", "--samples", big], [:]),
            (["collapse", "--data", "gaussian:d=4,n=100", "--trajectories", big], [:]),
            (["pfgm", "sample", "--data", "gaussian:d=4,n=100", "--samples", big], [:]),
            (["memorization-map", "--data", "gaussian:d=4,n=10", "--n", "100000000000", "--out", path("mm")], [:]),
            (["sample", "--data", good], ["DIFFPHYS_MEMORY": "1000"]),
            // Times.
            (["score", "--data", good, "--t", "-1", "--x", "0,0"], [:]),
            (["score", "--data", good, "--t", "0", "--x", "0,0"], [:]),
            (["score", "--data", good, "--t", "nan", "--x", "0,0"], [:]),
            (["score", "--data", good, "--t", "inf", "--x", "0,0"], [:]),
            (["score", "--data", good, "--t", "1e-320", "--x", "0,0.5"], [:]),
            (["sample", "--data", good, "--t-min", "-1"], [:]),
            (["sample", "--data", good, "--horizon", "-5"], [:]),
            (["sample", "--data", good, "--horizon", "1", "--t-min", "2"], [:]),
            (["sample", "--data", good, "--steps", "-1"], [:]),
            (["collapse", "--data", good, "--times", "-1,2"], [:]),
            (["speciation", "--data", gmm, "--times", "0,1"], [:]),
            (["memorization-map", "--times", "-0.5", "--n", "10", "--out", path("mm2")], [:]),
            // Points, noise levels, formats.
            (["score", "--data", good, "--t", "1", "--x", "1e308,0"], [:]),
            (["score", "--data", good, "--t", "1", "--x", "abc,0"], [:]),
            (["score", "--data", good, "--t", "1", "--x", "1,2,3"], [:]),
            (["score", "--data", good, "--t", "1", "--x", ""], [:]),
            (["score", "--data", good, "--t", "1", "--x", "-1e400,0"], [:]),
            (["pfgm", "field", "--data", good, "--noise-level", "1e-300", "--x", "1,1"], [:]),
            (["pfgm", "field", "--data", good, "--noise-level", "1", "--x", "1e200,1"], [:]),
            (["pfgm", "field", "--data", good, "--extra-dimensions", "4", "--noise-level", "1e-300", "--x", "1,1"], [:]),
            (["pfgm", "field", "--data", good, "--noise-level", "-1", "--x", "1,1"], [:]),
            (["pfgm", "field", "--data", good, "--noise-level", "1", "--x", "1,1", "--extra-dimensions", "-3"], [:]),
            (["pfgm", "sample", "--data", good, "--sigma-max", "1e300"], [:]),
            (["pfgm", "sample", "--data", good, "--sigma-min", "0"], [:]),
            (["pfgm", "sample", "--data", good, "--samples", "-1"], [:]),
            (["speciation", "--data", gmm, "--threshold", "2"], [:]),
            (["overview", "--data", good, "--points", "-3"], [:]),
            (["bench", "--batch", "-1"], [:]),
            (["theory", "collapse-time", "--n", "-5", "--d", "10"], [:]),
            // Specs and files.
            (["score", "--data", "nosuch:d=3", "--t", "1", "--x", "1"], [:]),
            (["score", "--data", "gaussian:d=0,n=10", "--t", "1", "--x", "1"], [:]),
            (["score", "--data", "gaussian:d=4,n=-3", "--t", "1", "--x", "1,1,1,1"], [:]),
            (["score", "--data", "gmm2:d=4,n=10,sigma=-1", "--t", "1", "--x", "1,1,1,1"], [:]),
            (["score", "--data", path("missing.csv"), "--t", "1", "--x", "1"], [:]),
            (["score", "--data", ragged, "--t", "1", "--x", "0,0"], [:]),
            (["score", "--data", nan, "--t", "1", "--x", "0,0"], [:]),
            (["score", "--data", empty, "--t", "1", "--x", "0,0"], [:]),
            (["score", "--data", text, "--t", "1", "--x", "1"], [:]),
            // Environment.
            (["score", "--data", good, "--t", "1", "--x", "0,0"], ["DIFFPHYS_THREADS": "0"]),
            (["score", "--data", good, "--t", "1", "--x", "0,0"], ["DIFFPHYS_THREADS": "-5"]),
            (["score", "--data", good, "--t", "1", "--x", "0,0"], ["DIFFPHYS_THREADS": "abc"]),
            (["score", "--data", good, "--t", "1", "--x", "0,0"], ["DIFFPHYS_MEMORY": "abc"]),
            (["sample", "--data", good, "--threads", "0"], [:]),
            (["sample", "--data", good, "--threads", "-2"], [:]),
            // Output paths.
            (["sample", "--data", good, "--out", "/proc/nope/x.csv"], [:]),
            (["sample", "--data", good, "--out", path("x.txt")], [:]),
            (["sample", "--data", good, "--out", path("dir.csv")], [:]),
            (["sample", "--data", good, "--out", file + "/x.csv"], [:]),
            (["memorization-map", "--data", "gaussian:d=4,n=10", "--n", "10", "--times", "1", "--samples", "10", "--out", file], [:]),
            (["reproduce", "nosuchstudy"], [:]),
            (["reproduce"], [:]),
        ]
        XCTAssertGreaterThanOrEqual(cases.count, 60)
        for (args, env) in cases {
            let start = Date()
            let r = try CLI.run(args, environment: env)
            let seconds = Date().timeIntervalSince(start)
            let label = "\(env.map { "\($0.key)=\($0.value) " }.joined())\(args.joined(separator: " "))"
            XCTAssertNotEqual(r.status, 0, "\(label) should fail")
            XCTAssert(r.status < 128, "\(label) died with status \(r.status): \(r.stderr)")
            let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }
            XCTAssertEqual(errors.count, 1, "\(label): expected one error line, got:\n\(r.stderr)")
            XCTAssertFalse(r.stderr.contains("Fatal error") || r.stderr.contains("Stack dump") || r.stderr.contains("backtrace")
                           || r.stderr.contains("NSCocoaErrorDomain"), "\(label): \(r.stderr)")
            XCTAssertLessThan(seconds, 20, "\(label) took \(seconds) s")
        }
    }

    /// Docs/Theory.md §1.2, t → ∞: w → 1/n, Y2 → 1/n, F → e^{−t} ā − x, ln P → ln N(x; 0, I).
    /// The §1.3 three-point data; finite and correct up to t = 10⁶ (NaN for t ≥ 355 before).
    func testExtremeTimesAreFiniteAndMatchTheLimits() throws {
        let data = try write("three.csv", "1,0\n-1,0\n0,2\n")
        let x = [0.3, -0.2]
        for t in [30.0, 354, 355, 400, 1000, 1e6] {
            let r = try CLI.run(["score", "--data", data, "--t", "\(t)", "--x", "0.3,-0.2", "--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let envelope = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
            XCTAssertEqual((envelope["warnings"] as? [String])?.isEmpty, true, "t = \(t): \(r.stdout)")
            let j = envelope["results"] as! [String: Any]
            let w = j["weights"] as! [Double], f = j["score"] as! [Double]
            let y2 = j["y2"] as! Double, lnP = j["logDensity"] as! Double
            // Corrections to the limits are O(e^{−t}|x||a|) ≤ 1e-12 at t = 30.
            for v in w { XCTAssertEqual(v, 1.0 / 3, accuracy: 1e-12, "w at t = \(t)") }
            XCTAssertEqual(y2, 1.0 / 3, accuracy: 1e-12, "Y2 at t = \(t)")
            let mean = [0.0, 2.0 / 3], decay = exp(-t)
            for k in 0..<2 { XCTAssertEqual(f[k], decay * mean[k] - x[k], accuracy: 1e-12, "F at t = \(t)") }
            XCTAssertEqual(lnP, -0.5 * (0.09 + 0.04) - log(2 * Double.pi), accuracy: 1e-10, "ln P at t = \(t)")
        }
        // The forward-sampling estimators at large t: E[Y2] = 1/n, f^e/α = 1 (all finite).
        let r = try CLI.run(["collapse", "--data", "gaussian:d=4,n=50", "--times", "20,50,100,400,1000000", "--samples", "40",
                             "--trajectories", "0", "--fresh", "0", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try CLI.results(r)
        let curve = j["curve"] as! [[String: Any]]
        XCTAssertEqual(curve.count, 5)
        for row in curve {
            XCTAssertEqual((row["y2"] as! [String: Any])["value"] as! Double, 1.0 / 50, accuracy: 1e-12, "E[Y2] at t = \(row["t"]!)")
            XCTAssertEqual((row["feRatio"] as! [String: Any])["value"] as! Double, 1, accuracy: 1e-8, "f^e/α at t = \(row["t"]!)")
        }
    }

    /// Arguments: a negative number after an option reaches validation; Λ = 0 warns.
    func testNegativeNumbersAndDegenerateData() throws {
        let good = try write("good.csv", "1,0\n-1,0\n")
        let neg = try CLI.run(["score", "--data", good, "--t", "-1", "--x", "-0.3,0.2"])
        XCTAssertTrue(neg.stderr.contains("--t must be a finite time > 0"), neg.stderr)
        let ok = try CLI.run(["score", "--data", good, "--t", "0.5", "--x", "-0.3,0.2"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        let constant = try write("const.csv", "1,2\n1,2\n1,2\n")
        let o = try CLI.run(["overview", "--data", constant, "--points", "3", "--samples", "10"])
        XCTAssertTrue(o.stderr.contains("Λ = 0") && o.stderr.contains("constant data"), o.stderr)
    }

    /// Standard output that cannot be written: non-zero exit with a message.
    func testFullStandardOutputFails() throws {
        let good = try write("good.csv", "1,0\n-1,0\n")
        guard FileManager.default.isWritableFile(atPath: "/dev/full") else { throw XCTSkip("no /dev/full") }
        let p = Process()
        p.executableURL = CLI.executable
        p.arguments = ["score", "--data", good, "--t", "1", "--x", "0,0"]
        p.standardOutput = FileHandle(forWritingAtPath: "/dev/full")
        let err = Pipe()
        p.standardError = err
        try p.run()
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertNotEqual(p.terminationStatus, 0)
        XCTAssertLessThan(p.terminationStatus, 128)
        XCTAssertTrue(e.contains("standard output"), e)
    }

    /// Resume refusal: a rerun into a memorization-map folder with any manifest field changed is
    /// refused with a line naming that field, and leaves the folder byte-identical; --fresh starts over.
    func testManifestRefusesEveryChangedField() throws {
        let data = try write("pts.csv", (0..<40).map { "\(Double($0) * 0.1),\(sin(Double($0)))" }.joined(separator: "\n") + "\n")
        let base: [String: String] = ["--data": "gaussian:d=4,n=10", "--n": "20", "--times": "0.5,1", "--samples": "20", "--seed": "3"]
        func args(_ o: [String: String], out: String) -> [String] {
            ["memorization-map"] + o.keys.sorted().flatMap { [$0, o[$0]!] } + ["--out", out]
        }
        let dir = path("map")
        let first = try CLI.run(args(base, out: dir))
        XCTAssertEqual(first.status, 0, first.stderr)
        func snapshot(_ d: String) throws -> [String: Data] {
            var s: [String: Data] = [:]
            for f in try FileManager.default.contentsOfDirectory(atPath: d) { s[f] = FileManager.default.contents(atPath: d + "/" + f) }
            return s
        }
        let before = try snapshot(dir)
        XCTAssertNotNil(before["manifest.json"])
        let changes: [(String, String, String)] = [("--data", "gaussian:d=4,n=10,sigma=2", "data"), ("--n", "30", "n"),
                                                   ("--times", "0.5,2", "times"), ("--samples", "30", "samples"),
                                                   ("--seed", "4", "seed"), ("--d", "4,8", "d")]
        for (option, value, field) in changes {
            var o = base
            o[option] = value
            let r = try CLI.run(args(o, out: dir))
            XCTAssertNotEqual(r.status, 0, "\(option) \(value) should be refused")
            XCTAssertTrue(r.stderr.contains(field + " "), "\(option): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }.count, 1, r.stderr)
            XCTAssertEqual(try snapshot(dir), before, "\(option) changed the folder")
        }
        // File data: the same path with other content is refused through its content hash.
        let fileDir = path("filemap")
        var o = base
        o["--data"] = data; o["--n"] = "20"; o["--d"] = nil
        XCTAssertEqual(try CLI.run(args(o, out: fileDir)).status, 0)
        let fileBefore = try snapshot(fileDir)
        _ = try write("pts.csv", (0..<40).map { "\(Double($0) * 0.2),\(cos(Double($0)))" }.joined(separator: "\n") + "\n")
        let changed = try CLI.run(args(o, out: fileDir))
        XCTAssertNotEqual(changed.status, 0)
        XCTAssertTrue(changed.stderr.contains("dataHash"), changed.stderr)
        XCTAssertEqual(try snapshot(fileDir), fileBefore)
        // --fresh starts over.
        var fresh = base
        fresh["--seed"] = "4"
        let f = try CLI.run(args(fresh, out: dir) + ["--fresh"])
        XCTAssertEqual(f.status, 0, f.stderr)
        XCTAssertTrue(try String(contentsOfFile: dir + "/manifest.json", encoding: .utf8).contains("\"4\""))
    }

    /// Reproduce: a finished seed-1 study folder refuses seed 2 and quick/full changes.
    func testReproduceRefusesOtherSeed() throws {
        let out = path("results")
        let a = try CLI.run(["reproduce", "theory-panels", "--quick", "--out", out])
        guard a.status == 0 else { throw XCTSkip("theory-panels study unavailable: \(a.stderr)") }
        let dir = out + "/theory-panels"
        let before = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        let checks = FileManager.default.contents(atPath: dir + "/checks.csv")
        for extra in [["--quick", "--seed", "2"], []] {
            let r = try CLI.run(["reproduce", "theory-panels", "--out", out] + extra)
            XCTAssertNotEqual(r.status, 0, "\(extra) should be refused")
            XCTAssertTrue(r.stderr.contains(extra.isEmpty ? "quick" : "seed"), r.stderr)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), before)
            XCTAssertEqual(FileManager.default.contents(atPath: dir + "/checks.csv"), checks)
        }
    }

    /// A writer killed mid-write never leaves a file under its final name: `sample --out` with a
    /// large output is killed as soon as its temporary file appears.
    func testKilledWriteLeavesNoFinalFile() throws {
        let out = path("sub/samples.csv")
        for attempt in 0..<3 {
            let p = Process()
            p.executableURL = CLI.executable
            p.arguments = ["sample", "--data", "gaussian:d=200,n=20", "--samples", "20000", "--steps", "2", "--final", "none",
                           "--out", out, "--threads", "1"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            var sawTemporary = false
            let deadline = Date().addingTimeInterval(30)
            while p.isRunning && Date() < deadline {
                let files = (try? FileManager.default.contentsOfDirectory(atPath: path("sub"))) ?? []
                if files.contains(where: { $0.hasPrefix(".samples.csv.tmp") }) { sawTemporary = true; break }
                usleep(500)
            }
            let interrupted = p.isRunning
            if interrupted { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
            if interrupted && sawTemporary {
                XCTAssertFalse(FileManager.default.fileExists(atPath: out), "a partial file under the final name")
                return
            }
            try? FileManager.default.removeItem(atPath: path("sub"))
            print("RobustnessTests: attempt \(attempt) finished before the kill; retrying")
        }
        XCTFail("could not kill the writer mid-write in 3 attempts")
    }

    /// A full disk (a 64 kB tmpfs; needs root) exits non-zero and leaves no partial final file.
    func testFullDiskLeavesNoPartialFile() throws {
        guard getuid() == 0 else { throw XCTSkip("mounting a tmpfs needs root") }
        let mount = path("tiny")
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        let m = Process()
        m.executableURL = URL(fileURLWithPath: "/bin/mount")
        m.arguments = ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mount]
        try m.run(); m.waitUntilExit()
        guard m.terminationStatus == 0 else { throw XCTSkip("cannot mount a tmpfs here") }
        defer {
            let u = Process()
            u.executableURL = URL(fileURLWithPath: "/bin/umount")
            u.arguments = [mount]
            try? u.run(); u.waitUntilExit()
        }
        let out = mount + "/samples.csv"
        let r = try CLI.run(["sample", "--data", "gaussian:d=50,n=20", "--samples", "2000", "--steps", "2", "--final", "none", "--out", out])
        XCTAssertNotEqual(r.status, 0, "a full disk must fail")
        XCTAssertLessThan(r.status, 128)
        XCTAssertTrue(r.stderr.lowercased().contains("space"), r.stderr)   // the cause, worded by the CSV writer
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "partial final file left on a full disk")
        XCTAssertTrue(try FileManager.default.contentsOfDirectory(atPath: mount).isEmpty, "temporary file left behind")
    }
}
