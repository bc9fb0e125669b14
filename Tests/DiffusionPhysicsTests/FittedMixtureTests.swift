import Foundation
import GSLKit
import XCTest
@testable import DiffusionPhysics

/// Gaussian mixtures fitted to labelled data and their speciation / collapse predictions
/// (Docs/Theory.md §2.5), each against an independent number: the §2.2 closed form, the §3.2 finite-d
/// GMM entropy, the closed-form LDA φ, or the exact-empirical measurement.
final class FittedMixtureTests: XCTestCase {
    /// A d = 6 two-class mixture with unequal, non-diagonal covariances.
    static func unequalMixture(equalCovariances: Bool = false, weights: [Double] = [0.5, 0.5]) throws -> FittedGaussianMixture {
        let d = 6
        var c1 = Matrix<Double>(rows: d, columns: d)
        for (j, v) in [2.0, 0.5, 1.0, 0.3, 1.5, 0.8].enumerated() { c1[j, j] = v }
        // C2 = A Aᵀ + 0.2 I with a fixed A.
        let a: [[Double]] = [[1.0, 0.4, 0, 0.2, 0, 0], [0.3, 0.9, 0.5, 0, 0, 0.1], [0, 0.2, 0.6, 0.4, 0, 0],
                             [0.5, 0, 0, 1.2, 0.3, 0], [0, 0, 0.7, 0, 0.5, 0.2], [0.1, 0, 0, 0, 0.3, 1.1]]
        var c2 = Matrix<Double>(rows: d, columns: d)
        for i in 0..<d { for j in 0..<d { c2[i, j] = (0..<d).reduce(0) { $0 + a[i][$1] * a[j][$1] } + (i == j ? 0.2 : 0) } }
        let mu: [Double] = [1.5, 0.8, 0, -0.3, 0, 0]
        let means = Matrix(rows: 2, columns: d, storage: mu + mu.map { -$0 })
        return try FittedGaussianMixture(weights: weights, means: means, covariances: equalCovariances ? [c2, c2] : [c1, c2])
    }

    /// φ_LDA = ½ + ½ E tanh²(h + √h z) and the QDA Monte Carlo reduce to Docs/Theory.md §2.2's φ for
    /// isotropic classes N(±m, σ²I) (closed form to 1e-10; Monte Carlo within 3.5 SE).
    func testIsotropicReducesToTwoGaussianPhi() throws {
        for sigma in [1.0, 0.7] {
            let law = try GaussianMixtureModel.twoClass(d: 16, mTilde: 1, sigma: sigma)
            let mixture = try FittedGaussianMixture(exactly: law)
            let lda = try FittedMixtureTheory.phiLDA(mixture)
            let times = [0.8, 0.5 * log(16.0), 2.0]
            for t in times {
                assertWithin(lda(t), SpeciationTheory.phi(t: t, d: 16, mTilde: 1, sigma: sigma), 1e-10, "φ_LDA σ = \(sigma), t = \(t)")
            }
            let mc = try FittedMixtureEnsemble(mixture: mixture, fit: .perClass, samples: 6000, seed: 3, threads: 1).phi(at: times)
            for p in mc {
                assertWithinSE(p.phi.mean, SpeciationTheory.phi(t: p.t, d: 16, mTilde: 1, sigma: sigma), se: p.phi.standardError,
                               "φ_QDA Monte Carlo σ = \(sigma), t = \(p.t)")
            }
            // The exact crossing of 0.775 (Docs/Theory.md §2.2) from the LDA root.
            let exact = try SpeciationTheory.phiCrossingTime(threshold: 0.775, d: 16, mTilde: 1, sigma: sigma)
            assertWithin(try XCTUnwrap(FittedMixtureTheory.ldaCrossing(mixture, threshold: 0.775)), exact, 1e-7, "t_S^LDA")
        }
    }

    /// Equal class covariances: the closed-form φ_LDA equals the QDA Monte Carlo within its SE, for equal
    /// and unequal class weights (the latter checks the b = ln π₁/π₂ form of §2.5).
    func testLDAClosedFormEqualsQDAMonteCarloForEqualCovariances() throws {
        for weights in [[0.5, 0.5], [0.3, 0.7]] {
            let mixture = try Self.unequalMixture(equalCovariances: true, weights: weights)
            let lda = try FittedMixtureTheory.phiLDA(mixture)
            let ensemble = try FittedMixtureEnsemble(mixture: mixture, fit: .perClass, samples: 20000, seed: 5, threads: 1)
            for p in try ensemble.phi(at: [0.05, 0.3, 0.8, 1.5]) {
                assertWithinSE(p.phi.mean, lda(p.t), se: p.phi.standardError, "weights \(weights), t = \(p.t)")
            }
            // With the pooled fit the same ensemble code takes the shared-basis path.
            let pooled = try FittedMixtureEnsemble(mixture: mixture, fit: .pooled, samples: 20000, seed: 5, threads: 1)
            for (a, b) in zip(try ensemble.phi(at: [0.3]), try pooled.phi(at: [0.3])) {
                assertWithin(a.phi.mean, b.phi.mean, 1e-9, "pooled = per-class when the covariances are equal")
            }
        }
    }

    /// Known two-Gaussian mixture with unequal covariances: φ_QDA and the QDA t_S of mixtures fitted to
    /// n points approach the exact ones as n grows (the same Monte-Carlo draws, so the difference is
    /// the fit's error alone), and the exact-empirical measured φ (Rao–Blackwellised forward samples,
    /// n = 4000, d = 6: collapse at t ≈ 0.03, far below) agrees with the exact φ within its errors.
    func testFittedPredictionsConvergeToExactAndMatchMeasurement() throws {
        let exact = try Self.unequalMixture()
        let times = [0.2, 0.45, 0.8]
        let samples = 20000
        let reference = try FittedMixtureEnsemble(mixture: exact, fit: .perClass, samples: samples, seed: 9, threads: 1).phi(at: times)
        // Monte-Carlo SE of a difference of two independent φ estimates (the draws do not carry over
        // between different eigenbases, so the difference is not a common-random-numbers one).
        var gaps: [Double] = [], ldaGaps: [Double] = []
        let ldaExact = try FittedMixtureTheory.phiLDA(exact)
        for n in [30, 30000] {
            let data = try exact.sample(n: n, seed: 11)
            let fitted = try FittedGaussianMixture(fitting: data)
            let curve = try FittedMixtureEnsemble(mixture: fitted, fit: .perClass, samples: samples, seed: 9, threads: 1).phi(at: times)
            let z = zip(curve, reference).map { abs($0.phi.mean - $1.phi.mean) / ($0.phi.standardError * $0.phi.standardError + $1.phi.standardError * $1.phi.standardError).squareRoot() }
            let k = z.indices.max { z[$0] < z[$1] }!
            gaps.append(z[k])
            let lda = try FittedMixtureTheory.phiLDA(fitted)
            ldaGaps.append(times.map { abs(lda($0) - ldaExact($0)) }.max()!)
        }
        // In SE units: n = 30 is significantly off, n = 30000 is consistent with the exact curve.
        XCTAssertGreaterThan(gaps[0], 3.5, "fitted φ_QDA at n = 30 differs from the exact one (in SE): \(gaps)")
        XCTAssertLessThan(gaps[1], 3.5, "fitted φ_QDA at n = 30000 agrees with the exact one (in SE): \(gaps)")
        // The closed-form LDA φ of the fit (no Monte-Carlo noise) converges to that of the exact
        // mixture's pooled covariance; parameter error O(√(d/n)) ≈ 0.014 at n = 30000.
        XCTAssertLessThan(ldaGaps[1], ldaGaps[0], "φ_LDA fit error shrinks with n: \(ldaGaps)")
        XCTAssertLessThan(ldaGaps[1], 0.01, "φ_LDA fit error at n = 30000: \(ldaGaps)")
        // Crossings: exact against fitted (n = 30000), both by Brent on their sample sets.
        let exactCross = try XCTUnwrap(FittedMixtureEnsemble(mixture: exact, fit: .perClass, samples: samples, seed: 9, threads: 1)
            .phiCrossing(level: 0.775, bracket: [0.05, 0.2, 0.45, 0.8, 1.5]))
        let big = try FittedGaussianMixture(fitting: exact.sample(n: 30000, seed: 11))
        let fitCross = try XCTUnwrap(FittedMixtureEnsemble(mixture: big, fit: .perClass, samples: samples, seed: 9, threads: 1)
            .phiCrossing(level: 0.775, bracket: [0.05, 0.2, 0.45, 0.8, 1.5]))
        assertWithin(fitCross.t, exactCross.t, 0.02, "t_S^QDA fitted (n = 30000) against exact")
        // Exact-empirical measurement on n = 4000 points of the law, 4000 forward samples per t. The
        // measured φ is that of the empirical law, which fluctuates around the population φ by about
        // SE_rb·√(samples/n) = SE_rb: tolerance 3.5 √(2 SE_rb² + SE_exact²).
        let data = try exact.sample(n: 4000, seed: 13)
        let measured = try ForwardSampling(score: EmpiricalScore(data), threads: 1).estimate(times: times, samples: 4000, seed: 17)
        for (m, r) in zip(measured, reference) {
            let a = try XCTUnwrap(m.classAgreement)
            let se = (2 * a.standardError * a.standardError + r.phi.standardError * r.phi.standardError).squareRoot()
            assertWithinSE(a.mean, r.phi.mean, se: se, "measured exact-empirical φ against the exact QDA φ at t = \(m.t)")
        }
    }

    /// The fitted-mixture entropy reduces to the finite-d GMM entropy of Docs/Theory.md §3.2 for isotropic
    /// classes, and its entropy-criterion root to `CollapseTheory.tCGMMFiniteD`.
    func testFittedEntropyReducesToFiniteDGMMEntropy() throws {
        let d = 16
        let mixture = try FittedGaussianMixture(exactly: GaussianMixtureModel.twoClass(d: d, mTilde: 1, sigma: 1))
        let ensemble = try FittedMixtureEnsemble(mixture: mixture, fit: .perClass, samples: 8000, seed: 21, threads: 1)
        for v in try ensemble.values(at: [0.3, 1.0, 1.6, 2.5]) {
            let s = FittedMixtureTheory.entropy(mixture, fit: .perClass, values: v)
            let exact = try CollapseTheory.gmmEntropy(t: v.t, d: Double(d), mTilde: 1, sigma2: 1)
            assertWithinSE(s.mean, exact, se: max(s.standardError, 1e-12), "s_fit(t = \(v.t)) against §3.2's finite-d GMM entropy")
        }
        let n = 20000
        let prediction = try FittedCollapsePrediction(mixture: mixture, n: n, times: [0.2, 0.5, 1.0], samples: 8000, seed: 21, threads: 1)
        let tC = try XCTUnwrap(prediction.tC)
        let exact = try CollapseTheory.tCGMMFiniteD(n: Double(n), d: Double(d), mTilde: 1, sigma2: 1)
        assertWithinSE(tC.t, exact, se: max(tC.standardError, 1e-9), "fitted t_C against the finite-d two-class root")
        XCTAssertLessThanOrEqual(try XCTUnwrap(prediction.tCLower), tC.t + 1e-9)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(prediction.tCUpper), tC.t - 1e-9)
    }

    /// Ledoit–Wolf shrinkage keeps every fitted covariance positive definite when n_c < d (the
    /// unshrunk sample covariance has d − n_c + 1 zero eigenvalues there).
    func testShrinkageKeepsCovariancesPositiveDefinite() throws {
        let d = 30
        let law = try GaussianMixtureModel.twoClass(d: d, mTilde: 0.5, sigma: 1)
        let data = try law.sample(n: 24, seed: 4)
        let counts = data.classCounts.values.sorted()
        XCTAssert(counts.allSatisfy { $0 < d && $0 >= 2 }, "n_c < d: \(counts)")
        let fit = try FittedGaussianMixture(fitting: data)
        for c in fit.classCovariances + [fit.pooledCovariance] {
            XCTAssertGreaterThan(c.shrinkage, 0)
            XCTAssertLessThanOrEqual(c.shrinkage, 1)
            XCTAssertGreaterThan(c.eigenvalues.min()!, 0, "shrunk covariance positive definite")
        }
        let raw = try FittedGaussianMixture(fitting: data, shrinkage: .none)
        for (c, n) in zip(raw.classCovariances, raw.counts) {
            XCTAssertGreaterThanOrEqual(c.eigenvalues.filter { $0 < 1e-10 }.count, d - n + 1, "unshrunk covariance singular")
        }
        // Without shrinkage the fit of one class is its unbiased sample covariance: same spectrum as DataSpectrum.
        let labels = try XCTUnwrap(data.labels)
        let rows = labels.indices.filter { labels[$0] == raw.labels[0] }
        let spectrum = try DataSpectrum(points: data.points.rows(rows))
        for (a, b) in zip(raw.classCovariances[0].eigenvalues, spectrum.eigenvalues) { assertWithin(a, b, 1e-10, "unbiased spectrum") }
    }
}
