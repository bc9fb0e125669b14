import Foundation
import XCTest
@testable import GSLKit

final class NumericsTests: XCTestCase {
    // MARK: SymmetricEigen

    func testEigenvaluesOfTridiagonal() throws {
        // Eigenvalues of tridiag(1, 2, 1) (3×3): 2 + √2, 2, 2 − √2.
        let a = Matrix<Double>(rowArrays: [[2, 1, 0], [1, 2, 1], [0, 1, 2]])
        let values = try SymmetricEigen.eigenvalues(of: a)
        let expected = [2 + 2.0.squareRoot(), 2, 2 - 2.0.squareRoot()]
        for (v, e) in zip(values, expected) { XCTAssertEqual(v, e, accuracy: 1e-13) }
    }

    func testEigensystemReconstructs() throws {
        let a = Matrix<Double>(rowArrays: [[4, 1, -2], [1, 3, 0.5], [-2, 0.5, 5]])
        let (values, vectors) = try SymmetricEigen.eigensystem(of: a)
        XCTAssertEqual(values, values.sorted(by: >))
        for j in 0..<3 {                                         // A v_j = λ_j v_j, |v_j| = 1
            var norm = 0.0
            for i in 0..<3 {
                let av = (0..<3).reduce(0.0) { $0 + a[i, $1] * vectors[$1, j] }
                XCTAssertEqual(av, values[j] * vectors[i, j], accuracy: 1e-12)
                norm += vectors[i, j] * vectors[i, j]
            }
            XCTAssertEqual(norm, 1, accuracy: 1e-12)
        }
        XCTAssertEqual(values.reduce(0, +), 12, accuracy: 1e-12)   // trace
    }

    func testEigenRejectsBadInput() {
        XCTAssertThrowsError(try SymmetricEigen.eigenvalues(of: Matrix(rows: 2, columns: 3)))
        XCTAssertThrowsError(try SymmetricEigen.eigenvalues(of: Matrix(rowArrays: [[1, .nan], [.nan, 1]])))
    }

    // MARK: RootFinding

    func testBrentDottieNumber() throws {
        let root = try RootFinding.brent(in: 0...1) { cos($0) - $0 }
        XCTAssertEqual(root, 0.7390851332151607, accuracy: 1e-14)
    }

    func testBrentWithoutSignChangeThrows() {
        XCTAssertThrowsError(try RootFinding.brent(in: 0...1) { $0 * $0 + 1 }) { error in
            XCTAssertTrue("\(error)".contains("no sign change"), "\(error)")
        }
    }

    func testBrentRethrowsClosureError() {
        struct Boom: Error {}
        XCTAssertThrowsError(try RootFinding.brent(in: -1...2) { x in
            if abs(x) < 0.9 { throw Boom() }
            return x
        }) { error in XCTAssertTrue(error is Boom, "\(error)") }
    }

    // MARK: Quadrature

    func testQagsPolynomial() throws {
        XCTAssertEqual(try Quadrature.qags({ $0 * $0 }, from: 0, to: 1), 1.0 / 3, accuracy: 1e-14)
    }

    func testQagiGaussian() throws {
        XCTAssertEqual(try Quadrature.qagi { exp(-$0 * $0 / 2) }, (2 * Double.pi).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(try Quadrature.qagiu({ exp(-$0) }, from: 1), exp(-1), accuracy: 1e-13)
    }

    func testQuadratureNonFiniteIntegrandThrows() {
        XCTAssertThrowsError(try Quadrature.qags({ _ in .nan }, from: 0, to: 1))
    }

    func testGaussHermiteMoments() throws {
        let gh = try GaussHermite(nodes: 100)
        XCTAssertEqual(gh.weights.reduce(0, +), Double.pi.squareRoot(), accuracy: 1e-13)
        XCTAssertEqual(gh.standardNormalExpectation { _ in 1 }, 1, accuracy: 1e-13)
        XCTAssertEqual(gh.standardNormalExpectation { $0 * $0 }, 1, accuracy: 1e-13)
        XCTAssertEqual(gh.standardNormalExpectation { pow($0, 4) }, 3, accuracy: 1e-12)
        XCTAssertEqual(gh.standardNormalExpectation { cos($0) }, exp(-0.5), accuracy: 1e-13)
        XCTAssertThrowsError(try GaussHermite(nodes: 0))
    }

    // MARK: Special functions

    func testLnCosh() throws {
        XCTAssertEqual(Special.lnCosh(1000), 1000 - log(2.0), accuracy: 1e-12)
        XCTAssertEqual(Special.lnCosh(-1000), 1000 - log(2.0), accuracy: 1e-12)
        XCTAssertEqual(Special.lnCosh(0.3), log(cosh(0.3)), accuracy: 1e-15)
        XCTAssertEqual(Special.lnCosh(0), 0)
    }

    func testLog1pExpm1() {
        XCTAssertEqual(Special.log1p(1e-10), 1e-10 - 0.5e-20, accuracy: 1e-25)
        // 1 − e^{−x} = x − x²/2 + x³/6 − …, x = 2e−6.
        XCTAssertEqual(-Special.expm1(-2e-6), 2e-6 - 2e-12 + 8e-18 / 6, accuracy: 1e-21)
    }

    func testBetaIncompleteClosedForm() throws {
        // I_x(1, 1/2) = 1 − (1 − x)^{1/2}; at x = t/(1+t) this is 1 − (1+t)^{−1/2}.
        for t in [0.01, 0.5, 1, 3, 100] {
            let value = try Special.betaIncomplete(a: 1, b: 0.5, x: t / (1 + t))
            XCTAssertEqual(value, 1 - pow(1 + t, -0.5), accuracy: 1e-13)
        }
        XCTAssertThrowsError(try Special.betaIncomplete(a: 1, b: 0.5, x: 1.5))
    }

    func testLnGammaAndBessel() throws {
        XCTAssertEqual(try Special.lnGamma(10), log(362880.0), accuracy: 1e-12)
        // K_{1/2}(x) = √(π/(2x)) e^{−x}.
        XCTAssertEqual(try Special.lnBesselK(nu: 0.5, x: 1), 0.5 * log(Double.pi / 2) - 1, accuracy: 1e-13)
        XCTAssertEqual(try Special.lnBesselK(nu: 0.5, x: 800), 0.5 * log(Double.pi / 1600) - 800, accuracy: 1e-10)
    }

    func testSpecialFunctionErrorPaths() {
        XCTAssertThrowsError(try Special.lnBesselK(nu: 1, x: 0)) { error in
            XCTAssertEqual((error as? GSLError)?.function, "gsl_sf_bessel_lnKnu_e")
        }
        XCTAssertThrowsError(try Special.lnBesselK(nu: 1, x: -2))
        XCTAssertThrowsError(try Special.lnGamma(-2))
    }

    func testChiSquaredCDF() throws {
        // χ²₂ has CDF 1 − e^{−x/2}.
        XCTAssertEqual(try Special.chiSquaredCDF(3, degreesOfFreedom: 2), 1 - exp(-1.5), accuracy: 1e-14)
    }
}

final class RandomStreamTests: XCTestCase {
    /// Same seed and index in different domains, or different indices, give different sequences;
    /// the same triple repeats exactly.
    func testStreamsAreSeparated() {
        func draws(_ s: RandomStream) -> [Double] { (0..<8).map { _ in s.gaussian() } }
        let a = draws(RandomStream(seed: 1, stream: 5, domain: .data))
        XCTAssertEqual(a, draws(RandomStream(seed: 1, stream: 5, domain: .data)))
        XCTAssertNotEqual(a, draws(RandomStream(seed: 1, stream: 5, domain: .forward)))
        XCTAssertNotEqual(a, draws(RandomStream(seed: 1, stream: 6, domain: .data)))
        XCTAssertNotEqual(a, draws(RandomStream(seed: 2, stream: 5, domain: .data)))
    }

    /// Moments of the Gaussian draws: mean 0 ± 4 SE, variance 1 ± 4 SE over 10⁵ draws.
    func testGaussianMoments() {
        let s = RandomStream(seed: 3, stream: 0)
        let n = 100_000
        let x = (0..<n).map { _ in s.gaussian() }
        let mean = x.reduce(0, +) / Double(n)
        let variance = x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n - 1)
        XCTAssertEqual(mean, 0, accuracy: 4 / Double(n).squareRoot())
        XCTAssertEqual(variance, 1, accuracy: 4 * (2 / Double(n)).squareRoot())
    }
}
