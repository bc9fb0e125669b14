import Foundation
import XCTest

/// The fitted Gaussian-mixture predictions (Docs/Theory.md §2.5) and class names in `diffphys speciation`
/// and `diffphys collapse` on labelled data.
final class FittedPredictionCommandTests: XCTestCase {
    func json(_ r: CLI.Result) throws -> [String: Any] {
        XCTAssertEqual(r.status, 0, r.stderr)
        let envelope = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        return try XCTUnwrap(envelope["results"] as? [String: Any], r.stdout)
    }

    /// Speciation JSON carries the fitted LDA/QDA curves at the measured times, their t_S, the class
    /// names, and the rb crossing solved by Brent (its crossing lies between the bracketing grid points).
    func testSpeciationCarriesFittedPredictions() throws {
        let times = [0.3, 0.45, 0.6, 0.8]
        let j = try json(try CLI.run(["speciation", "--data", "digits:classes=0,1", "--times", times.map { "\($0)" }.joined(separator: ","),
                                      "--pairs", "400", "--fit-samples", "400", "--json"]))
        let classes = try XCTUnwrap(j["classes"] as? [[String: Any]])
        XCTAssertEqual(classes.compactMap { $0["name"] as? String }, ["0", "1"])
        let fitted = try XCTUnwrap(j["fitted"] as? [String: Any])
        let lda = try XCTUnwrap(fitted["lda"] as? [[String: Any]]), qda = try XCTUnwrap(fitted["qda"] as? [[String: Any]])
        XCTAssertEqual(lda.count, times.count)
        XCTAssertEqual(qda.count, times.count)
        let tSLDA = try XCTUnwrap(fitted["tSLDA"] as? Double)
        let tSQDA = try XCTUnwrap((fitted["tSQDA"] as? [String: Any])?["value"] as? Double)
        XCTAssert(tSLDA > 0.3 && tSLDA < 0.8 && tSQDA > 0.3 && tSQDA < 0.8, "fitted t_S \(tSLDA), \(tSQDA)")
        XCTAssertEqual(j["rbCrossingMethod"] as? String, "brent")
        let tCross = try XCTUnwrap((j["tCross"] as? [String: Any])?["value"] as? Double)
        let phi = (j["phi"] as! [[String: Any]]).map { ($0["t"] as! Double, ($0["phi"] as! [String: Any])["value"] as! Double) }
        let k = try XCTUnwrap(phi.indices.dropLast().first { (phi[$0].1 - 0.775) * (phi[$0 + 1].1 - 0.775) <= 0 })
        XCTAssert(tCross >= phi[k].0 && tCross <= phi[k + 1].0, "Brent root \(tCross) inside its bracket")
    }

    /// Collapse JSON carries the fitted-mixture t_C (QDA and LDA) with its bracket and the class names.
    func testCollapseCarriesFittedPrediction() throws {
        let j = try json(try CLI.run(["collapse", "--data", "digits:classes=0,1", "--auto", "--points", "8", "--samples", "300",
                                      "--trajectories", "0", "--fit-samples", "300", "--json"]))
        XCTAssertEqual((j["classes"] as? [[String: Any]])?.compactMap { $0["name"] as? String }, ["0", "1"])
        let tC = try XCTUnwrap((j["tC"] as? [String: Any])?["predicted"] as? [String: [String: Any]])
        let qda = try XCTUnwrap(tC["fittedQDA"]?["value"] as? Double), spectrum = try XCTUnwrap(tC["spectrum"]?["value"] as? Double)
        XCTAssertNotNil(tC["fittedLDA"])
        let fitted = try XCTUnwrap(j["fitted"] as? [String: Any])
        let lo = try XCTUnwrap(fitted["tCLower"] as? Double), hi = try XCTUnwrap(fitted["tCUpper"] as? Double)
        XCTAssert(lo <= qda + 1e-9 && qda <= hi + 1e-9, "QDA t_C \(qda) in its bracket [\(lo), \(hi)]")
        XCTAssertLessThan(qda, spectrum, "a class mixture has less entropy than one Gaussian: t_C below the spectrum bound")
    }
}
