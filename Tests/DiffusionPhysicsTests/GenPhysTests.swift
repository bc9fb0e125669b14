import Foundation
import GSLKit
import XCTest
@testable import DiffusionPhysics

/// Yukawa generative model and the dispersion criterion (Docs/PoissonFlow.md §6, §7.4).
final class GenPhysTests: XCTestCase {
    let y2 = PoissonFlowTests.y2
    let x = [0.3, -0.2]

    func testGreenFunction() throws {
        assertWithin(exp(try YukawaFlowModel.logGreen(0.8, mass: 1.5, N: 2)), 0.029960342285, 1e-12, "G(0.8)")
        assertWithin(exp(try YukawaFlowModel.logGreen(0.8, mass: 1.5, N: 2)), exp(-1.2) / (3.2 * Double.pi), 1e-15)
    }

    func testWeightsAndMasslessLimit() throws {
        let heavy = try YukawaFlowModel(points: y2, mass: 1.5).evaluate(at: x, z: 0.5)
        let w: [Double] = [0.14871797, 0.02484362, 0.07666782, 0.09617093, 0.65359966]
        for i in 0..<5 { assertWithin(heavy.weights[i], w[i], 1e-8, "m=1.5 w\(i)") }
        assertWithin(heavy.velocity[0], 0.25800326, 1e-8); assertWithin(heavy.velocity[1], -0.15571298, 1e-8)
        // m → 0: PFGM (D = 1) at r = z.
        let light = try YukawaFlowModel(points: y2, mass: 1e-6).evaluate(at: x, z: 0.5)
        let pfgm = try PoissonFlowModel(points: y2, D: 1).evaluate(at: x, sigma: 0.5)
        for i in 0..<5 { assertWithin(light.weights[i], pfgm.weights[i], 1e-9, "m→0 w\(i)") }
        for j in 0..<2 { assertWithin(light.velocity[j], pfgm.velocity[j], 1e-9, "m→0 v\(j)") }
        XCTAssertThrowsError(try YukawaFlowModel(points: y2, mass: 0))
    }

    func testDensityNormalisedAndContinuity() throws {
        let model = try YukawaFlowModel(points: y2, mass: 1.5)
        let z = 0.7
        let total = try Quadrature.qagi({ a in
            (try? Quadrature.qagi({ b in (try? model.evaluate(at: [a, b], z: z).density) ?? .nan }, relativeTolerance: 1e-9)) ?? .nan
        }, relativeTolerance: 1e-8)
        assertWithin(total, 1, 1e-7, "∫ q_z dx")
        // Per-kernel radial law integrates to 1 as well.
        assertWithin(try Quadrature.qagiu({ (try? model.radialDensity($0, z: z)) ?? .nan }, from: 0), 1, 1e-8, "radial")
        let e = try model.evaluate(at: x, z: z)
        assertWithin(e.growthRate, 0.34363226, 1e-8, "g")
        let (lhs, gq) = try model.continuityResidual(at: x, z: z)
        assertWithin(gq, 0.06314408, 1e-8, "g q")
        assertWithin(lhs, gq, 1e-9, "∂_z q + div(q v) = g q")
        // The conservative equation fails: the birth/death term is real.
        XCTAssertGreaterThan(abs(lhs), 0.05)
    }

    /// Weighted particles from the exact prior end on each training point with weighted frequency 1/n.
    func testWeightedParticlesEndUniformly() throws {
        let model = try YukawaFlowModel(points: y2, mass: 1.5)
        let m = 200
        let prior = try model.samplePrior(z: 3, count: m, seed: 4)
        var logW: [Double] = [], comp: [Int] = []
        for i in 0..<m {
            let r = try model.transport(prior.row(i), zMax: 3, zMin: 1e-4, relativeTolerance: 1e-8)
            logW.append(r.logWeight); comp.append(r.component)
        }
        let lmax = logW.max()!
        let w = logW.map { exp($0 - lmax) }
        let total = w.reduce(0, +)
        let ess = total * total / w.map { $0 * $0 }.reduce(0, +)
        XCTAssertGreaterThan(ess, 20)
        for k in 0..<5 {
            let f = zip(w, comp).filter { $0.1 == k }.map(\.0).reduce(0, +) / total
            let se = (zip(w, comp).map { pow($0.0 / total, 2) * pow(($0.1 == k ? 1 : 0) - f, 2) }.reduce(0, +)).squareRoot()
            assertWithinSE(f, 0.2, se: max(se, 0.2 * 0.8 / ess.squareRoot() * 0.5), k: 4, "weighted frequency of y\(k) (ESS \(ess))")
        }
    }

    /// The dispersion table of Docs/PoissonFlow.md §6.
    func testDispersionTable() {
        let expected: [(LinearPDE, Bool)] = [(.heat, true), (.poisson, true), (.yukawa(mass: 1.5), true), (.wave(speed: 2), false),
                                             (.schrodinger, false), (.dampedWave(damping: 1, speed: 1), true)]
        for (pde, gen) in expected { XCTAssertEqual(Dispersion.classify(pde).generative, gen, pde.name) }
        // Branch values: Yukawa Im ω(k) = −√(k² + m²); damped wave slow branch ≈ −c²k²/γ.
        assertWithin(Dispersion.imaginaryParts(.yukawa(mass: 1.5), k: 2)[0], -2.5, 1e-12)
        assertWithin(Dispersion.imaginaryParts(.dampedWave(damping: 10, speed: 1), k: 0.01)[1], -1e-5, 1e-9)
        assertWithin(Dispersion.imaginaryParts(.heat, k: 3)[0], -9, 1e-12)
        // An anti-diffusion equation ∂_t φ = −∇²φ grows at k ≠ 0: not generative.
        XCTAssertFalse(Dispersion.classify(LinearPDE(name: "anti-heat", terms: [.init(1, dt: 1, laplacian: 0), .init(1, dt: 0, laplacian: 1)])).generative)
        // A cubic (three branches) through the general root finder: (λ + 1)(λ + k²)(λ − 2) — heat-like branch passes.
        let cubic = LinearPDE(name: "cubic", terms: [.init(1, dt: 3, laplacian: 0), .init(-1, dt: 2, laplacian: 0), .init(-2, dt: 1, laplacian: 0),
                                                     .init(-1, dt: 2, laplacian: 1), .init(1, dt: 1, laplacian: 1), .init(2, dt: 0, laplacian: 1)])
        XCTAssertTrue(Dispersion.classify(cubic).generative)
    }
}
