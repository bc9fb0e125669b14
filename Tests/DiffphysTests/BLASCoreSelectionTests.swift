import Foundation
import XCTest
import GSLKit

/// The start-up re-execution (README "Performance"), through the built binary.
///
/// A fallback core is forced with `OPENBLAS_CORETYPE=Prescott` and the marker
/// `DIFFPHYS_BLAS_CORE=auto` ("this OPENBLAS_CORETYPE is not the user's choice"): the process
/// starts on the Prescott kernels, must re-execute itself with the best core for this CPU, and
/// reports the core it ends on in `bench --json`. The expectation comes from `BLASCore.decide`
/// on this machine's features, so the test holds on any x86-64 CPU (on one without AVX2 the
/// process keeps Prescott).
final class BLASCoreSelectionTests: XCTestCase {
    func bench(_ environment: [String: String], warning: String? = nil) throws -> [String: Any] {
        let r = try CLI.run(["bench", "--batch", "4", "--n", "30", "--d", "8", "--repeat", "1", "--kernel-only", "--json", "--threads", "1"],
                            environment: environment)
        XCTAssertEqual(r.status, 0, r.stderr)
        if let warning { XCTAssert(r.stderr.contains(warning), r.stderr) } else { XCTAssertFalse(r.stderr.contains("warning"), r.stderr) }
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        return try XCTUnwrap((json?["results"] as? [String: Any])?["blas"] as? [String: Any], r.stdout)
    }

    func testForcedFallbackCoreIsReplaced() throws {
        let decision = BLASCore.decide(currentCore: "Prescott", features: .current, coreTypeVariable: "Prescott", marker: "auto")
        let blas = try bench(["OPENBLAS_CORETYPE": "Prescott", BLASCore.markerVariable: "auto"])
        switch decision {
        case .reexecute(let core):
            XCTAssertEqual((blas["core"] as? String)?.lowercased(), core.lowercased())
            XCTAssertEqual(blas["coreType"] as? String, core)
            let selection = try XCTUnwrap(blas["selection"] as? String)
            XCTAssert(selection.contains("re-executed with OPENBLAS_CORETYPE=\(core) (was OPENBLAS_CORETYPE=Prescott)"), selection)
            XCTAssert(selection.contains("self-check passed"), selection)
        case .keep:
            XCTAssertEqual(blas["core"] as? String, "Prescott")
        }
        XCTAssertGreaterThan(blas["dgemmGFLOPS"] as? Double ?? 0, 0)
        XCTAssert((blas["library"] as? String ?? "").contains("blas"))
    }

    /// Without the marker, OPENBLAS_CORETYPE is the user's: kept as it is, even when slow.
    func testUserCoreTypeIsKept() throws {
        let blas = try bench(["OPENBLAS_CORETYPE": "Prescott"])
        XCTAssertEqual(blas["core"] as? String, "Prescott")
        XCTAssert((blas["selection"] as? String ?? "").contains("set by the user"), "\(blas)")
    }

    /// A chosen core that fails the self-check (simulated) is abandoned with a warning: the
    /// process re-executes once more with the original OPENBLAS_CORETYPE and stays there.
    func testFailedSelfCheckFallsBack() throws {
        guard case .reexecute(let core) = BLASCore.decide(currentCore: "Prescott", features: .current,
                                                          coreTypeVariable: "Prescott", marker: "auto") else {
            throw XCTSkip("this CPU has no better kernels than Prescott")
        }
        let blas = try bench(["OPENBLAS_CORETYPE": "Prescott", BLASCore.markerVariable: "auto", "DIFFPHYS_BLAS_SELF_CHECK": "fail"],
                             warning: "BLAS core \(core) failed the dgemm self-check")
        XCTAssertEqual(blas["core"] as? String, "Prescott")
        XCTAssertEqual(blas["coreType"] as? String, "Prescott")
        XCTAssert((blas["selection"] as? String ?? "").contains("\(core) failed the dgemm self-check"), "\(blas)")
    }
}
