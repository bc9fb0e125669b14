@testable import DiffusionPhysics
import Foundation
import XCTest

/// The schema types of Output/OutputSchema.swift (Docs/Schema.md).
final class OutputSchemaTests: XCTestCase {
    func object(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// An envelope lists its nulled non-finite numbers in its own `warnings` key (once, after the
    /// run's own warnings), and writes every envelope key even when empty.
    func testEnvelopeCarriesNonFiniteWarnings() throws {
        struct R: Encodable { var a: Double; var b: [Double] }
        let e = OutputEnvelope(command: "test", data: nil, parameters: ["seed": 1], warnings: ["own caveat"],
                               results: R(a: .nan, b: [1, -.infinity]))
        let text = try JSONOutput.encode(e)
        XCTAssertEqual(text.components(separatedBy: "\"warnings\"").count, 2, "one warnings key:\n\(text)")
        let j = try object(text)
        XCTAssertEqual(Set(j.keys), Set(OutputEnvelope<R>.envelopeKeys))
        XCTAssertTrue(j["data"] is NSNull)
        let w = try XCTUnwrap(j["warnings"] as? [String])
        XCTAssertEqual(w.count, 3, "\(w)")
        XCTAssertEqual(w[0], "own caveat")
        XCTAssertTrue(w[1].hasPrefix("results.a (nan)"), "\(w)")
        XCTAssertTrue(w[2].hasPrefix("results.b[1] (-inf)"), "\(w)")
        XCTAssertTrue((j["results"] as? [String: Any])?["a"] is NSNull)
        XCTAssertFalse(text.contains("nan\"") || text.contains("inf\""), text)
        let clean = try object(try JSONOutput.encode(OutputEnvelope(command: "test", data: nil, parameters: [:], results: R(a: 1, b: []))))
        XCTAssertEqual(clean["warnings"] as? [String], [])
        XCTAssertEqual(clean["schemaVersion"] as? Int, OutputSchema.version)
    }

    /// Shared shapes: a measured value always has stderr; mean estimates and crossings use the same
    /// keys; t_S carries the primary ½ ln(1 + Λ); t_C's primary is the measured E[Y2] = ½ time.
    func testSharedShapes() throws {
        let exact = try object(try JSONOutput.encode(Measured.exact(0.5)))
        XCTAssertEqual(Set(exact.keys), ["value", "stderr"])
        XCTAssertTrue(exact["stderr"] is NSNull)
        let m = try object(try JSONOutput.encode(Measured(1, stderr: 0.1, systematic: 0.01)))
        XCTAssertEqual(Set(m.keys), ["value", "stderr", "systematic"])
        let mean = try object(try JSONOutput.encode(MeanEstimate(mean: 2, standardError: 0.2, count: 9)))
        XCTAssertEqual(Set(mean.keys), ["value", "stderr", "count"])
        let cross = try object(try JSONOutput.encode(LevelCrossing(t: 0.7, standardError: 0.01)))
        XCTAssertEqual(Set(cross.keys), ["value", "stderr"])
        let lambda = 3.0
        let tS = try object(try JSONOutput.encode(SpeciationTimeOutput(SpeciationTheory.tS(lambda: lambda))))
        XCTAssertEqual(tS["primary"] as? Double ?? .nan, 0.5 * log(1 + lambda), accuracy: 1e-15)
        XCTAssertEqual(tS["paper"] as? Double ?? .nan, 0.5 * log(lambda), accuracy: 1e-15)
        XCTAssertEqual(tS["primaryConvention"] as? String, "curvature")
        let tC = CollapseTimeOutput(measured: ["y2": Measured(0.8, stderr: 0.01), "entropy10": Measured(0.6, stderr: 0.02)],
                                    predicted: ["spectrum": .exact(0.78)])
        XCTAssertEqual(tC.primary, Measured(0.8, stderr: 0.01))
        let none = try object(try JSONOutput.encode(CollapseTimeOutput(measured: [:], predicted: [:])))
        XCTAssertTrue(none["primary"] is NSNull, "primary is always written")
        // PhiPoint round-trips through its schema form {t, phi: {value, stderr}, theory, count}.
        let p = PhiPoint(t: 1, measured: 0.8, stderr: 0.02, theory: nil, count: 10)
        let data = try JSONEncoder().encode(p)
        XCTAssertEqual(try JSONDecoder().decode(PhiPoint.self, from: data), p)
        XCTAssertNotNil((try object(String(decoding: data, as: UTF8.self))["phi"] as? [String: Any])?["stderr"])
    }

    /// CSV: a missing value is an empty cell, ±∞ stays a value; gnuplot data keeps columns aligned.
    func testCSVMissingValues() {
        var t = CSVTable(header: ["t", "y2", "d"])
        t.append([.number(0.5), .number(.nan), .number(.infinity)])
        XCTAssertEqual(t.text, "t,y2,d\n0.5,,inf\n")
        XCTAssertEqual(CSVTable.spaceSeparated(t.text), "t y2 d\n0.5 nan inf\n")
    }
}
