import Foundation
import GSLKit
import XCTest
@testable import DiffusionPhysics

/// The batched d-dimensional two-class population SDE and its clones (Docs/Theory.md §2.2, §2.4).
final class BatchedMixtureTests: XCTestCase {
    /// Identity: the batched step without noise, a x + b tanh(κ û·x) m, equals the backward-SDE step
    /// of Docs/Theory.md §1.4 computed from the full population score (GaussianMixtureScore) — exact
    /// OU: (Δ_s e^{−(t−s)}/Δ_t) x + (Δ_{t−s} e^{−s}/Δ_t) m̂; Euler: x + h(x + 2F) — at random points.
    func testStepIsTheFullScoreStep() throws {
        let rng = RandomStream(seed: 21)
        for (d, sigma) in [(16, 1.0), (37, 0.5)] {
            let law = try GaussianMixtureModel.twoClass(d: d, mTilde: 0.8, sigma: sigma, direction: .random(seed: 5))
            let score = GaussianMixtureScore(law)
            for scheme in SDEScheme.allCases {
                let sde = try BatchedMixtureSDE(law, scheme: scheme)
                for (t, s) in [(2.5, 2.4), (0.3, 0.25), (0.02, 0.01)] {
                    var x = [Double](repeating: 0, count: d)
                    rng.fillGaussian(&x, 0..<d)
                    let e = try score.evaluate(at: x, t: t)
                    let st = sde.step(from: t, to: s)
                    let M = zip(sde.direction, x).reduce(0.0) { $0 + $1.0 * $1.1 }
                    let q = tanh(st.kappa * M)
                    for j in 0..<d {
                        let batched = st.a * x[j] + st.b * q * sde.mean[j]
                        let full: Double
                        switch scheme {
                        case .exactOU:
                            let dt = ForwardProcess.delta(t)
                            full = ForwardProcess.delta(s) * exp(-(t - s)) / dt * x[j]
                                + ForwardProcess.delta(t - s) * exp(-s) / dt * e.posteriorMean[j]
                        case .eulerMaruyama:
                            full = x[j] + (t - s) * (x[j] + 2 * e.score[j])
                        }
                        XCTAssertEqual(batched, full, accuracy: 1e-11 * max(1, abs(full)), "\(scheme) d = \(d) t = \(t) j = \(j)")
                    }
                    let noise = scheme == .exactOU
                        ? (ForwardProcess.delta(s) * ForwardProcess.delta(t - s) / ForwardProcess.delta(t)).squareRoot()
                        : (2 * (t - s)).squareRoot()
                    XCTAssertEqual(st.c, noise, accuracy: 1e-15)
                }
            }
        }
    }

    /// Results are a function of (seed, pairs, times) only: identical on 1 and 2 threads and with
    /// different chunk sizes (d = 21 exercises the scalar tail of the lanes).
    func testIndependentOfThreadsAndChunks() throws {
        let law = try GaussianMixtureModel.twoClass(d: 21, mTilde: 1, sigma: 1)
        let settings = SDESettings(horizon: 4, steps: 60)
        let times = [0.8, 1.5]
        let one = try BatchedMixtureClones(law: law, settings: settings, threads: 1).run(branchTimes: times, pairs: 45, seed: 3)
        let two = try BatchedMixtureClones(law: law, settings: settings, threads: 2, chunkSize: 7).run(branchTimes: times, pairs: 45, seed: 3)
        XCTAssertEqual(one, two)
        let sign1 = try BatchedMixtureClones(law: law, settings: settings, rule: .sign, threads: 1, chunkSize: 4)
            .run(branchTimes: times, pairs: 45, seed: 3)
        let sign2 = try BatchedMixtureClones(law: law, settings: settings, rule: .sign, threads: 2, chunkSize: 16)
            .run(branchTimes: times, pairs: 45, seed: 3)
        XCTAssertEqual(sign1, sign2)
        XCTAssertNotEqual(one, try BatchedMixtureClones(law: law, settings: settings, threads: 2).run(branchTimes: times, pairs: 45, seed: 4))
    }

    /// Batched full-dimensional clones agree with the exact 1-D reduction (ReducedCloningExperiment,
    /// independent code and streams) within 4 combined SE, and with the exact φ of Docs/Theory.md §2.2
    /// within 4 SE, at d = 16 and 64 around t_S = ½ ln(1 + d) (fine uniform grid: step bias ≪ SE).
    func testClonesMatchReductionAndExactPhi() throws {
        for (d, times, seed) in [(16, [0.9, 1.4, 2.0], UInt64(4)), (64, [1.8, 2.1, 2.4], UInt64(6))] {
            let law = try GaussianMixtureModel.twoClass(d: d, mTilde: 1, sigma: 1, direction: .random(seed: 2))
            let settings = SDESettings(horizon: 5, tMin: 1e-3, steps: 600, grid: .uniform)
            let batched = try BatchedMixtureClones(law: law, settings: settings, threads: 2).run(branchTimes: times, pairs: 3000, seed: seed)
            let reduced = try ReducedCloningExperiment(sde: TwoClassReducedSDE(law), horizon: 5, maxStep: 4e-3, threads: 2)
                .run(branchTimes: times, pairs: 3000, seed: seed + 100)
            for (b, r) in zip(batched, reduced) {
                let pb = try XCTUnwrap(b.sameClass), pr = r.phi
                XCTAssertEqual(b.sameComponent, pb)
                let se = (pb.standardError * pb.standardError + pr.standardError * pr.standardError).squareRoot()
                assertWithinSE(pb.mean, pr.mean, se: se, k: 4, "d = \(d): batched vs reduced φ(\(b.t))")
                let exact = SpeciationTheory.phi(t: b.t, d: Double(d), mTilde: 1, sigma: 1)
                assertWithinSE(pb.mean, exact, se: pb.standardError, k: 4, "d = \(d): batched vs exact φ(\(b.t))")
                XCTAssert(pb.standardError > 0 && pb.standardError < 0.01, "SE \(pb.standardError)")
            }
        }
    }

    /// The 0/1 sign rule estimates the same φ as the Rao–Blackwellised rule on the same trajectories
    /// (at t_end = 10⁻³ the class posterior is nearly saturated, so the two differ by far less than
    /// an SE), and both match the exact φ (d = 16).
    func testSignRuleMatchesPosteriorRule() throws {
        let law = try GaussianMixtureModel.twoClass(d: 16, mTilde: 1, sigma: 1)
        let settings = SDESettings(horizon: 5, tMin: 1e-3, steps: 400, grid: .uniform)
        let times = [1.0, 1.6]
        let sign = try BatchedMixtureClones(law: law, settings: settings, rule: .sign, threads: 2).run(branchTimes: times, pairs: 3000, seed: 9)
        let post = try BatchedMixtureClones(law: law, settings: settings, rule: .posterior, threads: 2).run(branchTimes: times, pairs: 3000, seed: 9)
        for (s, p) in zip(sign, post) {
            let a = try XCTUnwrap(s.sameClass), b = try XCTUnwrap(p.sameClass)
            assertWithinSE(a.mean, b.mean, se: a.standardError, k: 0.5, "sign vs posterior φ(\(s.t))")
            assertWithinSE(a.mean, SpeciationTheory.phi(t: s.t, d: 16, mTilde: 1, sigma: 1), se: a.standardError, k: 4, "sign vs exact")
        }
    }

    /// Bad input: one clear error, nothing run.
    func testRejectsBadInput() throws {
        let law = try GaussianMixtureModel.twoClass(d: 8, mTilde: 1, sigma: 1)
        let clones = try BatchedMixtureClones(law: law, settings: SDESettings(horizon: 3))
        XCTAssertThrowsError(try clones.run(branchTimes: [3.5], pairs: 10, seed: 1))
        XCTAssertThrowsError(try clones.run(branchTimes: [1], pairs: 1, seed: 1))
        let zero = try GaussianMixtureModel.twoClass(d: 8, mTilde: 0, sigma: 1)
        XCTAssertThrowsError(try BatchedMixtureSDE(zero))
        let three = try GaussianMixtureModel(means: Matrix(rows: 3, columns: 2), variances: [1, 1, 1], weights: [1, 1, 1])
        XCTAssertThrowsError(try BatchedMixtureClones(law: three))
    }
}
