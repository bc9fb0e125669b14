import Foundation
import GSLKit
import XCTest
@testable import DiffusionPhysics

final class SamplerTests: XCTestCase {
    func smallData(n: Int = 12, d: Int = 3, seed: UInt64 = 1) -> Matrix<Double> {
        let rng = RandomStream(seed: seed)
        return Matrix(rows: n, columns: d, storage: (0..<(n * d)).map { _ in 2 * rng.gaussian() })
    }

    /// With the empirical score, backward SDE endpoints land on training points (Docs/Theory.md §1.2).
    func testEmpiricalSDEEndsOnTrainingPoints() throws {
        let points = smallData()
        let model = try EmpiricalScore(points: points)
        let grid = try TimeGrid.geometric(from: 6, to: 1e-3, steps: 150)
        for scheme in SDEScheme.allCases {
            let sde = BackwardSDE(model: model, scheme: scheme, finalStep: .none, threads: 1)
            let r = try sde.run(grid: grid, start: .prior(count: 40), seed: 9, recording: .argmax)
            for i in 0..<40 {
                let mu = r.finalComponents[i]
                let dist = zip(r.samples.row(i), points.row(mu)).map { ($0 - $1 * exp(-1e-3)) * ($0 - $1 * exp(-1e-3)) }.reduce(0, +).squareRoot()
                // x(t_min) ~ N(a e^{-t}, Δ I): |x − a e^{-t}| ≈ √(dΔ) ≈ 0.077; nearest other point is O(1) away.
                XCTAssertLessThan(dist, 0.3, "\(scheme): trajectory \(i) is \(dist) from its nearest training point")
                XCTAssertEqual(r.argmaxPath[i].last, mu)
            }
        }
    }

    /// Same seed, 1 vs 2 threads: bit-identical samples.
    func testThreadCountDoesNotChangeResults() throws {
        let model = try EmpiricalScore(points: smallData(n: 30, d: 4))
        let grid = try TimeGrid.geometric(from: 5, to: 1e-2, steps: 40)
        let one = try BackwardSDE(model: model, threads: 1, chunkSize: 8).run(grid: grid, start: .prior(count: 50), seed: 42)
        let two = try BackwardSDE(model: model, threads: 2, chunkSize: 8).run(grid: grid, start: .prior(count: 50), seed: 42)
        XCTAssertEqual(one.samples, two.samples)
        XCTAssertEqual(one.lastStates, two.lastStates)
        let ode1 = try ProbabilityFlowODE(model: model, threads: 1, chunkSize: 8).run(from: 5, to: 1e-2, start: .prior(count: 20), seed: 1)
        let ode2 = try ProbabilityFlowODE(model: model, threads: 2, chunkSize: 8).run(from: 5, to: 1e-2, start: .prior(count: 20), seed: 1)
        XCTAssertEqual(ode1.samples, ode2.samples)
    }

    /// One training point a: P_t = N(a e^{−t}, Δ_t I) and the PF-ODE is linear:
    /// x_t − a e^{−t} = √(Δ_t/Δ_T) (x_T − a e^{−T}) exactly.
    func testODEExactForSinglePoint() throws {
        let a = [1.5, -0.5, 2.0]
        let model = try EmpiricalScore(points: Matrix(rows: 1, columns: 3, storage: a))
        let start = Matrix(rowArrays: [[0.3, -1.2, 0.8], [2, 2, -2]])
        let T = 4.0, tMin = 1e-4
        let r = try ProbabilityFlowODE(model: model, absoluteTolerance: 1e-12, relativeTolerance: 1e-12, threads: 1)
            .run(from: T, to: tMin, start: .states(start), seed: 0)
        let ratio = (-expm1(-2 * tMin) / -expm1(-2 * T)).squareRoot()
        for i in 0..<2 {
            for j in 0..<3 {
                let expected = a[j] * exp(-tMin) + ratio * (start[i, j] - a[j] * exp(-T))
                assertWithin(r.samples[i, j], expected, 1e-8, "x[\(i),\(j)]")
            }
        }
    }

    /// The hybrid grid h(t) ≈ min(h_max, c·t) (Docs/Engine.md "Time grids"): K steps, uniform h_max
    /// above t_x = 0.25, a constant ratio below, continuous step at t_x with h_max = c·t_x,
    /// c = [(T − t_x)/t_x + ln(t_x/t_min)]/K; `refined()` halves every step and keeps every node.
    func testHybridGrid() throws {
        let T = 6.5, tMin = 1e-3, K = 400, tx = TimeGrid.hybridCrossover
        let g = try TimeGrid.hybrid(from: T, to: tMin, steps: K)
        XCTAssertEqual(g.steps, K)
        XCTAssertEqual(g.start, T)
        XCTAssertEqual(g.end, tMin)
        XCTAssertTrue(g.times.contains(tx))
        let c = ((T - tx) / tx + log(tx / tMin)) / Double(K)
        let steps = zip(g.times, g.times.dropFirst()).map { ($0, $0 - $1) }
        for (t, h) in steps {
            if t > tx + 1e-12 {
                XCTAssertEqual(h, c * tx, accuracy: 0.02 * c * tx, "uniform part at t = \(t)")
            } else {
                XCTAssertEqual(h / t, 1 - exp(-c), accuracy: 0.03 * c, "geometric part at t = \(t)")
            }
        }
        XCTAssertEqual(g.maxStep, c * tx, accuracy: 0.02 * c * tx)
        let f = g.refined()
        XCTAssertEqual(f.steps, 2 * K)
        XCTAssertEqual(stride(from: 0, to: f.times.count, by: 2).map { f.times[$0] }, g.times)
        XCTAssertEqual(f.maxStep, g.maxStep / 2, accuracy: 1e-12)
        let byStep = try TimeGrid.hybrid(from: T, to: tMin, maxStep: 0.005)
        XCTAssertLessThanOrEqual(byStep.maxStep, 0.005)
        XCTAssertGreaterThan(byStep.maxStep, 0.0045)
        XCTAssertEqual(try SDESettings().timeGrid(horizon: T), g)
        // T below the crossover: geometric.
        XCTAssertEqual(try TimeGrid.hybrid(from: 0.2, to: tMin, steps: 50), try TimeGrid.geometric(from: 0.2, to: tMin, steps: 50))
    }

    func testGridValidation() {
        XCTAssertThrowsError(try TimeGrid.geometric(from: 1, to: 0, steps: 10))
        XCTAssertThrowsError(try TimeGrid.geometric(from: 1, to: 2, steps: 10))
        XCTAssertThrowsError(try TimeGrid(times: [1, 1]))
        XCTAssertThrowsError(try TimeGrid(times: [1, .nan]))
    }
}
