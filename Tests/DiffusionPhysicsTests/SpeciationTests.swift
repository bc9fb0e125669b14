import Foundation
import GSLKit
import XCTest
@testable import DiffusionPhysics

/// Speciation: predictions and the three measurements of φ(t) (Docs/Theory.md §2). The analytic φ table,
/// φ_∞ table, both analytic forms and the Curie–Weiss roots are in TheoryTests; the d = 16 clone
/// run is in CloningExperimentTests.
final class SpeciationTests: XCTestCase {
    /// Pairwise agreement of two independent estimates within k combined SEs.
    private func assertAgree(_ a: PhiPoint, _ b: PhiPoint, k: Double = 3.5, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        let se = (a.stderr * a.stderr + b.stderr * b.stderr).squareRoot()
        assertWithinSE(a.measured, b.measured, se: max(se, 1e-3), k: k, what, file: file, line: line)
    }

    // MARK: analytic (what TheoryTests does not cover)

    /// h = 1 ⇔ t = ½ ln(1 + d m̃² − σ²) for any σ, m̃ (Docs/Theory.md §2.2), where φ = 0.7752002453966635
    /// in both analytic forms (closed form and the paper's eq. 6 integral).
    func testSpecialValueAtGeneralSigma() throws {
        for (d, m, s) in [(100.0, 0.8, 0.5), (37.0, 1.3, 2.0), (4096.0, 0.5, 1.5)] {
            let t = 0.5 * log(1 + d * m * m - s * s)
            assertWithin(SpeciationTheory.h(t: t, d: d, mTilde: m, sigma: s), 1, 1e-12, "h at t_h1")
            assertWithin(SpeciationTheory.phi(t: t, d: d, mTilde: m, sigma: s), 0.7752002453966635, 1e-10, "φ closed form")
            assertWithin(try SpeciationTheory.phiIntegral(t: t, d: d, mTilde: m, sigma: s), 0.7752002453966635, 1e-8, "φ eq. 6")
        }
    }

    /// The Curie–Weiss root u* = h tanh u* locates the maximum of the density along m̂,
    /// ln P_t(M) = −M²/(2Γ) + ln cosh(M|m|e^{−t}/Γ) (Docs/Theory.md §2.4) — found here by golden-section search.
    func testCurieWeissModeIsDensityMaximum() throws {
        let d = 64.0, m = 1.0, s = 0.7
        for t in [0.8, 1.5, 2.0] {
            let gamma = ForwardProcess.gamma(t: t, sigma2: s * s), c = m * d.squareRoot() * exp(-t) / gamma
            let logP: (Double) -> Double = { M in -M * M / (2 * gamma) + Special.lnCosh(M * c) }
            var lo = 1e-9, hi = 20.0
            let g = (5.0.squareRoot() - 1) / 2
            for _ in 0..<200 {
                let a = hi - g * (hi - lo), b = lo + g * (hi - lo)
                if logP(a) < logP(b) { lo = a } else { hi = b }
            }
            let u = 0.5 * (lo + hi) * c
            let h = SpeciationTheory.h(t: t, d: d, mTilde: m, sigma: s)
            XCTAssertGreaterThan(h, 1)
            assertWithin(try SpeciationTheory.curieWeissMode(h: h), u, 1e-6, "u* at t = \(t)")
        }
    }

    // MARK: predictions

    /// Population two-class mixture: Λ = d m̃² + σ² exactly, then σ² (d − 1 times); t_S conventions;
    /// the analytic curve and crossing for a random mean direction equal the closed form.
    func testPopulationPrediction() throws {
        let law = try GaussianMixtureModel.twoClass(d: 64, mTilde: 0.7, sigma: 0.5, direction: .random(seed: 3))
        let m = try SpeciationMeasurement(subject: .population(law))
        let p = try m.predict(threshold: 0.775)
        assertWithin(p.lambda, 64 * 0.49 + 0.25, 1e-10, "Λ")
        XCTAssertEqual(p.eigenvalues.count, 5)
        assertWithin(p.eigenvalues[1], 0.25, 1e-15, "second eigenvalue σ²")
        assertWithin(p.tS.paper, 0.5 * log(31.61), 1e-12, "t_S paper")
        assertWithin(p.tS.curvature, 0.5 * log(32.61), 1e-12, "t_S curvature")
        assertWithin(p.tS.drift, 0.5 * log(63.22), 1e-12, "t_S drift")
        assertWithin(p.phiInfinity, 0.5, 1e-15, "φ(∞)")
        let expected = try SpeciationTheory.phiCrossingTime(threshold: 0.775, d: 64, mTilde: 0.7, sigma: 0.5)
        assertWithin(p.tCrossTheory!, expected, 1e-9, "exact crossing")
        for t in [0.5, 1.7, 3.0] {
            assertWithin(m.analyticPhi!(t), SpeciationTheory.phi(t: t, d: 64, mTilde: 0.7, sigma: 0.5), 1e-12, "analytic φ(\(t))")
        }
        // Auto grid: t/t_S from 0.5 to 1.5 of the primary t_S = ½ ln(1 + Λ).
        let grid = SpeciationMeasurement.autoTimes(p, count: 11)
        assertWithin(grid.first! / p.tS.curvature, 0.5, 1e-12, "auto low")
        assertWithin(grid.last! / p.tS.curvature, 1.5, 1e-12, "auto high")
    }

    /// Sample covariance of n = 2000 points of the two-class mixture (d = 64, m̃ = σ = 1): over 20
    /// independent datasets the top eigenvalue has the mean Λ(1 + γσ²/|m|²) and the SE
    /// √((4|m|²σ² + 2σ⁴)/n) = 0.359 of `SpeciationTheory.sampleTopEigenvalue` (not the Gaussian
    /// spiked value Λ√(2/n) = 2.06: the projection on m is bimodal).
    func testSampleLambdaWithinSamplingError() throws {
        let d = 64, n = 2000, reps = 20
        let law = try GaussianMixtureModel.twoClass(d: d, mTilde: 1, sigma: 1)
        let theory = SpeciationTheory.sampleTopEigenvalue(d: d, n: n, mTilde: 1, sigma: 1)
        assertWithin(theory.standardError, (258.0 / 2000).squareRoot(), 1e-12, "SE formula")
        var values: [Double] = []
        for seed in 0..<reps {
            let data = try law.sample(n: n, seed: UInt64(100 + seed))
            let p = try SpeciationMeasurement(subject: .dataset(data, law: law)).predict()
            XCTAssertEqual(p.lambdaPopulation, 65)
            XCTAssertFalse(p.usedGram)
            values.append(p.lambda)
        }
        let stats = MeanEstimate(values)
        let sd = stats.standardError * Double(reps).squareRoot()
        assertWithinSE(stats.mean, theory.mean, se: stats.standardError, k: 3.5, "mean sample Λ")
        // 19 degrees of freedom: sd/SE outside [0.55, 1.5] has probability < 1e-3.
        XCTAssert(sd / theory.standardError > 0.55 && sd / theory.standardError < 1.5,
                  "sample SD of Λ̂ \(sd) vs predicted SE \(theory.standardError)")
        // And far below the Gaussian spiked-model SE Λ√(2/n).
        XCTAssertLessThan(sd, 0.5 * 65 * (2.0 / Double(n)).squareRoot())
    }

    // MARK: measurements

    /// Brute-force clones with the population score at d = 256: φ within 3.5 SE of the exact curve
    /// at 5 times around t_S = ½ ln 256 (Docs/Theory.md §2.2; F2 of §5).
    func testClonesMatchExactPhiAtD256() throws {
        let d = 256
        let model = GaussianMixtureScore(try .twoClass(d: d, mTilde: 1, sigma: 1))
        let tS = 0.5 * log(Double(d))
        let times = [0.7, 0.85, 1.0, 1.15, 1.3].map { $0 * tS }
        let r = try CloningExperiment(model: model, horizon: 6.5, tMin: 1e-3, steps: 60, threads: 2)
            .run(branchTimes: times, pairs: 500, seed: 11)
        XCTAssertEqual(r.count, 5)
        for e in r {
            let theory = SpeciationTheory.phi(t: e.t, d: Double(d), mTilde: 1, sigma: 1)
            let se = max(e.sameClass!.standardError, (theory * (1 - theory) / Double(e.pairs)).squareRoot())
            assertWithinSE(e.sameClass!.mean, theory, se: se, k: 3.5, "clones φ(t = \(e.t)), d = 256")
        }
    }

    /// Population score, d = 64: Rao–Blackwellised φ (x drawn from P_t directly) and U-turns agree
    /// with the exact curve; the measured crossing agrees with the exact crossing.
    func testPopulationRBAndUTurnMatchTheory() throws {
        let law = try GaussianMixtureModel.twoClass(d: 64, mTilde: 1, sigma: 1)
        let m = try SpeciationMeasurement(subject: .population(law), steps: 60, threads: 2)
        let p = try m.predict()
        let times = SpeciationMeasurement.autoTimes(p, count: 5, low: 0.6, high: 1.4)
        let r = try m.run(times: times, count: 800, estimators: [.rb, .uturn], seed: 5)
        XCTAssertEqual(r.primary, .rb)
        for e in [SpeciationEstimator.rb, .uturn] {
            for q in r.estimators[e]! {
                let se = max(q.stderr, 1e-3)
                assertWithinSE(q.measured, q.theory!, se: se, k: 3.5, "\(e) φ(t = \(q.t))")
            }
        }
        let cross = try XCTUnwrap(r.tCross)
        assertWithinSE(cross, p.tCrossTheory!, se: r.tCrossStderr! + 0.01, k: 3.5, "t_cross (rb) vs exact")
    }

    /// The three estimators agree within error with the empirical score (two-class mixture sample,
    /// n = 2000, d = 32; 300 pairs, 50 steps — sized for the test budget): clones, Rao–Blackwellised E Σ p_c², U-turns (Docs/Theory.md §2.2 identities).
    /// Also the U-turn's return to the origin point equals the forward E[Y2] = φ_C (Docs/Theory.md §3.3).
    func testThreeEstimatorsAgreeEmpirical() throws {
        let law = try GaussianMixtureModel.twoClass(d: 32, mTilde: 1, sigma: 1)
        let data = try law.sample(n: 2000, seed: 7)
        let m = try SpeciationMeasurement(subject: .dataset(data, law: law), horizon: 5, steps: 50, threads: 2)
        let times = [1.2, 1.7, 2.3]
        let r = try m.run(times: times, count: 300, estimators: Set(SpeciationEstimator.allCases), seed: 3)
        let clones = r.estimators[.clones]!, rb = r.estimators[.rb]!, uturn = r.estimators[.uturn]!
        XCTAssertEqual(clones.map(\.t), times)
        for i in times.indices {
            assertAgree(clones[i], rb[i], "clones vs rb at t = \(times[i])")
            assertAgree(uturn[i], rb[i], "uturn vs rb at t = \(times[i])")
            assertAgree(clones[i], uturn[i], "clones vs uturn at t = \(times[i])")
        }
        // The curve actually falls through the threshold on this grid.
        XCTAssertGreaterThan(rb[0].measured, 0.85)
        XCTAssertLessThan(rb[2].measured, 0.7)
        // φ_C: U-turn returns to a_μ0 vs E[Y2] (forward, planted).
        let fwd = try ForwardSampling(score: try EmpiricalScore(data), threads: 2).estimate(times: times, samples: 2000, seed: 9)
        for (i, f) in fwd.enumerated() {
            let u = r.uturnSameComponent![i]
            let se = max((u.stderr * u.stderr + f.y2.standardError * f.y2.standardError).squareRoot(), 1e-3)
            assertWithinSE(u.measured, f.y2.mean, se: se, k: 3.5, "U-turn return vs E[Y2] at t = \(times[i])")
        }
    }

    /// Three classes (digits 0, 1, 2): φ(∞) = Σ π_c², reached by the Rao–Blackwellised φ at large
    /// t; at small t the classes are sealed (φ ≈ 1).
    func testMultiClassPhiLimits() throws {
        let data = try DatasetSpec.parse("digits:classes=0,1,2").load(seed: 1)
        let counts = data.classCounts.values.map { Double($0) / Double(data.n) }
        let m = try SpeciationMeasurement(subject: .dataset(data, law: nil))
        let p = try m.predict()
        assertWithin(p.phiInfinity, counts.reduce(0) { $0 + $1 * $1 }, 1e-12, "Σ π_c²")
        XCTAssertNil(p.tCrossTheory)
        XCTAssertNil(m.analyticPhi)
        let r = try m.run(times: [0.01, 8], count: 400, estimators: [.rb], seed: 2)
        XCTAssertGreaterThan(r.phi[0].measured, 0.99)
        assertWithin(r.phi[1].measured, p.phiInfinity, 1e-4, "φ(t = 8)")
        XCTAssertNil(r.phi[0].theory)
    }

    /// Fashion-MNIST trouser (1) vs ankle boot (9), Docs/Theory.md §4.2 preprocessing, 200 per class:
    /// t_cross/t_S (t_S = ½ ln Λ) in the physically sensible band 0.6–1.3 (paper: 0.68–1.05).
    func testFashionMNISTCrossingRatio() throws {
        guard FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz") else {
            throw XCTSkip("/usr/share/datasets/fashion-mnist is absent (Debian package dataset-fashion-mnist)")
        }
        let data = try DatasetSpec.parse("fashion-mnist:classes=1,9,per-class=200").load(seed: 1)
        let m = try SpeciationMeasurement(subject: .dataset(data, law: nil), threads: 2)
        let p = try m.predict()
        XCTAssertTrue(p.usedGram)
        XCTAssertGreaterThan(p.lambda, 5)
        let r = try m.run(times: SpeciationMeasurement.autoTimes(p), count: 1000, estimators: [.rb], seed: 1)
        let ratio = try XCTUnwrap(r.tCross) / p.tS.curvature
        print("SpeciationTests: FMNIST 1v9 per-class 200: Λ = \(p.lambda), t_S = ½ln(1+Λ) = \(p.tS.curvature), t_cross = \(r.tCross!) ± \(r.tCrossStderr!), ratio \(ratio)")
        XCTAssert(ratio > 0.6 && ratio < 1.3, "t_cross/t_S = \(ratio)")
    }

    /// Bad input throws (one-line errors), never traps.
    func testBadInputThrows() throws {
        let unlabelled = try Dataset(points: Matrix(rowArrays: [[0, 1], [1, 0], [2, 2]]), name: "u")
        XCTAssertThrowsError(try SpeciationMeasurement(subject: .dataset(unlabelled, law: nil)))
        XCTAssertThrowsError(try SpeciationMeasurement(subject: .population(try .isotropicGaussian(d: 4, sigma: 1))))
        let law = try GaussianMixtureModel.twoClass(d: 4, mTilde: 1, sigma: 1)
        let m = try SpeciationMeasurement(subject: .population(law), steps: 10)
        XCTAssertThrowsError(try m.run(times: [-1], count: 10, estimators: [.rb], seed: 1))
        XCTAssertThrowsError(try m.run(times: [1], count: 1, estimators: [.rb], seed: 1))
        XCTAssertThrowsError(try m.run(times: [1], count: 10, estimators: [.rb], threshold: 2, seed: 1))
        XCTAssertThrowsError(try m.run(times: [1], count: 10, estimators: [], seed: 1))
        XCTAssertThrowsError(try UTurnExperiment(model: GaussianMixtureScore(law), horizon: 5, steps: 10)
            .run(times: [6], origins: try .population(law, count: 5, seed: 1), samples: 5, seed: 1))
    }
}
