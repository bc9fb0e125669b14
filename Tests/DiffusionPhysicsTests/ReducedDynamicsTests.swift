import Foundation
import GSLKit
import XCTest
@testable import DiffusionPhysics

/// The exact 1-D reduction of the two-class backward SDE (Docs/Theory.md §2.4) and the step-halving
/// check on common random numbers (Docs/Engine.md "Time grids").
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

    /// Reduced clones at 10⁵ pairs reproduce the exact φ of Docs/Theory.md §2.2 within 3 SE at
    /// d = 64, 1024, 16384 and t = t_S − 0.5, t_S, t_S + 0.5 (t_S = ½ ln(1 + Λ), Λ = d + 1), on the
    /// grid on which the speciation measurement reports φ (hybrid, largest step reducedMaxStep/2 = 0.01:
    /// the halved grid of its step-halving check).
    func testReducedClonesMatchExactPhiAt1e5Pairs() throws {
        XCTAssertEqual(SpeciationTheory.phi(t: 3.5, d: 1024, mTilde: 1, sigma: 1), 0.76441, accuracy: 1e-5)
        for (i, d) in [64, 1024, 16384].enumerated() {
            let tS = 0.5 * log(Double(d) + 2)
            let times = [tS - 0.5, tS, tS + 0.5]
            let T = tS + 3
            let clones = ReducedCloningExperiment(sde: try TwoClassReducedSDE(meanNorm: Double(d).squareRoot(), sigma: 1),
                                                  grid: try TimeGrid.hybrid(from: T, to: 1e-3, maxStep: SpeciationMeasurement.reducedMaxStep / 2),
                                                  threads: 2)
            for e in try clones.run(branchTimes: times, pairs: 100_000, seed: 21 + UInt64(i)) {
                let exact = SpeciationTheory.phi(t: e.t, d: Double(d), mTilde: 1, sigma: 1)
                assertWithinSE(e.phi.mean, exact, se: e.phi.standardError, k: 3, "d = \(d): reduced clones φ(\(e.t))")
            }
        }
    }

    /// Reduced U-turns estimate the same φ (Nishimori identity, Docs/Theory.md §2.2 (iii)) at d = 1024.
    func testReducedUTurnMatchesExactPhi() throws {
        let sde = try TwoClassReducedSDE(meanNorm: 32, sigma: 1)
        let r = try ReducedUTurnExperiment(sde: sde, grid: try TimeGrid.hybrid(from: 6.5, to: 1e-3, maxStep: 0.005), threads: 2)
            .run(times: [3.0, 3.5, 4.0], samples: 20_000, seed: 5)
        for (e, exact) in zip(r, [0.91758, 0.76441, 0.63187]) {
            assertWithinSE(e.phi.mean, exact, se: e.phi.standardError, k: 3.5, "reduced U-turn φ(\(e.t))")
        }
    }

    /// Reduced and full-dimensional clones (d = 16 and 64, fine uniform grid) estimate the same φ
    /// within their combined errors (the reduction is exact, so only statistics separate them).
    func testReducedAgreesWithFullDimensionalClones() throws {
        for (d, times) in [(16, [0.9, 1.4, 2.0]), (64, [1.6, 2.1, 2.6])] {
            let law = try GaussianMixtureModel.twoClass(d: d, mTilde: 1, sigma: 1)
            let reduced = try ReducedCloningExperiment(sde: TwoClassReducedSDE(law), grid: try TimeGrid.uniform(from: 5, to: 1e-3, steps: 1000),
                                                       threads: 2)
                .run(branchTimes: times, pairs: 20_000, seed: 4)
            let full = try CloningExperiment(model: GaussianMixtureScore(law),
                                             settings: SDESettings(horizon: 5, tMin: 1e-3, steps: 500), threads: 2)
                .run(branchTimes: times, pairs: 2000, seed: 4)
            for (r, f) in zip(reduced, full) {
                let a = r.phi, b = try XCTUnwrap(f.sameClass)
                let se = (a.standardError * a.standardError + b.standardError * b.standardError).squareRoot()
                assertWithinSE(a.mean, b.mean, se: se, k: 3, "d = \(d): reduced vs full φ(\(r.t))")
            }
        }
    }

    /// The step-halving estimate of an O(h) weak error halves when h halves, on a case with a known
    /// answer: d = 1024, M started from the exact P_t at t = 5.5 and run by Euler–Maruyama to 3.5, where
    /// E[p₊² + p₋²] is exactly φ(3.5) = 0.76441 (clones stopped at once: the Rao–Blackwellised value).
    /// On common random numbers the paired differences D(h) = φ_{h/2} − φ_h for h = 0.05 and 0.025
    /// (uniform grids) are resolved (> 6 SE) and their ratio is 2 within 0.25 (the O(h²) terms: at
    /// h = 0.2/0.1 the ratio is 1.3, the drift rate there is ≈ 2) plus 3.5 SE; the error of φ_{h/2}
    /// against the exact value is within 3 √(SE² + D²).
    func testStepHalvingErrorShrinksLikeH() throws {
        let sde = try TwoClassReducedSDE(meanNorm: 32, sigma: 1)
        func run(_ h: Double) throws -> ReducedPhiEstimate {
            var clones = ReducedCloningExperiment(sde: sde, grid: try TimeGrid.uniform(from: 6.0, to: 1e-3, steps: Int((6.0 / h).rounded())),
                                                  checkSteps: true, threads: 2)
            clones.stopThreshold = 1e-12
            return try clones.run(branchTimes: [5.5, 3.5], pairs: 40_000, seed: 9)[0]
        }
        let coarse = try run(0.05), fine = try run(0.025)
        let d1 = try XCTUnwrap(coarse.difference), d2 = try XCTUnwrap(fine.difference)
        print("step halving at t = 3.5: D(0.05) = \(d1.mean) ± \(d1.standardError), D(0.025) = \(d2.mean) ± \(d2.standardError)")
        XCTAssertGreaterThan(abs(d2.mean), 6 * d2.standardError, "D(0.025) is not resolved")
        let ratio = d1.mean / d2.mean
        let ratioSE = abs(ratio) * ((d1.standardError / d1.mean) * (d1.standardError / d1.mean)
                                    + (d2.standardError / d2.mean) * (d2.standardError / d2.mean)).squareRoot()
        XCTAssertLessThan(abs(ratio - 2), 0.25 + 3.5 * ratioSE, "D(0.05)/D(0.025) = \(ratio) ± \(ratioSE)")
        let exact = SpeciationTheory.phi(t: 3.5, d: 1024, mTilde: 1, sigma: 1)
        for e in [coarse, fine] {
            let s = e.phi.standardError, syst = try XCTUnwrap(e.systematic)
            assertWithinSE(e.phi.mean, exact, se: (s * s + syst * syst).squareRoot(), k: 3, "φ_{h/2}(3.5) vs exact")
        }
    }

    /// Same seed, 1 vs 2 threads: identical estimates (one stream per pair).
    func testThreadCountDoesNotChangeReducedResults() throws {
        let sde = try TwoClassReducedSDE(meanNorm: 8, sigma: 0.7)
        let grid = try TimeGrid.hybrid(from: 4, to: 1e-3, steps: 200)
        let one = try ReducedCloningExperiment(sde: sde, grid: grid, checkSteps: true, threads: 1).run(branchTimes: [1, 2], pairs: 700, seed: 3)
        let two = try ReducedCloningExperiment(sde: sde, grid: grid, checkSteps: true, threads: 2).run(branchTimes: [1, 2], pairs: 700, seed: 3)
        XCTAssertEqual(one, two)
    }

    /// The speciation measurement picks the reduction for a population gmm2 unless told otherwise,
    /// and reports the step-halving error.
    func testMeasurementUsesReduction() throws {
        let law = try GaussianMixtureModel.twoClass(d: 32, mTilde: 1, sigma: 1)
        var m = try SpeciationMeasurement(subject: .population(law), threads: 2)
        m.checkSteps = true
        let r = try m.run(times: [1.5, 1.8], count: 2000, estimators: [.clones], seed: 1)
        XCTAssertEqual(r.dynamics, .exactReduction)
        XCTAssertLessThanOrEqual(try XCTUnwrap(r.maxStep), SpeciationMeasurement.reducedMaxStep)
        XCTAssertTrue(r.phi.allSatisfy { $0.systematic != nil })
        m.fullDimensional = true
        m.settings.steps = 40
        let full = try m.run(times: [1.5, 1.8], count: 50, estimators: [.clones], seed: 1)
        XCTAssertEqual(full.dynamics, .fullDimensional)
        XCTAssertTrue(full.phi.allSatisfy { $0.systematic == nil })
        let skewed = try GaussianMixtureModel(means: law.means, variances: law.variances, weights: [0.3, 0.7])
        XCTAssertNil(try SpeciationMeasurement(subject: .population(skewed)).reduction)
    }
}
