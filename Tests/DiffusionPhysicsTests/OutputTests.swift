import DiffusionPhysics
import Foundation
import XCTest

/// Output layer (issue 13): JSON nulls with warnings, atomic files, run manifests, memory budget.
final class OutputTests: XCTestCase {
    var temp: URL!
    override func setUpWithError() throws {
        temp = FileManager.default.temporaryDirectory.appendingPathComponent("diffphys-output-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: temp) }

    struct Sample: Encodable { var a: Double; var b: [Double]; var c: String; var d: Double }

    /// Non-finite numbers become null, listed by key path in `warnings`; finite output is unchanged.
    func testJSONWritesNullAndWarnings() throws {
        let text = try JSONOutput.encode(Sample(a: .nan, b: [1, .infinity], c: "x", d: 2.5))
        let j = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        XCTAssertTrue(j["a"] is NSNull)
        XCTAssertTrue((j["b"] as! [Any])[1] is NSNull)
        XCTAssertEqual(j["d"] as? Double, 2.5)
        let warnings = j["warnings"] as! [String]
        XCTAssertEqual(warnings.count, 2)
        XCTAssertTrue(warnings[0].hasPrefix("a (nan)"), "\(warnings)")
        XCTAssertTrue(warnings[1].hasPrefix("b[1] (inf)"), "\(warnings)")
        let compact = try JSONOutput.encode(Sample(a: -.infinity, b: [], c: "y", d: 1), pretty: false)
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(compact.utf8)))
        let clean = try JSONOutput.encode(Sample(a: 1, b: [2], c: "z", d: 3))
        XCTAssertFalse(clean.contains("warnings"))
    }

    /// Atomic writes create folders, replace files, and leave nothing on failure.
    func testAtomicFile() throws {
        let p = temp.appendingPathComponent("a/b/c.txt").path
        try writeText("one\n", to: p)
        try writeText("two\n", to: p)
        XCTAssertEqual(try String(contentsOfFile: p, encoding: .utf8), "two\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: temp.appendingPathComponent("a/b").path), ["c.txt"])
        struct Boom: Error {}
        XCTAssertThrowsError(try AtomicFile.replace(p) { tmp in
            try "partial".write(toFile: tmp, atomically: false, encoding: .utf8)
            throw Boom()
        })
        XCTAssertEqual(try String(contentsOfFile: p, encoding: .utf8), "two\n", "a failed write kept the old file")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: temp.appendingPathComponent("a/b").path), ["c.txt"])
        XCTAssertThrowsError(try AtomicFile.replace(temp.appendingPathComponent("e.png").path, allowEmpty: false) { tmp in
            FileManager.default.createFile(atPath: tmp, contents: Data())
        }) { XCTAssertTrue("\($0)".contains("empty"), "\($0)") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: temp.appendingPathComponent("e.png").path))
    }

    /// A manifest resumes when equal, refuses naming the fields when not, and `fresh` starts over.
    func testRunManifest() throws {
        let dir = temp.appendingPathComponent("run").path
        let m = RunManifest(["data": "gaussian:d=4", "seed": "1"])
        try m.claim(directory: dir, rowFiles: ["rows.csv"], fresh: false)
        try writeText("rows\n", to: dir + "/rows.csv")
        try m.claim(directory: dir, rowFiles: ["rows.csv"], fresh: false)
        XCTAssertThrowsError(try RunManifest(["data": "gaussian:d=4", "seed": "2"]).claim(directory: dir, rowFiles: ["rows.csv"], fresh: false)) {
            XCTAssertTrue("\($0)".contains("seed 1 → 2"), "\($0)")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/rows.csv"))
        try RunManifest(["data": "gaussian:d=4", "seed": "2"]).claim(directory: dir, rowFiles: ["rows.csv"], fresh: true)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/rows.csv"))
        // Rows without a manifest are of unknown origin.
        let legacy = temp.appendingPathComponent("legacy").path
        try writeText("rows\n", to: legacy + "/rows.csv")
        XCTAssertThrowsError(try m.claim(directory: legacy, rowFiles: ["rows.csv"], fresh: false))
        // FNV-1a test vector: "a" → af63dc4c8601ec8c.
        XCTAssertEqual(RunManifest.contentHash(Data("a".utf8)), "af63dc4c8601ec8c")
    }

    /// The budget names the largest item and formats sizes; 10¹² × 10¹² does not overflow.
    func testMemoryBudget() throws {
        XCTAssertNoThrow(try MemoryBudget.check([.init(option: "--count", value: 10, values: 1e3)], available: 1e9))
        XCTAssertThrowsError(try MemoryBudget.check([.init(option: "--count", value: "1000000000000", values: 1e12 * 1e12),
                                                     .init(option: "--steps", value: 3, values: 10)], available: 23e9)) {
            XCTAssertTrue("\($0)".hasPrefix("--count 1000000000000: needs ≈"), "\($0)")
            XCTAssertTrue("\($0)".contains("23.0 GB available"), "\($0)")
        }
        XCTAssertEqual(MemoryBudget.format(bytes: 64e12), "64.0 TB")
        XCTAssertGreaterThan(MemoryBudget.availableBytes, 0)
    }

    /// The engine's point scale: x against e^{−t} a at Δ_t equals the VE form where both are
    /// finite (t = 0.5, the §1.3 vector) and stays finite at t = 10⁶ (uniform weights).
    func testPointScaleMatchesVEForm() throws {
        let points = Matrix(rows: 3, columns: 2, storage: [1, 0, -1, 0, 0, 2])
        let post = try EmpiricalPosterior(points: points)
        let x = Matrix(rows: 1, columns: 2, storage: [0.3, -0.2])
        let a = PosteriorWorkspace(capacity: 1, dimension: 2, components: 3, classes: 0)
        let b = PosteriorWorkspace(capacity: 1, dimension: 2, components: 3, classes: 0)
        let t = 0.5
        post.evaluate(x, rows: 1, scale: exp(t), sigma2: expm1(2 * t), workspace: a, outputs: .all)
        post.evaluate(x, rows: 1, scale: 1, pointScale: exp(-t), sigma2: -expm1(-2 * t), workspace: b, outputs: .all)
        for mu in 0..<3 { XCTAssertEqual(a.weights.storage[mu], b.weights.storage[mu], accuracy: 1e-14) }
        XCTAssertEqual(b.weights.storage[0], 0.5631592521, accuracy: 1e-10)
        XCTAssertEqual(a.logSumExp[0], b.logSumExp[0], accuracy: 1e-13)
        post.evaluate(x, rows: 1, scale: 1, pointScale: exp(-1e6), sigma2: 1, workspace: b, outputs: .all)
        for mu in 0..<3 { XCTAssertEqual(b.weights.storage[mu], 1.0 / 3, accuracy: 1e-15) }
        XCTAssertEqual(b.logSumExp[0], log(3) - 0.5 * 0.13, accuracy: 1e-14)
    }
}
