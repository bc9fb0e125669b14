import Foundation
import GSLKit
import XCTest
@testable import DiffusionPhysics

final class GaussianMixtureScoreTests: XCTestCase {
    /// Docs/Theory.md §1.3: d = 4, m = (1,1,1,1), x = (0.5, −0.1, 0.2, 0), t = 1.
    func testTheoryVector() throws {
        let x = [0.5, -0.1, 0.2, 0]
        let cases: [(Double, [Double])] = [
            (1, [-0.4200923533, 0.1799076467, -0.1200923533, 0.0799076467]),
            (sqrt(0.5), [-0.4445805928, 0.1989667373, -0.1228069277, 0.0917088490]),
        ]
        for (sigma, expected) in cases {
            let model = GaussianMixtureScore(try .twoClass(d: 4, mTilde: 1, sigma: sigma))
            let e = try model.evaluate(at: x, t: 1)
            for j in 0..<4 { assertWithin(e.score[j], expected[j], 1e-10, "σ=\(sigma) F\(j)") }
        }
    }

    /// Score = finite difference of ln P_t for a three-component mixture with unequal variances.
    func testScoreIsGradientOfLogDensity() throws {
        let gmm = try GaussianMixtureModel(means: Matrix(rowArrays: [[1, 0, 2], [-1, 1, 0], [0, -2, 1]]),
                                           variances: [0.3, 1.0, 0.05], weights: [0.2, 0.5, 0.3])
        let model = GaussianMixtureScore(gmm)
        for t in [1e-3, 0.1, 1, 5] {
            let x = [0.4, -0.3, 0.9]
            let e = try model.evaluate(at: x, t: t)
            for j in 0..<3 {
                let h = 1e-6
                var xp = x, xm = x
                xp[j] += h; xm[j] -= h
                let fd = (try model.evaluate(at: xp, t: t).logDensity - model.evaluate(at: xm, t: t).logDensity) / (2 * h)
                assertClose(e.score[j], fd, relative: 1e-6, "t=\(t) F\(j)")
            }
        }
    }

    /// PF-ODE with the population score of N(0, σ²I): x_t = x_T √(Γ_t/Γ_T), Γ_t = Δ_t + σ² e^{−2t}.
    func testODEOnGaussianDataIsExactLinearMap() throws {
        let sigma = 0.7
        let model = GaussianMixtureScore(try .isotropicGaussian(d: 3, sigma: sigma))
        let start = Matrix(rowArrays: [[1.2, -0.4, 0.3], [-2, 0.5, 1]])
        let T = 5.0, tMin = 1e-5
        let r = try ProbabilityFlowODE(model: model, absoluteTolerance: 1e-12, relativeTolerance: 1e-12, threads: 1)
            .run(from: T, to: tMin, start: .states(start), seed: 0)
        let factor = (ForwardProcess.gamma(t: tMin, sigma2: sigma * sigma) / ForwardProcess.gamma(t: T, sigma2: sigma * sigma)).squareRoot()
        for i in 0..<2 { for j in 0..<3 { assertWithin(r.samples[i, j], start[i, j] * factor, 1e-8, "x[\(i),\(j)]") } }
    }

    /// Backward SDE with the population score reproduces mean and variance at t_min within
    /// Monte-Carlo error: 1-D Gaussian N(0.5, 0.25) and the two-class mixture along m.
    func testBackwardSDEReproducesMoments() throws {
        let grid = try TimeGrid.geometric(from: 8, to: 1e-3, steps: 200)
        let count = 4000
        // 1-D Gaussian (one component of variance 0.25 at 0.5).
        let g = GaussianMixtureScore(try GaussianMixtureModel(means: Matrix(rowArrays: [[0.5]]), variances: [0.25], weights: [1]))
        for scheme in SDEScheme.allCases {
            let r = try BackwardSDE(model: g, scheme: scheme, finalStep: .none, threads: 2).run(grid: grid, start: .prior(count: count), seed: 7)
            let xs = r.samples.storage
            let mean = xs.reduce(0, +) / Double(count)
            let variance = xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(count - 1)
            // Target at t_min: N(0.5 e^{-t}, Γ_{t_min}).
            let tm = grid.end, target = ForwardProcess.gamma(t: tm, sigma2: 0.25)
            assertWithinSE(mean, 0.5 * exp(-tm), se: (target / Double(count)).squareRoot(), k: 4, "\(scheme) mean")
            // Euler–Maruyama carries an O(h) bias; 200 geometric steps keep it below the MC error.
            assertWithinSE(variance, target, se: target * (2 / Double(count)).squareRoot(), k: 4, "\(scheme) variance")
        }
        // Two-class mixture, d = 16: projection q = m̂·x/|m| has mean 0, E q² = |m|² + σ², and
        // the class fractions are ½ each.
        let d = 16
        let mix = GaussianMixtureScore(try .twoClass(d: d, mTilde: 1, sigma: 1))
        let r = try BackwardSDE(model: mix, finalStep: .posteriorDraw, threads: 2).run(grid: grid, start: .prior(count: count), seed: 8)
        let q = (0..<count).map { i in r.samples.rowSlice(i).reduce(0, +) / Double(d).squareRoot() }
        let q2 = q.map { $0 * $0 }.reduce(0, +) / Double(count)
        let expectedQ2 = Double(d) + 1
        // Var(q²) for the mixture: E q⁴ − (E q²)² with q ~ ±4 + N(0,1): E q⁴ = 256 + 6·16 + 3.
        let varQ2 = (256 + 96 + 3) - expectedQ2 * expectedQ2
        assertWithinSE(q2, expectedQ2, se: (varQ2 / Double(count)).squareRoot(), k: 4, "E q²")
        let plus = Double(r.finalComponents.filter { $0 == 0 }.count) / Double(count)
        assertWithinSE(plus, 0.5, se: (0.25 / Double(count)).squareRoot(), k: 4, "class fraction")
    }
}

final class CloningExperimentTests: XCTestCase {
    /// Brute-force clones with the population score, d = 16: φ within 3.5 SE of the exact curve
    /// at 5 times around t_S = ½ ln 16 (Docs/Theory.md §2.2).
    func testClonesMatchExactPhi() throws {
        let d = 16
        let model = GaussianMixtureScore(try .twoClass(d: d, mTilde: 1, sigma: 1))
        let tS = 0.5 * log(Double(d))
        let times = [0.6, 0.8, 1.0, 1.2, 1.5].map { $0 * tS }
        let exp = CloningExperiment(model: model, horizon: 8, tMin: 1e-3, steps: 120)
        let r = try exp.run(branchTimes: times, pairs: 3000, seed: 4)
        for e in r {
            let theory = SpeciationTheory.phi(t: e.t, d: Double(d), mTilde: 1, sigma: 1)
            // SE from the theory value (the measured SE vanishes when φ̂ = 1).
            let se = max(e.sameClass!.standardError, (theory * (1 - theory) / Double(e.pairs)).squareRoot())
            assertWithinSE(e.sameClass!.mean, theory, se: se, k: 3.5, "φ(t = \(e.t))")
        }
    }
}
