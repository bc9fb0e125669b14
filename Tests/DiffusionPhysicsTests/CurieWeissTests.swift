import Foundation
import GSLKit
import XCTest
@testable import DiffusionPhysics

/// Curie–Weiss data (Docs/Theory.md §2.4): the exact sampler, the exact Λ, the asymptotic forms
/// beside it, and the dataset spec.
final class CurieWeissTests: XCTestCase {
    /// χ² statistic of observed counts against expected counts, cells with expectation < 5 pooled
    /// in order; returns (statistic, degrees of freedom).
    func chiSquared(observed: [Int], expected: [Double]) -> (Double, Int) {
        var cells: [(o: Double, e: Double)] = []
        var o = 0.0, e = 0.0
        for (oi, ei) in zip(observed, expected) {
            o += Double(oi); e += ei
            if e >= 5 { cells.append((o, e)); o = 0; e = 0 }
        }
        if e > 0 || o > 0 {
            if cells.isEmpty { cells.append((o, e)) } else { cells[cells.count - 1].o += o; cells[cells.count - 1].e += e }
        }
        return (cells.reduce(0) { $0 + ($1.o - $1.e) * ($1.o - $1.e) / $1.e }, cells.count - 1)
    }

    /// The whole sampler at N = 4: the frequency of each of the 16 configurations against
    /// P(s) ∝ exp(β M²/(2N)) (χ² test, fixed seed; fails at p < 10⁻³).
    func testConfigurationsFollowTheExactLaw() throws {
        let N = 4, beta = 1.3, n = 20_000
        let data = try CurieWeissModel(spins: N, beta: beta).sample(n: n, seed: 11)
        var counts = [Int](repeating: 0, count: 1 << N)
        for i in 0..<n {
            var code = 0
            for j in 0..<N where data.points[i, j] > 0 { code |= 1 << j }
            counts[code] += 1
        }
        let weights = (0..<(1 << N)).map { code -> Double in
            let m = Double(2 * code.nonzeroBitCount - N)
            return exp(beta * m * m / (2 * Double(N)))
        }
        let z = weights.reduce(0, +)
        let (chi2, dof) = chiSquared(observed: counts, expected: weights.map { Double(n) * $0 / z })
        XCTAssertEqual(dof, 15)
        let p = 1 - (try Special.chiSquaredCDF(chi2, degreesOfFreedom: Double(dof)))
        XCTAssertGreaterThan(p, 1e-3, "χ² = \(chi2) on \(dof) dof")
    }

    /// The magnetisation of the samples at N = 40, β = 1.2 (bimodal) against the exact table, built
    /// here independently from lgamma (χ² test, fixed seed); and the labels are sign M (ties: s₁).
    func testMagnetisationFollowsTheExactLaw() throws {
        let N = 40, beta = 1.2, n = 20_000
        let data = try CurieWeissModel(spins: N, beta: beta).sample(n: n, seed: 5)
        var counts = [Int](repeating: 0, count: N + 1)
        for i in 0..<n {
            let row = data.points.row(i)
            XCTAssertTrue(row.allSatisfy { $0 == 1 || $0 == -1 })
            let m = Int(row.reduce(0, +))
            counts[(m + N) / 2] += 1
            XCTAssertEqual(data.labels![i], m > 0 || (m == 0 && row[0] > 0) ? 1 : 0)
        }
        let logs = (0...N).map { k -> Double in
            let m = Double(2 * k - N)
            return lgamma(Double(N + 1)) - lgamma(Double(k + 1)) - lgamma(Double(N - k + 1)) + beta * m * m / (2 * Double(N))
        }
        let top = logs.max()!, w = logs.map { exp($0 - top) }, z = w.reduce(0, +)
        let (chi2, dof) = chiSquared(observed: counts, expected: w.map { Double(n) * $0 / z })
        XCTAssertGreaterThan(dof, 15)
        let p = 1 - (try Special.chiSquaredCDF(chi2, degreesOfFreedom: Double(dof)))
        XCTAssertGreaterThan(p, 1e-3, "χ² = \(chi2) on \(dof) dof")
        XCTAssertEqual(data.classNames ?? [], ["minus", "plus"])
        // Ties are rare but present at N = 40; the classes are balanced within 4 SE.
        let plus = Double(data.labels!.reduce(0, +)) / Double(n)
        XCTAssertEqual(plus, 0.5, accuracy: 4 * (0.25 / Double(n)).squareRoot())
    }

    /// Λ = E[M²]/N is the top eigenvalue of the covariance computed by brute force over all 2^N
    /// configurations (N = 6), and 1 − c the rest; β = 0 gives Λ = 1 exactly.
    func testTopEigenvalueAgainstEnumeration() throws {
        let N = 6
        for beta in [0.0, 0.7, 1.4] {
            let model = try CurieWeissModel(spins: N, beta: beta)
            var cov = Matrix<Double>(rows: N, columns: N)
            var z = 0.0
            for code in 0..<(1 << N) {
                let s = (0..<N).map { (code >> $0) & 1 == 1 ? 1.0 : -1.0 }
                let m = s.reduce(0, +), w = exp(beta * m * m / (2 * Double(N)))
                z += w
                for i in 0..<N { for j in 0..<N { cov[i, j] += w * s[i] * s[j] } }
            }
            for k in 0..<(N * N) { cov.storage[k] /= z }
            let values = try SymmetricEigen.eigensystem(of: cov).values.sorted(by: >)
            XCTAssertEqual(model.covarianceTopEigenvalue, values[0], accuracy: 1e-12, "β = \(beta)")
            for v in values.dropFirst() { XCTAssertEqual(model.covarianceBulkEigenvalue, v, accuracy: 1e-12, "β = \(beta)") }
        }
        for n in [1, 7, 50, 1000] {
            XCTAssertEqual(try CurieWeissModel(spins: n, beta: 0).covarianceTopEigenvalue, 1, accuracy: 1e-12)
        }
    }

    /// m_β and the mean-field Λ at the test values of Docs/Theory.md §2.4.
    func testMeanFieldValues() throws {
        XCTAssertEqual(CurieWeissModel.meanFieldMagnetisation(beta: 1.2), 0.658570, accuracy: 1e-6)
        XCTAssertEqual(CurieWeissModel.meanFieldMagnetisation(beta: 1.5), 0.858560, accuracy: 1e-6)
        XCTAssertEqual(CurieWeissModel.meanFieldMagnetisation(beta: 2.0), 0.957504, accuracy: 1e-6)
        XCTAssertEqual(CurieWeissModel.meanFieldMagnetisation(beta: 1.0), 0)
        XCTAssertEqual(CurieWeissModel.meanFieldMagnetisation(beta: 0.5), 0)
        XCTAssertEqual(try CurieWeissModel(spins: 1000, beta: 1.5).meanFieldTopEigenvalue, 737.388, accuracy: 1e-3)
        XCTAssertEqual(try CurieWeissModel(spins: 1000, beta: 1.2).meanFieldTopEigenvalue, 434.280, accuracy: 1e-3)
        // The exact values of the table in Docs/Theory.md §2.4.
        XCTAssertEqual(try CurieWeissModel(spins: 100, beta: 1.5).covarianceTopEigenvalue, 72.4520, accuracy: 1e-4)
        XCTAssertEqual(try CurieWeissModel(spins: 10000, beta: 1.2).covarianceTopEigenvalue, 4333.154, accuracy: 1e-3)
    }

    /// The exact Λ approaches the Laplace form N m² + c_β like 1/N (the error falls tenfold from
    /// N = 10³ to 10⁴), and at β = 1, Λ/√N approaches 1.17083 like N^{−1/2}.
    func testAsymptoticFormsConvergeAtTheirRates() throws {
        for beta in [1.5, 2.0] {
            let e3 = try CurieWeissModel(spins: 1000, beta: beta).covarianceTopEigenvalue - CurieWeissModel.largeNTopEigenvalue(spins: 1000, beta: beta)!
            let e4 = try CurieWeissModel(spins: 10000, beta: beta).covarianceTopEigenvalue - CurieWeissModel.largeNTopEigenvalue(spins: 10000, beta: beta)!
            XCTAssertEqual(e3 / e4, 10, accuracy: 1, "β = \(beta): errors \(e3), \(e4)")
            XCTAssertLessThan(abs(e4), 2e-3)
        }
        let a = CurieWeissModel.criticalAmplitude
        XCTAssertEqual(a, 1.170828656607529, accuracy: 1e-12)
        let e4 = try CurieWeissModel(spins: 10_000, beta: 1).covarianceTopEigenvalue / 100 - a
        let e5 = try CurieWeissModel(spins: 100_000, beta: 1).covarianceTopEigenvalue / 100_000.0.squareRoot() - a
        XCTAssertEqual(e4 / e5, 10.0.squareRoot(), accuracy: 0.3, "errors \(e4), \(e5)")
    }

    func testDatasetSpec() throws {
        let spec = try DatasetSpec.parse("curie-weiss:N=50,beta=1.5,n=300")
        XCTAssertEqual(spec, .curieWeiss(spins: 50, beta: 1.5, n: 300, seed: nil))
        XCTAssertEqual(spec.description, "curie-weiss:N=50,beta=1.5,n=300")
        XCTAssertEqual(try DatasetSpec.parse(spec.description), spec)
        let seeded = try DatasetSpec.parse("curie-weiss: n=30, beta=2, N=8, seed=3")
        XCTAssertEqual(seeded, .curieWeiss(spins: 8, beta: 2, n: 30, seed: 3))
        XCTAssertEqual(try DatasetSpec.parse(seeded.description), seeded)
        XCTAssertEqual(spec.knownShape?.n, 300)
        XCTAssertEqual(spec.knownShape?.d, 50)
        // The spec's own seed fixes the sample; without it the run's seed does.
        XCTAssertEqual(try seeded.load(seed: 1).points, try seeded.load(seed: 2).points)
        XCTAssertNotEqual(try spec.load(seed: 1).points, try spec.load(seed: 2).points)
        let data = try spec.load(seed: 4)
        XCTAssertEqual(data.n, 300)
        XCTAssertEqual(data.d, 50)
        XCTAssertEqual(data.name, spec.description)
        for bad in ["curie-weiss:beta=1,n=10", "curie-weiss:N=10,beta=1", "curie-weiss:N=10,n=10",
                    "curie-weiss:N=0,beta=1,n=10", "curie-weiss:N=10,beta=1,n=0", "curie-weiss:N=10,beta=-1,n=10",
                    "curie-weiss:N=10,beta=abc,n=10", "curie-weiss:N=10,beta=inf,n=10", "curie-weiss:N=10,beta=1,n=10,foo=2",
                    "curie-weiss:N=10,spins=10,beta=1,n=10", "curie-weiss:N=2.5,beta=1,n=10", "curie-weiss:N=10,beta=1,n=10,seed=-1"] {
            XCTAssertThrowsError(try DatasetSpec.parse(bad), bad) { error in
                XCTAssertTrue(error is DataError, "\(bad): \(error)")
                XCTAssertFalse("\(error)".contains("\n"), "one line: \(error)")
            }
        }
        XCTAssertThrowsError(try CurieWeissModel(spins: 10, beta: .nan))
        XCTAssertThrowsError(try CurieWeissModel(spins: 10, beta: 1).sample(n: 0, seed: 1))
    }
}
