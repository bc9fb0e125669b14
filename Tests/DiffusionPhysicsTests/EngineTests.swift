import Foundation
import GSLKit
import XCTest
@testable import DiffusionPhysics

/// The engine's phase API and thread ownership (Docs/Engine.md).
final class EngineTests: XCTestCase {
    /// Exact log weights where the weight underflows: two points at distance L, x on a_1, so
    /// ln w_0 = −L²/(2σ²) − ln(1 + e^{−L²/(2σ²)}) (exact two-point softmax) while w_0 = 0 in double.
    func testLogWeightOfUnderflowedComponentIsExact() throws {
        let d = 3, L = 4.0, sigma2 = 1e-3
        let points = Matrix<Double>(rows: 2, columns: d, storage: [0, 0, 0, L, 0, 0])
        let posterior = try EmpiricalPosterior(points: points)
        let x = Matrix<Double>(rows: 1, columns: d, storage: [L, 0, 0])
        let ws = PosteriorWorkspace(capacity: 1, dimension: d, components: 2, classes: 0)
        posterior.evaluate(x, rows: 1, scale: 1, sigma2: sigma2, workspace: ws, outputs: [])
        XCTAssertEqual(ws.weights[0, 0], 0, "w_0 underflows")
        let e = L * L / (2 * sigma2)
        let exact = -e - log1p(exp(-e))
        let got = posterior.logWeights(x, rows: 1, scale: 1, sigma2: sigma2, components: [0], workspace: ws)[0]
        XCTAssertEqual(got, exact, accuracy: 1e-12 * abs(exact))
        let on = posterior.logWeights(x, rows: 1, scale: 1, sigma2: sigma2, components: [1], workspace: ws)[0]
        XCTAssertLessThanOrEqual(on, 0)
        XCTAssertEqual(on, -log1p(exp(-e)), accuracy: 1e-15)
    }

    /// Supplied products (a linear combination of two matrices) give the same posterior as the
    /// engine's own product, including the small-σ guard.
    func testSuppliedProductsEqualComputedProducts() throws {
        let rng = RandomStream(seed: 21)
        let n = 37, d = 9, b = 5
        var points = Matrix<Double>(rows: n, columns: d)
        rng.fillGaussian(&points.storage, 0..<(n * d))
        let posterior = try EmpiricalPosterior(points: points, labels: (0..<n).map { $0 % 2 })
        var origin = Matrix<Double>(rows: b, columns: d), noise = Matrix<Double>(rows: b, columns: d)
        for r in 0..<b { origin.setRow(r, points.rowSlice(3 * r)) }
        rng.fillGaussian(&noise.storage, 0..<(b * d))
        for t in [1e-4, 0.3, 2.0] {
            let decay = exp(-t), spread = ForwardProcess.delta(t).squareRoot()
            var x = Matrix<Double>(rows: b, columns: d)
            for k in 0..<(b * d) { x.storage[k] = origin.storage[k] * decay + spread * noise.storage[k] }
            var g = Matrix<Double>(rows: b, columns: n), z = Matrix<Double>(rows: b, columns: n)
            BLAS.multiplyTransposed(origin, points, into: &g)
            BLAS.multiplyTransposed(noise, points, into: &z)
            let norms = (0..<b).map { r in exp(t) * (decay * origin.rowSlice(r).reduce(0) { $0 + $1 * $1 }.squareRoot()
                                                    + spread * noise.rowSlice(r).reduce(0) { $0 + $1 * $1 }.squareRoot()) }
            let a = PosteriorWorkspace(capacity: b, dimension: d, components: n, classes: 2)
            let c = PosteriorWorkspace(capacity: b, dimension: d, components: n, classes: 2)
            let s = exp(t), sigma2 = ForwardProcess.sigmaVE2(t)
            posterior.evaluate(x, rows: b, scale: s, sigma2: sigma2, workspace: a, outputs: .all)
            posterior.evaluate(x, rows: b, scale: s, sigma2: sigma2, workspace: c, outputs: .all,
                               products: .combination(first: g, firstScale: decay, second: z, secondScale: spread, errorNorms: norms))
            for k in 0..<(b * n) { XCTAssertEqual(a.weights.storage[k], c.weights.storage[k], accuracy: 1e-9, "w at t = \(t)") }
            for k in 0..<(b * d) { XCTAssertEqual(a.mean.storage[k], c.mean.storage[k], accuracy: 1e-9, "mean at t = \(t)") }
            for k in 0..<(b * 2) { XCTAssertEqual(a.classProbabilities.storage[k], c.classProbabilities.storage[k], accuracy: 1e-9) }
        }
    }

    /// Squared distances from the engine equal explicit differences.
    func testSquaredDistances() throws {
        let points = Matrix<Double>(rows: 2, columns: 2, storage: [1, 2, -3, 0.5])
        let posterior = try EmpiricalPosterior(points: points)
        let x = Matrix<Double>(rows: 1, columns: 2, storage: [0.25, -1])
        let d2 = posterior.squaredDistances(x, rows: 1, scale: 2)
        XCTAssertEqual(d2[0, 0], pow(0.5 - 1, 2) + pow(-2 - 2, 2), accuracy: 1e-15)
        XCTAssertEqual(d2[0, 1], pow(0.5 + 3, 2) + pow(-2 - 0.5, 2), accuracy: 1e-15)
    }

    /// The engine pins OpenBLAS to one thread: the worker budget is the only parallelism, and
    /// results on 1 and 3 workers are identical (row blocks independent of the thread count).
    func testThreadOwnership() throws {
        let rng = RandomStream(seed: 5)
        let n = 300, d = 16, b = 200
        var points = Matrix<Double>(rows: n, columns: d), x = Matrix<Double>(rows: b, columns: d)
        rng.fillGaussian(&points.storage, 0..<(n * d))
        rng.fillGaussian(&x.storage, 0..<(b * d))
        let posterior = try EmpiricalPosterior(points: points)
        let one = PosteriorWorkspace(capacity: b, dimension: d, components: n, classes: 0)
        let three = PosteriorWorkspace(capacity: b, dimension: d, components: n, classes: 0)
        posterior.evaluate(x, rows: b, scale: 1.3, sigma2: 0.7, workspace: one, outputs: .mean, threads: 1)
        XCTAssertEqual(Threads.blasThreads, 1, "BLAS pinned to one thread")
        posterior.evaluate(x, rows: b, scale: 1.3, sigma2: 0.7, workspace: three, outputs: .mean, threads: 3)
        XCTAssertEqual(one.weights, three.weights)
        XCTAssertEqual(one.mean, three.mean)
        Threads.withBLASThreads(2) { XCTAssertEqual(Threads.blasThreads, 2) }
        XCTAssertEqual(Threads.blasThreads, 1, "pinned back after a threaded region")
        XCTAssertThrowsError(try Threads.configure(workers: 0))
    }
}
