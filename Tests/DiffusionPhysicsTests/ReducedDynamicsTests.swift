import Foundation
import GSLKit
import XCTest
@testable import DiffusionPhysics

/// The exact 1-D reduction of the two-class backward SDE (Docs/Theory.md §2.4).
final class ReducedDynamicsTests: XCTestCase {
    /// Identity: the reduced drift equals the projection m̂·(x + 2F(x, t)) of the full drift, with F
    /// the d-dimensional population score, at random points (any σ).
    func testDriftIsTheProjectedFullDrift() throws {
        let rng = RandomStream(seed: 8)
        for (d, sigma) in [(16, 1.0), (64, 0.6)] {
            let law = try GaussianMixtureModel.twoClass(d: d, mTilde: 1, sigma: sigma, direction: .random(seed: 3))
            let reduced = try TwoClassReducedSDE(law)
            XCTAssertEqual(reduced.meanNorm, Double(d).squareRoot(), accuracy: 1e-12)
            let score = GaussianMixtureScore(law)
            let mHat = law.means.row(0).map { $0 / reduced.meanNorm }
            for t in [0.05, 0.7, 2.0] {
                var x = [Double](repeating: 0, count: d)
                rng.fillGaussian(&x, 0..<d)
                let f = try score.evaluate(at: x, t: t).score
                let full = zip(mHat, zip(x, f)).reduce(0.0) { $0 + $1.0 * ($1.1.0 + 2 * $1.1.1) }
                let M = zip(mHat, x).reduce(0.0) { $0 + $1.0 * $1.1 }
                XCTAssertEqual(reduced.drift(M, t: t), full, accuracy: 1e-10 * max(1, abs(full)), "d = \(d), t = \(t)")
                // The class posterior of the reduction equals the full model's.
                let ws = score.makeWorkspace(capacity: 1)
                try score.evaluate(Matrix(rows: 1, columns: d, storage: x), rows: 1, t: t, workspace: ws, outputs: .classProbabilities)
                XCTAssertEqual(reduced.plusProbability(M, t: t), ws.classProbabilities[0, 0], accuracy: 1e-12)
            }
        }
    }

    /// Reduced clones reproduce the exact φ of Docs/Theory.md §2.2 at d = 1024 (t = 3, 3.5, 4:
    /// 0.91758, 0.76441, 0.63187) within 3.5 SE at 8000 pairs.
    func testReducedClonesMatchExactPhiAtD1024() throws {
        let sde = try TwoClassReducedSDE(meanNorm: 32, sigma: 1)
        let clones = try ReducedCloningExperiment(sde: sde, horizon: 5.5, threads: 2)
        let result = try clones.run(branchTimes: [3.0, 3.5, 4.0], pairs: 8000, seed: 11)
        for (e, exact) in zip(result, [0.91758, 0.76441, 0.63187]) {
            let phi = try XCTUnwrap(e.sameClass)
            assertWithinSE(phi.mean, exact, se: phi.standardError, k: 3.5, "φ(\(e.t)) reduced clones")
            XCTAssertEqual(exact, SpeciationTheory.phi(t: e.t, d: 1024, mTilde: 1, sigma: 1), accuracy: 1e-5)
        }
    }

    /// Reduced and full-dimensional clones (d = 16, fine grid) estimate the same φ within their
    /// combined errors, and both match the exact curve.
    func testReducedAgreesWithFullDimensionalClones() throws {
        let d = 16
        let law = try GaussianMixtureModel.twoClass(d: d, mTilde: 1, sigma: 1)
        let times = [0.9, 1.4, 2.0]
        let reduced = try ReducedCloningExperiment(sde: TwoClassReducedSDE(law), horizon: 5, threads: 2)
            .run(branchTimes: times, pairs: 6000, seed: 4)
        let full = try CloningExperiment(model: GaussianMixtureScore(law),
                                         settings: SDESettings(horizon: 5, tMin: 1e-3, steps: 600, grid: .uniform), threads: 2)
            .run(branchTimes: times, pairs: 2000, seed: 4)
        for (r, f) in zip(reduced, full) {
            let a = try XCTUnwrap(r.sameClass), b = try XCTUnwrap(f.sameClass)
            let se = (a.standardError * a.standardError + b.standardError * b.standardError).squareRoot()
            assertWithinSE(a.mean, b.mean, se: se, k: 3.5, "reduced vs full φ(\(r.t))")
            assertWithinSE(a.mean, SpeciationTheory.phi(t: r.t, d: Double(d), mTilde: 1, sigma: 1), se: a.standardError, k: 3.5,
                           "reduced vs exact φ(\(r.t))")
        }
    }
}
