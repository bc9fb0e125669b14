import DiffusionPhysics
import XCTest

/// The progress arithmetic (Docs/Engine.md, ProgressReporter): fraction = done cost / total cost,
/// ETA = elapsed · (1 − f)/f, and stages that share a total by cost, not by step count.
final class ProgressTests: XCTestCase {
    func testEstimateTable() {
        // (done, total, elapsed) → (fraction, ETA); ETA nil before any work, 0 when complete.
        let table: [(done: Double, total: Double, elapsed: Double, fraction: Double, eta: Double?)] = [
            (0, 10, 5, 0, nil),
            (1, 4, 10, 0.25, 30),
            (5, 10, 7, 0.5, 7),
            (9, 10, 90, 0.9, 10),
            (10, 10, 12, 1, 0),
            (12, 10, 12, 1, 0),        // over-counted work is clamped
            (3, 4, 0, 0.75, nil),      // no time has passed: no rate yet
            (-1, 10, 3, 0, nil),
        ]
        for row in table {
            let (f, eta) = ProgressReporter.estimate(done: row.done, total: row.total, elapsed: row.elapsed)
            XCTAssertEqual(f, row.fraction, accuracy: 1e-12, "\(row)")
            if let expected = row.eta {
                XCTAssertNotNil(eta, "\(row)")
                XCTAssertEqual(eta ?? .nan, expected, accuracy: 1e-9, "\(row)")
            } else {
                XCTAssertNil(eta, "\(row)")
            }
        }
    }

    /// The Fashion-MNIST collapse of issue 15: 20 cheap forward-sampling times and one backward
    /// run 14 times as costly as all of them. Counting steps shows 20/21 = 95 % after the cheap part;
    /// weighting by cost shows 1/15 ≈ 6.7 %, and the ETA then predicts the remaining time.
    func testStagesWeightByCost() {
        let progress = ProgressReporter("test", cost: 15, enabled: false)
        let curve = progress.stage(units: 20, cost: 1), run = progress.stage(units: 200, cost: 14)
        for _ in 0..<20 { curve.advance() }
        XCTAssertEqual(progress.fractionDone, 1.0 / 15, accuracy: 1e-12)
        run.advance(100)
        XCTAssertEqual(progress.fractionDone, 8.0 / 15, accuracy: 1e-12)
        // A stage never advances its parent by more than its cost.
        run.advance(500)
        XCTAssertEqual(progress.fractionDone, 1, accuracy: 1e-12)
        // With the cheap part done in 33 s, the weighted ETA is 33 · 14 = 462 s (the run took 432 s more).
        let (_, eta) = ProgressReporter.estimate(done: 1, total: 15, elapsed: 33)
        XCTAssertEqual(eta ?? .nan, 462, accuracy: 1e-9)
    }

    func testUnitsAndWeightedAdvance() {
        let p = ProgressReporter("units", total: 8, enabled: false)
        p.advance(2)
        XCTAssertEqual(p.fractionDone, 0.25, accuracy: 1e-12)
        p.advance(cost: 3)                  // weighted units (e.g. a long branch time of a clone run)
        XCTAssertEqual(p.fractionDone, 5.0 / 8, accuracy: 1e-12)
        p.finish()
        XCTAssertEqual(p.fractionDone, 1)
    }

    func testLineAndDuration() {
        XCTAssertEqual(ProgressReporter.duration(8.4), "8 s")
        XCTAssertEqual(ProgressReporter.duration(125), "2 min 05 s")
        XCTAssertEqual(ProgressReporter.duration(3780), "1 h 03 min")
        XCTAssertEqual(ProgressReporter.line(label: "collapse", fraction: 0.45, elapsed: 12, eta: 15),
                       "collapse: 45 % (12 s elapsed, ETA 15 s)")
        XCTAssertEqual(ProgressReporter.line(label: "collapse", fraction: 1, elapsed: 65, eta: 0), "collapse: done in 1 min 05 s")
    }
}
