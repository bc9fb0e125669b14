import Foundation
import GSLKit
import XCTest
@testable import DiffusionPhysics

final class EmpiricalScoreTests: XCTestCase {
    /// Docs/Theory.md §1.3: a1 = (1,0), a2 = (−1,0), a3 = (0,2); x = (0.3,−0.2); t = 0.5.
    let vectorPoints = Matrix(rowArrays: [[1, 0], [-1, 0], [0, 2]])

    func testTheoryVector() throws {
        let model = try EmpiricalScore(points: vectorPoints)
        let e = try model.evaluate(at: [0.3, -0.2], t: 0.5)
        let w = [0.5631592521, 0.3166674046, 0.1201733433]
        for i in 0..<3 { assertWithin(e.weights[i], w[i], 1e-10, "w\(i)") }
        assertWithin(e.score[0], -0.2380798014, 1e-10, "F0")
        assertWithin(e.score[1], 0.5470121634, 1e-10, "F1")
        assertWithin(e.logDensity, -2.0095830089298143, 1e-12, "ln P")
        assertWithin(e.participationRatio, 0.4318682207839598, 1e-12, "Y2")
        assertWithin(e.posteriorMean[0], 0.2464918475, 1e-10, "m0")
        assertWithin(e.posteriorMean[1], 0.2403466867, 1e-10, "m1")
    }

    /// Score = central finite difference of ln P_t^e, relative error < 1e-6, at t ∈ {1e-3, 0.1, 1, 5}.
    func testScoreIsGradientOfLogDensity() throws {
        let d = 6, n = 40
        let rng = RandomStream(seed: 11)
        let points = Matrix(rows: n, columns: d, storage: (0..<(n * d)).map { _ in rng.gaussian() })
        let model = try EmpiricalScore(points: points)
        for t in [1e-3, 0.1, 1, 5] {
            // A typical point of P_t^e: planted near a_0.
            let delta = -expm1(-2 * t)
            let x = (0..<d).map { points[0, $0] * exp(-t) + delta.squareRoot() * rng.gaussian() }
            let e = try model.evaluate(at: x, t: t)
            let h = 1e-5 * delta.squareRoot()
            var fd = [Double](repeating: 0, count: d)
            for j in 0..<d {
                var xp = x, xm = x
                xp[j] += h; xm[j] -= h
                fd[j] = (try model.evaluate(at: xp, t: t).logDensity - model.evaluate(at: xm, t: t).logDensity) / (2 * h)
            }
            let norm = fd.map { $0 * $0 }.reduce(0, +).squareRoot()
            let err = zip(e.score, fd).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
            XCTAssertLessThan(err / norm, 1e-6, "t = \(t): |F − FD|/|FD| = \(err / norm)")
        }
    }

    /// A batch evaluation equals one-at-a-time evaluations.
    func testBatchedEqualsSingle() throws {
        let d = 5, n = 30, b = 17
        let rng = RandomStream(seed: 3)
        let points = Matrix(rows: n, columns: d, storage: (0..<(n * d)).map { _ in rng.gaussian() })
        let model = try EmpiricalScore(points: points, labels: (0..<n).map { $0 % 3 })
        let x = Matrix(rows: b, columns: d, storage: (0..<(b * d)).map { _ in rng.gaussian() })
        let ws = model.makeWorkspace(capacity: 20)
        try model.evaluate(x, rows: b, t: 0.3, workspace: ws, outputs: .all)
        var f = Matrix<Double>(rows: b, columns: d)
        model.score(x, rows: b, t: 0.3, workspace: ws, into: &f)
        for i in 0..<b {
            let single = try model.evaluate(at: x.row(i), t: 0.3)
            for j in 0..<d { assertWithin(f[i, j], single.score[j], 1e-12, "F[\(i),\(j)]") }
            for mu in 0..<n { assertWithin(ws.weights[i, mu], single.weights[mu], 1e-14, "w") }
            assertWithin(ws.logDensity[i], single.logDensity, 1e-12, "lnP")
            for c in 0..<3 { assertWithin(ws.classProbabilities[i, c], single.classProbabilities[c], 1e-14, "p_c") }
        }
    }

    /// Docs/Theory.md §1.3 underflow stress: d = 1000, x = 5·1, t = 0.01 → E ≈ 8.7e5; naive exp is 0/0, LSE is finite.
    func testUnderflowStress() throws {
        let d = 1000
        let rng = RandomStream(seed: 0)
        let points = Matrix(rows: 3, columns: d, storage: (0..<(3 * d)).map { _ in 3 * rng.gaussian() })
        let model = try EmpiricalScore(points: points)
        let e = try model.evaluate(at: [Double](repeating: 5, count: d), t: 0.01)
        XCTAssert(e.logDensity.isFinite && e.logDensity < -1e5, "ln P = \(e.logDensity)")
        XCTAssertEqual(e.weights.max()!, 1, accuracy: 1e-12)
        XCTAssert(e.score.allSatisfy(\.isFinite))
        // Independent check of ln P: the dominant term alone (others are e^{-huge} smaller).
        let delta = -expm1(-0.02)
        let energies = (0..<3).map { mu in (0..<d).map { j in pow(5 - points[mu, j] * exp(-0.01), 2) }.reduce(0, +) / (2 * delta) }
        let expected = -energies.min()! - log(3.0) - 0.5 * Double(d) * log(2 * Double.pi * delta)
        assertClose(e.logDensity, expected, relative: 1e-12, "ln P")
    }

    /// t = 1e-4, d = 784: weights finite and normalised; the cancellation guard keeps the
    /// planted point's weight equal to the exact (explicit-difference) softmax.
    func testSmallTimeGuard() throws {
        let d = 784, n = 50
        let rng = RandomStream(seed: 5)
        let points = Matrix(rows: n, columns: d, storage: (0..<(n * d)).map { _ in rng.uniform() })
        let model = try EmpiricalScore(points: points)
        let t = 1e-4, delta = -expm1(-2 * t)
        let x = (0..<d).map { points[7, $0] * exp(-t) + delta.squareRoot() * rng.gaussian() }
        let e = try model.evaluate(at: x, t: t)
        XCTAssert(e.weights.allSatisfy { $0.isFinite && $0 >= 0 })
        assertWithin(e.weights.reduce(0, +), 1, 1e-12, "Σw")
        // Exact energies by explicit differences.
        let energies = (0..<n).map { mu in (0..<d).map { j in pow(x[j] - points[mu, j] * exp(-t), 2) }.reduce(0, +) / (2 * delta) }
        let m = energies.min()!
        let z = energies.map { exp(-($0 - m)) }.reduce(0, +)
        assertWithin(e.weights[7], exp(-(energies[7] - m)) / z, 1e-12, "w_planted")
        assertWithin(e.logDensity, -m + log(z) - log(Double(n)) - 0.5 * Double(d) * log(2 * Double.pi * delta), 1e-9, "lnP")
    }

    func testBadInputsThrow() throws {
        let model = try EmpiricalScore(points: vectorPoints)
        XCTAssertThrowsError(try model.evaluate(at: [0.1], t: 0.5))
        XCTAssertThrowsError(try model.evaluate(at: [0.1, 0.2], t: 0))
        XCTAssertThrowsError(try model.evaluate(at: [0.1, 0.2], t: -1))
        XCTAssertThrowsError(try model.evaluate(at: [.nan, 0.2], t: 1))
        XCTAssertThrowsError(try EmpiricalScore(points: Matrix(rows: 1, columns: 2, storage: [.nan, 0])))
        XCTAssertThrowsError(try EmpiricalScore(points: Matrix(rows: 0, columns: 2)))
    }

    func testOpenBLASProvidesDgemm() {
        XCTAssertTrue(BLAS.dgemmIsOpenBLAS, "cblas_dgemm resolved to GSL's reference BLAS, not OpenBLAS")
    }
}
