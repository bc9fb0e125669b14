import Foundation
import XCTest
import GSLKit
@testable import DiffusionPhysics

/// Analytic theory against Docs/Theory.md (§0, §2.2, §2.4, §3.2, §3.3, §8).
final class TheoryTests: XCTestCase {
    /// |x − y| ≤ tol with a message naming the quantity.
    private func assertClose(_ x: Double, _ y: Double, _ tol: Double, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertLessThanOrEqual(abs(x - y), tol, "\(what): got \(x), expected \(y) ± \(tol)", file: file, line: line)
    }

    // MARK: §0 forward process

    func testForwardProcessAliases() {
        assertClose(ForwardProcess.delta(1e-6), 1.999998e-6, 1e-17, "Δ(1e-6)")
        assertClose(ForwardProcess.delta(0.5), 0.6321205588285577, 1e-15, "Δ(0.5)")
        assertClose(ForwardProcess.sigmaVE2(0.5), exp(1.0) - 1, 1e-15, "σ_VE²(0.5)")
        assertClose(ForwardProcess.time(fromSigmaVE: ForwardProcess.sigmaVE2(0.7).squareRoot()), 0.7, 1e-15, "VE round trip")
        assertClose(ForwardProcess.gamma(t: 1, sigma2: 0.5), 0.9323323583816936, 1e-15, "Γ(1; σ²=0.5)")
        assertClose(ForwardProcess.gamma(t: 2.3, sigma2: 1), 1, 1e-15, "Γ(σ²=1) = 1")
    }

    func testDDPMStepTimes() {
        let table: [(Int, Double)] = [(0, 0.000050), (49, 0.014706), (99, 0.054340), (199, 0.208487),
                                      (299, 0.462641), (399, 0.817003), (499, 1.271773), (599, 1.827154),
                                      (699, 2.483349), (799, 3.240561), (899, 4.098995), (999, 5.058857)]
        for (k, t) in table { assertClose(ForwardProcess.ddpmTime(step: k), t, 5e-7, "DDPM t(\(k))") }
    }

    // MARK: §2 speciation

    func testSpeciationTimeConventions() {
        // Docs/Theory.md §4.1 Table 1: Λ = 7.66 → 1.02, 60.52 → 2.05 (paper convention).
        assertClose(SpeciationTheory.tS(lambda: 7.66).paper, 1.02, 5e-3, "t_S(7.66)")
        assertClose(SpeciationTheory.tS(lambda: 60.52).paper, 2.05, 5e-3, "t_S(60.52)")
        let times = SpeciationTheory.tS(lambda: 3)
        assertClose(times.curvature, 0.5 * log(4.0), 1e-15, "curvature")
        assertClose(times.drift, 0.5 * log(6.0), 1e-15, "drift")
    }

    func testPhiAtSpeciationPoint() {
        assertClose(SpeciationTheory.phi(h: 1), 0.7752002453966635, 1e-10, "φ(h=1)")
        assertClose(SpeciationTheory.phi(h: 0), 0.5, 0, "φ(0)")
        // Nishimori: E tanh²(h + √h z) = E tanh(h + √h z).
        for h in [0.4, 1.2, 2.7, 9.0, 40.0] {
            let tanh1 = SpeciationTheory.gaussianExpectation(kink: -h.squareRoot()) { tanh(h + h.squareRoot() * $0) }
            assertClose(SpeciationTheory.phi(h: h), 0.5 + 0.5 * tanh1, 1e-11, "Nishimori identity at h = \(h)")
        }
    }

    func testPhiInfinityTable() {
        let taus = [-2.00, -1.50, -1.00, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, 1.00, 1.50, 2.00, 3.00]
        let phis = [1.00000, 0.99999, 0.99497, 0.97409, 0.92621, 0.85509, 0.77520, 0.70058, 0.63910, 0.59278,
                    0.56007, 0.52375, 0.50899, 0.50124]
        for (tau, phi) in zip(taus, phis) {
            assertClose(SpeciationTheory.phiInfinity(tau: tau), phi, 5e-6, "φ_∞(\(tau))")
        }
    }

    func testFiniteDPhiTableBothForms() throws {
        let ts = [1.0, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 7.0]
        let rows: [(Double, [Double])] = [
            (256, [1.0000, 0.97701, 0.86211, 0.70685, 0.59637, 0.53969, 0.51532, 0.50574, 0.50213, 0.50079, 0.50011]),
            (1024, [1.0000, 0.99999, 0.99341, 0.91758, 0.76441, 0.63187, 0.55649, 0.52224, 0.50841, 0.50313, 0.50043]),
        ]
        var worst = 0.0
        for (d, phis) in rows {
            for (t, expected) in zip(ts, phis) {
                let closed = SpeciationTheory.phi(t: t, d: d, mTilde: 1, sigma: 1)
                let integral = try SpeciationTheory.phiIntegral(t: t, d: d, mTilde: 1, sigma: 1)
                assertClose(closed, expected, 5e-6, "φ closed form d=\(d) t=\(t)")
                assertClose(integral, expected, 5e-6, "φ eq. 6 d=\(d) t=\(t)")
                assertClose(closed, integral, 1e-6, "closed form vs eq. 6, d=\(d) t=\(t)")
                worst = max(worst, abs(closed - integral))
            }
        }
        // Also a σ ≠ 1, m̃ ≠ 1 case and a large-m case (d = 16384, t = 1: m e^{−t} ≈ 47).
        for (t, d, m, s) in [(0.8, 64.0, 0.7, 0.5), (1.0, 16384, 1, 1), (4.5, 16384, 1, 1)] {
            let closed = SpeciationTheory.phi(t: t, d: d, mTilde: m, sigma: s)
            let integral = try SpeciationTheory.phiIntegral(t: t, d: d, mTilde: m, sigma: s)
            assertClose(closed, integral, 1e-6, "closed vs eq. 6 at t=\(t) d=\(d) m̃=\(m) σ=\(s)")
            worst = max(worst, abs(closed - integral))
        }
        print("TheoryTests: max |closed form − eq. 6| =", worst)
        XCTAssertLessThan(worst, 1e-9, "both forms are computed to ~1e-12")
    }

    func testPhiCrossing() throws {
        for d in [256.0, 1024, 4096] {
            let t = try SpeciationTheory.phiCrossingTime(threshold: 0.775, d: d)
            let tau = t - 0.5 * log(d)
            assertClose(tau, 0.00063, 1e-5, "τ at φ = 0.775, d = \(d)")
        }
        let t75 = try SpeciationTheory.phiCrossingTime(threshold: 0.75, d: 1024)
        assertClose(t75 - 0.5 * log(1024.0), 0.0808, 5e-5, "τ at φ = 0.75")
        XCTAssertThrowsError(try SpeciationTheory.phiCrossingTime(threshold: 0.3, d: 1024))
    }

    func testCurieWeissModes() throws {
        assertClose(try SpeciationTheory.curieWeissMode(h: 1.5), 1.287839, 5e-7, "u*(1.5)")
        assertClose(try SpeciationTheory.curieWeissMode(h: 2), 1.915008, 5e-7, "u*(2)")
        assertClose(try SpeciationTheory.curieWeissMode(h: 4), 3.997303, 5e-7, "u*(4)")
        XCTAssertEqual(try SpeciationTheory.curieWeissMode(h: 0.9), 0)
        let u = try SpeciationTheory.curieWeissMode(h: 1.0001)          // near-critical: u ≈ √(3(h−1))
        assertClose(u, 1.0001 * tanh(u), 1e-15, "u = h tanh u near h = 1")
        XCTAssertGreaterThan(u, 0)
    }

    func testPotential() throws {
        let q = try SpeciationTheory.potentialMinimum(t: 3, d: 1024)
        assertClose(q, 3.186124, 5e-7, "q*")
        assertClose(SpeciationTheory.potential(q: q, t: 3, d: 1024), -3.690268, 5e-7, "V(q*)")
        XCTAssertEqual(SpeciationTheory.potential(q: 0, t: 3, d: 1024), 0)
        // V'(q*) = 0 by central difference.
        let e = 1e-5
        let slope = (SpeciationTheory.potential(q: q + e, t: 3, d: 1024) - SpeciationTheory.potential(q: q - e, t: 3, d: 1024)) / (2 * e)
        assertClose(slope, 0, 1e-8, "V'(q*)")
        assertClose(SpeciationTheory.potentialCriticalTime(d: 1024), 3.812309, 5e-7, "t*")
        XCTAssertEqual(try SpeciationTheory.potentialMinimum(t: 3.9, d: 1024), 0)
    }

    // MARK: §3.1–3.2 collapse

    func testCollapseTimeTable() throws {
        let rows: [(Double, Double, Double, Double)] = [
            (20000, 256, 0.038685, 1.298790), (20000, 1024, 0.009672, 1.977547), (20000, 4096, 0.002418, 2.667074),
            (20000, 16384, 0.000604, 3.359315), (1000, 64, 0.107933, 0.819542), (10000, 100, 0.092103, 0.891193),
            (2, 1, 0.693147, 0.143841), (1e6, 10, 1.381551, 0.032587), (200, 12288, 0.000431, 3.528137),
            (2000, 768, 0.009897, 1.966128), (2000, 3072, 0.002474, 2.655572),
        ]
        for (n, d, alpha, tC) in rows {
            let a = CollapseTheory.alpha(n: n, d: d)
            // The α column is printed to ~6 digits with last-digit slips (ln(2e4)/1024 = 0.0096714 is
            // printed 0.009672), hence 1e-6; t_C is exact to the printed digits.
            assertClose(a, alpha, 1e-6, "α(n=\(n), d=\(d))")
            let closed = CollapseTheory.tCGaussian(n: n, d: d, sigma2: 1)
            assertClose(closed, tC, 5e-7, "t_C(n=\(n), d=\(d))")
            let root = try CollapseTheory.tCFromRoot(alpha: a, sigma2: 1)
            assertClose(root, closed, 1e-9, "Brent root vs eq. 10, n=\(n) d=\(d)")
            assertClose(CollapseTheory.excessEntropy(t: closed, alpha: a), 0, 1e-14, "f(t_C)")
        }
        // σ = 1 closed form −½ ln(1 − e^{−2α}).
        assertClose(CollapseTheory.tCGaussian(alpha: 0.1), -0.5 * log(1 - exp(-0.2)), 1e-14, "σ=1 form")
    }

    func testCollapseTimeAlphaTable() throws {
        let alphas = [0.01, 0.05, 0.1, 0.2, 0.5, 1.0]
        let sigma1 = [1.961003, 1.176084, 0.853886, 0.554816, 0.229338, 0.072707]
        let sigmaHalf = [1.296709, 0.608506, 0.377865, 0.205495, 0.067918, 0.019192]
        for (i, a) in alphas.enumerated() {
            assertClose(CollapseTheory.tCGaussian(alpha: a, sigma2: 1), sigma1[i], 5e-7, "t_C(α=\(a), σ²=1)")
            assertClose(CollapseTheory.tCGaussian(alpha: a, sigma2: 0.25), sigmaHalf[i], 5e-7, "t_C(α=\(a), σ²=0.25)")
            assertClose(try CollapseTheory.tCFromRoot(alpha: a, sigma2: 0.25), sigmaHalf[i], 5e-7, "root σ²=0.25")
        }
    }

    func testClippedExcessEntropyRow() {
        let ts = [0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0]
        let d256 = [0, 0, 0, 0.3399, 0.7611, 0.9126, 0.9679, 0.9957, 0.9994, 0.9999]
        let d1024 = [0, 0, 0, 0, 0.0443, 0.6505, 0.8717, 0.9827, 0.9977, 0.9997]
        for (i, t) in ts.enumerated() {
            assertClose(CollapseTheory.clippedExcessEntropyRatio(t: t, n: 20000, d: 256), d256[i], 5e-5, "f/α d=256 t=\(t)")
            assertClose(CollapseTheory.clippedExcessEntropyRatio(t: t, n: 20000, d: 1024), d1024[i], 5e-5, "f/α d=1024 t=\(t)")
        }
    }

    func testSpectrumCollapseTime() throws {
        // Isotropic spectrum reproduces eq. 10.
        for (n, d, s2) in [(20000.0, 256, 1.0), (1000, 64, 0.25), (2000, 768, 2.0)] {
            let spectrum = [Double](repeating: s2, count: d)
            assertClose(try CollapseTheory.tCSpectrum(eigenvalues: spectrum, n: n),
                        CollapseTheory.tCGaussian(n: n, d: Double(d), sigma2: s2), 1e-10, "isotropic n=\(n) d=\(d)")
        }
        // D unit-variance directions in ambient 1000: eq. 10 with d → D.
        for (D, expected) in [(10, 0.07423), (50, 0.55876), (100, 0.85827)] {
            let spectrum = [Double](repeating: 1, count: D) + [Double](repeating: 0, count: 1000 - D)
            let t = try CollapseTheory.tCSpectrum(eigenvalues: spectrum, n: 2e4)
            assertClose(t, expected, 5e-6, "D=\(D)")
            assertClose(t, CollapseTheory.tCGaussian(n: 2e4, d: Double(D)), 1e-10, "D=\(D) vs eq. 10")
        }
        let mixed = [Double](repeating: 10, count: 10) + [Double](repeating: 0.01, count: 990)
        assertClose(try CollapseTheory.tCSpectrum(eigenvalues: mixed, n: 2e4), 0.63360, 5e-6, "10×10 + 990×0.01")
        XCTAssertEqual(try CollapseTheory.tCSpectrum(eigenvalues: [0, -1e-12], n: 100), 0)
        XCTAssertThrowsError(try CollapseTheory.tCSpectrum(eigenvalues: [1, 1], n: 1))
    }

    func testMixingEntropyAgainstDirectQuadrature() throws {
        // H1 = −∫ p ln p for p = ½N(c,Γ) + ½N(−c,Γ), by direct qagi, vs ½ ln(2πeΓ) + J(c²/Γ).
        for (c, gamma) in [(0.3, 1.0), (1.0, 1.0), (2.0, 0.7), (4.0, 1.3)] {
            let p: (Double) -> Double = { y in
                0.5 * (exp(-(y - c) * (y - c) / (2 * gamma)) + exp(-(y + c) * (y + c) / (2 * gamma))) / (2 * Double.pi * gamma).squareRoot()
            }
            let h1 = try Quadrature.qagi { y in let v = p(y); return v > 0 ? -v * log(v) : 0 }
            let j = try CollapseTheory.mixingEntropy(h: c * c / gamma)
            assertClose(0.5 * log(2 * Double.pi * M_E * gamma) + j, h1, 1e-9, "H1(c=\(c), Γ=\(gamma))")
        }
        XCTAssertEqual(try CollapseTheory.mixingEntropy(h: 0), 0)
        assertClose(try CollapseTheory.mixingEntropy(h: 400), log(2.0), 1e-15, "J(∞) = ln 2")
        assertClose(try CollapseTheory.mixingEntropy(h: 1e-8), 0, 1e-7, "J(0⁺) → 0")
    }

    func testGMMFiniteDCollapse() throws {
        let n = 2e4, d = 256.0
        assertClose(CollapseTheory.tCGaussian(n: n / 2, d: d), 1.333733, 5e-7, "t_C(n/2)")
        let root = try CollapseTheory.tCGMMFiniteD(n: n, d: d)
        // Docs/Theory.md's 1.333733 is t_C(n/2) (clusters treated as perfectly separated, J = ln 2). At
        // t ≈ 1.33, h = d e^{−2t}/Γ ≈ 18, so J = ln 2 − O(√h e^{−h/2}) ≈ ln 2 − 4e−5 and the exact root
        // lies below t_C(n/2) by ≈ (ln 2 − J)/(d f'(t)) ≈ 4e−5/(256 · 0.075) ≈ 2e−6 (measured
        // 1.93e−6). Tolerance 1e−5: five times the expected shift, ≪ the t-grid of any figure.
        assertClose(root, 1.333733, 1e-5, "finite-d GMM t_C")
        XCTAssertGreaterThan(root, CollapseTheory.tCGaussian(n: n, d: d))
        XCTAssertLessThanOrEqual(root, CollapseTheory.tCGaussian(n: n / 2, d: d) + 1e-12)
        assertClose(try CollapseTheory.gmmExcessEntropy(t: root, n: n, d: d), 0, 1e-12, "f(t_C) = 0")
        print("TheoryTests: finite-d GMM t_C(d=256, n=2e4) =", root, "shift from t_C(n/2):", root - CollapseTheory.tCGaussian(n: n / 2, d: d))
        // s_sep − s equals gmmExcessEntropy.
        let t = 1.7
        let sSep = CollapseTheory.alpha(n: n, d: d) + 0.5 + 0.5 * log(2 * Double.pi * ForwardProcess.delta(t))
        assertClose(sSep - (try CollapseTheory.gmmEntropy(t: t, d: d)), try CollapseTheory.gmmExcessEntropy(t: t, n: n, d: d), 1e-13, "s_sep − s")
        // Large t: f → α.
        assertClose(try CollapseTheory.gmmExcessEntropy(t: 15, n: n, d: d), CollapseTheory.alpha(n: n, d: d), 1e-9, "f(∞) = α")
    }

    // MARK: §3.3 REM

    func testREMDerivativeAndIdentities() {
        let e = 1e-6
        for (lambda, t, s2) in [(0.3, 0.5, 1.0), (1.0, 1.2, 0.25), (2.5, 2.0, 1.0)] {
            let fd = (RandomEnergyModel.g(lambda: lambda + e, t: t, sigma2: s2) - RandomEnergyModel.g(lambda: lambda - e, t: t, sigma2: s2)) / (2 * e)
            assertClose(RandomEnergyModel.gPrime(lambda: lambda, t: t, sigma2: s2), fd, 1e-9, "g'(λ=\(lambda), t=\(t))")
        }
        assertClose(RandomEnergyModel.epsilonStar(lambda: 1, t: 0.7), 0.5, 1e-15, "ε*(1) = ½")
        XCTAssertEqual(RandomEnergyModel.g(lambda: 0, t: 0.7), 0)
        let t = 0.9, s2 = 1.0
        let sT = s2 * exp(-2 * t), delta = ForwardProcess.delta(t)
        assertClose(RandomEnergyModel.levelEntropy(lambda: 1, t: t, sigma2: s2), 0.5 * log1p(sT / delta), 1e-14, "f_t(½)")
    }

    func testREMCondensation() throws {
        let n = 2e4, d = 256.0
        let alpha = CollapseTheory.alpha(n: n, d: d)
        let tC = CollapseTheory.tCGaussian(n: n, d: d)
        assertClose(try RandomEnergyModel.lambdaC(t: tC, alpha: alpha), 1, 1e-9, "λ_c(t_C)")
        assertClose(try RandomEnergyModel.lambdaC(t: tC - 1e-7, alpha: alpha), 1, 1e-5, "λ_c continuous at t_C")
        XCTAssertEqual(try RandomEnergyModel.lambdaC(t: tC + 0.1, alpha: alpha), 1)
        XCTAssertEqual(try RandomEnergyModel.expectedY2NonPlanted(t: tC + 0.1, alpha: alpha), 0)
        // Below t_C: 0 < λ_c < 1, decreasing towards t → 0; E[Y2] = 1 − λ_c rises.
        let l1 = try RandomEnergyModel.lambdaC(t: 1.0, alpha: alpha)
        let l2 = try RandomEnergyModel.lambdaC(t: 0.5, alpha: alpha)
        XCTAssertTrue(0 < l2 && l2 < l1 && l1 < 1, "λ_c(0.5) = \(l2), λ_c(1.0) = \(l1)")
        // Free energies: both −½ at t_C; condensed ≤ annealed below t_C.
        assertClose(RandomEnergyModel.freeEnergyLiquid(t: tC, alpha: alpha), -0.5, 1e-12, "ψ_liquid(t_C)")
        assertClose(try RandomEnergyModel.freeEnergyCondensed(t: tC, alpha: alpha), -0.5, 1e-8, "ψ_condensed(t_C)")
        for t in [0.3, 0.8, 1.2] {
            let cond = try RandomEnergyModel.freeEnergyCondensed(t: t, alpha: alpha)
            XCTAssertLessThan(cond, RandomEnergyModel.freeEnergyLiquid(t: t, alpha: alpha))
            XCTAssertLessThan(cond, -0.5)
            XCTAssertEqual(try RandomEnergyModel.freeEnergy(t: t, alpha: alpha), cond)
            // Independent check: ε_min = −ψ solves α = f_t(ε) = max_λ[−g(λ) − λε] (dense grid in λ).
            let eps = -cond
            var best = -Double.infinity
            for i in 1...200_000 {
                let lambda = Double(i) * 1e-5
                best = max(best, -RandomEnergyModel.g(lambda: lambda, t: t) - lambda * eps)
            }
            assertClose(best, alpha, 1e-9, "f_t(ε_min) = α at t = \(t)")
        }
        // REM limit of −(1/d) ln w: ψ₊ + ½ = f(t) on the liquid side (Docs/Theory.md §3.3).
        for t in [1.5, 2.0, 3.0] {
            assertClose(RandomEnergyModel.freeEnergyLiquid(t: t, alpha: alpha) + 0.5,
                        CollapseTheory.excessEntropy(t: t, alpha: alpha), 1e-14, "ψ₊ + ½ = f at t = \(t)")
        }
        assertClose(try RandomEnergyModel.freeEnergy(t: 2, alpha: alpha), RandomEnergyModel.freeEnergyLiquid(t: 2, alpha: alpha), 0, "liquid branch")
    }
}
