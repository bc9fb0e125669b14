import Foundation
import GSLKit
import XCTest
@testable import DiffusionPhysics

/// Crossings solved by root finding on a fixed sample set (Docs/Engine.md "One forward ensemble").
final class CrossingTests: XCTestCase {
    func plantedEnsemble(seed: UInt64 = 1) throws -> ForwardEnsemble {
        let data = try DatasetSpec.gaussian(d: 16, n: 150, sigma: 1).load(seed: seed)
        let score = try EmpiricalScore(data)
        return try ForwardEnsemble(model: .diffusion(score), origins: .planted(score.posterior), statistics: .origin, threads: 2)
    }

    /// The same samples give the same t_C^{Y2} whatever the bracketing grid (up to the tolerance).
    func testCrossingDoesNotDependOnTheGrid() throws {
        let e = try plantedEnsemble()
        let geometric = (0..<12).map { 0.02 * pow(150.0, Double($0) / 11) }
        let uniform = (0..<9).map { 0.03 + Double($0) * 0.37 }
        let a = try XCTUnwrap(e.solveCrossing(level: 0.5, bracket: geometric, samples: 300, seed: 3) { $0.y2 })
        let b = try XCTUnwrap(e.solveCrossing(level: 0.5, bracket: uniform, samples: 300, seed: 3) { $0.y2 })
        XCTAssertEqual(a.t, b.t, accuracy: 4 * a.tolerance)
        XCTAssertLessThan(a.tolerance, 0.01 * a.standardError, "numerical error far below the statistical one")
    }

    /// The delta-method SE matches the spread of the crossing over 20 independent seeds (ratio
    /// within [1/1.5, 1.5]; the spread of 20 values has a relative SE of about 16 %).
    func testDeltaMethodErrorMatchesSeedSpread() throws {
        let e = try plantedEnsemble()
        let grid = (0..<10).map { 0.05 * pow(60.0, Double($0) / 9) }
        var roots: [Double] = [], errors: [Double] = []
        for seed in 0..<20 {
            let c = try XCTUnwrap(e.solveCrossing(level: 0.5, bracket: grid, samples: 200, seed: 100 + UInt64(seed)) { $0.y2 })
            roots.append(c.t)
            errors.append(c.standardError)
        }
        let m = roots.reduce(0, +) / 20
        let spread = (roots.reduce(0) { $0 + ($1 - m) * ($1 - m) } / 19).squareRoot()
        let se = errors.reduce(0, +) / 20
        XCTAssertGreaterThan(spread / se, 1 / 1.5, "spread \(spread) vs SE \(se)")
        XCTAssertLessThan(spread / se, 1.5, "spread \(spread) vs SE \(se)")
    }

    /// The Rao–Blackwellised φ of the population two-class mixture crosses 0.775 where the exact
    /// curve does (Docs/Theory.md §2.2: φ = 0.775 at h ≈ 0.99874), within 3.5 SE.
    func testPopulationPhiCrossingMatchesExactCurve() throws {
        let d = 64
        let law = try GaussianMixtureModel.twoClass(d: d, mTilde: 1, sigma: 1)
        let model = GaussianMixtureScore(law)
        let origins = try UTurnOrigins.population(law, count: 4000, seed: 9)
        let e = try ForwardEnsemble(model: .diffusion(model), origins: .listed(origins, componentClasses: model.componentClasses),
                                    statistics: .classes, threads: 2)
        let c = try XCTUnwrap(e.solveCrossing(level: 0.775, bracket: [1.0, 1.5, 2.0, 2.5, 3.0], samples: 4000, seed: 2) { $0.classAgreement })
        let exact = try RootFinding.brent(in: 1.0...3.0) { t in SpeciationTheory.phi(t: t, d: Double(d), mTilde: 1, sigma: 1) - 0.775 }
        assertWithinSE(c.t, exact, se: c.standardError, k: 3.5, "t_cross(φ = 0.775)")
    }

    /// The Rao–Blackwellised φ of a labelled empirical data set (two-class mixture sample).
    func phiEnsemble() throws -> ForwardEnsemble {
        let data = try DatasetSpec.parse("gmm2:d=8,n=100,mtilde=1,sigma=1").load(seed: 2)
        let score = try EmpiricalScore(data)
        return try ForwardEnsemble(model: .diffusion(score), origins: .planted(score.posterior), statistics: .classes, threads: 2)
    }

    /// t_cross(φ = 0.775) on the same samples from two unrelated bracketing grids: equal to the
    /// root-finding tolerance, and far inside the SE.
    func testPhiCrossingDoesNotDependOnTheGrid() throws {
        let e = try phiEnsemble()
        let coarse = [0.1, 0.8, 2.5, 5.0]
        let fine = (0..<15).map { 0.3 + 0.13 * Double($0) }
        let a = try XCTUnwrap(e.solveCrossing(level: 0.775, bracket: coarse, samples: 300, seed: 8) { $0.classAgreement })
        let b = try XCTUnwrap(e.solveCrossing(level: 0.775, bracket: fine, samples: 300, seed: 8) { $0.classAgreement })
        XCTAssertEqual(a.t, b.t, accuracy: 4 * a.tolerance)
        XCTAssertLessThan(a.tolerance, 0.01 * a.standardError)
        XCTAssertLessThan(a.slope, 0, "φ falls with t")
    }

    /// The delta-method SE of t_cross(φ) matches the spread over 30 seeds within a factor 1.5 (the
    /// spread of 30 values has a relative SE of about 13 %).
    func testPhiCrossingErrorMatchesSeedSpread() throws {
        let e = try phiEnsemble()
        let grid = [0.3, 0.7, 1.0, 1.3, 1.7, 2.4]
        var roots: [Double] = [], errors: [Double] = []
        for seed in 0..<30 {
            let c = try XCTUnwrap(e.solveCrossing(level: 0.775, bracket: grid, samples: 200, seed: 500 + UInt64(seed)) { $0.classAgreement })
            roots.append(c.t)
            errors.append(c.standardError)
        }
        let m = roots.reduce(0, +) / 30
        let spread = (roots.reduce(0) { $0 + ($1 - m) * ($1 - m) } / 29).squareRoot()
        let se = errors.reduce(0, +) / 30
        XCTAssertGreaterThan(spread / se, 1 / 1.5, "spread \(spread) vs SE \(se)")
        XCTAssertLessThan(spread / se, 1.5, "spread \(spread) vs SE \(se)")
    }
    // MARK: Fitted crossings of curves of independent estimates (clones)

    /// On an exactly linear curve the fitted crossing is the root of the line, and the interpolation
    /// agrees (systematic 0); on a curved one the systematic is the distance to the interpolation.
    func testFittedCrossingOfExactCurves() throws {
        let times = [0.2, 0.5, 0.9, 1.4, 2.0, 2.7]
        let line = times.map { 1.0 - 0.2 * $0 }
        let c = try XCTUnwrap(FittedCrossing.solve(times: times, values: line, errors: Array(repeating: 0.01, count: 6), level: 0.775))
        XCTAssertEqual(c.t, 1.125, accuracy: 1e-12)
        XCTAssertEqual(c.systematic, 0, accuracy: 1e-12)
        XCTAssertEqual(c.points, 4)
        let curved = times.map { exp(-$0) }
        let k = try XCTUnwrap(FittedCrossing.solve(times: times, values: curved, errors: Array(repeating: 0.01, count: 6), level: 0.5))
        let interp = try XCTUnwrap(LevelCrossing.find(times: times, values: curved, errors: Array(repeating: 0.01, count: 6), level: 0.5))
        XCTAssertEqual(k.systematic, abs(k.t - interp.t), accuracy: 1e-15)
        XCTAssertEqual(k.t, log(2), accuracy: 0.1)
        XCTAssertNil(FittedCrossing.solve(times: times, values: line, errors: Array(repeating: 0.01, count: 6), level: 0.1))
    }

    /// The delta-method SE of the fitted crossing matches the spread over 200 noisy replicas of a
    /// linear curve (binomial-sized errors; ratio within [0.8, 1.25]: the spread of 200 values has a
    /// relative SE of 5 %) and the crossing is unbiased within 4 SE of the mean.
    func testFittedCrossingErrorMatchesReplicaSpread() throws {
        let times = [0.1, 0.3, 0.6, 1.0, 1.5, 2.1, 2.8]
        let truth = times.map { 0.98 - 0.18 * $0 }
        let errors = truth.map { ($0 * (1 - $0) / 400).squareRoot() }
        let rng = RandomStream(seed: 11, domain: .bootstrap)
        var roots: [Double] = [], ses: [Double] = []
        for _ in 0..<200 {
            let noisy = zip(truth, errors).map { $0 + $1 * rng.gaussian() }
            guard let c = FittedCrossing.solve(times: times, values: noisy, errors: errors, level: 0.775) else { continue }
            roots.append(c.t)
            ses.append(c.standardError)
        }
        XCTAssertGreaterThan(roots.count, 190)
        let m = MeanEstimate(roots)
        let spread = m.standardError * Double(roots.count).squareRoot()
        let se = ses.reduce(0, +) / Double(ses.count)
        XCTAssertEqual(m.mean, 0.205 / 0.18, accuracy: 4 * m.standardError + 1e-3)
        XCTAssertGreaterThan(se / spread, 0.8)
        XCTAssertLessThan(se / spread, 1.25)
    }
    /// A saturated clone point (φ = 1 measured, binomial SE 0) keeps the Agresti–Coull weight when
    /// the trial counts are given, so it does not pin the line; non-finite points are dropped.
    func testFittedCrossingSaturatedAndMissingPoints() throws {
        let times = [0.1, 0.3, 0.6, 1.0, 1.5]
        let values = [1.0, 0.9, 0.8, 0.7, 0.6]
        let errors = values.map { ($0 * (1 - $0) / 200).squareRoot() }
        let counts = Array(repeating: 200, count: 5)
        let floored = try XCTUnwrap(FittedCrossing.solve(times: times, values: values, errors: errors, level: 0.775, counts: counts))
        let unfloored = try XCTUnwrap(FittedCrossing.solve(times: times, values: values, errors: errors, level: 0.775, errorFloor: 1e-6))
        // Agresti–Coull at φ = 1, N = 200: √(p̃(1 − p̃)/202), p̃ = 201/202 ≈ 0.0049, a weight comparable to the others'.
        XCTAssertEqual(floored.points, 4)
        XCTAssertLessThan(abs(floored.t - 0.7), abs(unfloored.t - 0.7) + 1e-12)
        XCTAssertLessThan(floored.standardError, 0.2)
        var withNaN = values
        withNaN[4] = .nan
        let dropped = try XCTUnwrap(FittedCrossing.solve(times: times, values: withNaN, errors: errors, level: 0.775, counts: counts))
        XCTAssertTrue(dropped.t.isFinite)
        XCTAssertEqual(dropped.points, 3, "the bracketing pair and its one remaining neighbour")
    }
}
