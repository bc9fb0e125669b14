import Foundation
import XCTest
@testable import GSLKit

/// The lane Gaussian streams of the batched samplers (CVectorKernels `vk_gauss_*`).
final class LaneGaussianTests: XCTestCase {
    /// The dispatched kernel (AVX-512 / AVX2 here) draws exactly the baseline's numbers, slow paths
    /// included (4·10⁵ draws: ≈ 2400 wedge or tail rejections), and a fill split in two pieces of
    /// multiples of 8 continues the same sequence.
    func testLevelsDrawIdenticalNumbers() {
        var a = LaneGaussianStreams(rows: 1), b = LaneGaussianStreams(rows: 1)
        a.seed(row: 0, key: 0xC0FFEE)
        b.seed(row: 0, key: 0xC0FFEE)
        let n = 400_000
        let fast = a.gaussians(row: 0, count: n)
        let base = b.gaussians(row: 0, count: n, baseline: true)
        XCTAssertEqual(fast, base)
        var c = LaneGaussianStreams(rows: 1)
        c.seed(row: 0, key: 0xC0FFEE)
        XCTAssertEqual(c.gaussians(row: 0, count: 8000) + c.gaussians(row: 0, count: n - 8000), fast)
    }

    /// N(0, 1) statistics of 10⁶ draws: mean, variance and fourth moment within 4 SE; the tail
    /// beyond the ziggurat's base R = 3.6542 and beyond 1 at their binomial rates (4 SE); a χ² test
    /// on 50 equiprobable bins (p > 10⁻⁴ ⇔ χ² < 96 for 49 d.o.f.).
    func testGaussianMoments() {
        var s = LaneGaussianStreams(rows: 1)
        s.seed(row: 0, key: 7)
        let n = 1_000_000
        let z = s.gaussians(row: 0, count: n + 5)     // a tail of 5: the scalar lanes
        var m1 = 0.0, m2 = 0.0, m4 = 0.0, beyondR = 0, beyond1 = 0
        var bins = [Int](repeating: 0, count: 50)
        for v in z {
            m1 += v; m2 += v * v; m4 += v * v * v * v
            if abs(v) > 3.6541528853610088 { beyondR += 1 }
            if abs(v) > 1 { beyond1 += 1 }
            let u = 0.5 * erfc(-v / 2.0.squareRoot())
            bins[min(49, Int(u * 50))] += 1
        }
        let N = Double(z.count)
        XCTAssertEqual(m1 / N, 0, accuracy: 4 / N.squareRoot())
        XCTAssertEqual(m2 / N, 1, accuracy: 4 * 2.0.squareRoot() / N.squareRoot())
        XCTAssertEqual(m4 / N, 3, accuracy: 4 * 96.0.squareRoot() / N.squareRoot())
        for (count, x) in [(beyondR, 3.6541528853610088), (beyond1, 1.0)] {
            let p = erfc(x / 2.0.squareRoot())
            XCTAssertEqual(Double(count) / N, p, accuracy: 4 * (p * (1 - p) / N).squareRoot(), "P(|z| > \(x))")
        }
        let expected = N / 50
        let chi2 = bins.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
        XCTAssertLessThan(chi2, 96, "χ² over 50 bins")
    }

    /// The fused step: with c = 0 it is x ← a x + b m exactly up to rounding, with the projection;
    /// with a = b = 0, c = 1 it writes the stream's own draws; rows use their own streams.
    func testAffineStep() {
        let d = 21, rows = 3
        var streams = LaneGaussianStreams(rows: rows)
        for r in 0..<rows { streams.seed(row: r, key: UInt64(100 + r)) }
        var x = Matrix<Double>(rows: rows, columns: d, storage: (0..<(rows * d)).map { sin(Double($0)) })
        let m = (0..<d).map { cos(Double($0)) }, u = (0..<d).map { 1 / Double($0 + 1) }
        var proj = [Double](repeating: 0, count: rows)
        let x0 = x
        streams.affineStep(&x, count: rows, a: 0.7, direction: m, shifts: [0.1, -0.2, 0.3], noise: 0, projectionOn: u, projections: &proj)
        for r in 0..<rows {
            var dot = 0.0
            for j in 0..<d {
                let want = 0.7 * x0[r, j] + [0.1, -0.2, 0.3][r] * m[j]
                XCTAssertEqual(x[r, j], want, accuracy: 1e-15)
                dot += u[j] * want
            }
            XCTAssertEqual(proj[r], dot, accuracy: 1e-13)
        }
        var reference = LaneGaussianStreams(rows: rows)
        for r in 0..<rows { reference.seed(row: r, key: UInt64(100 + r)) }
        streams.affineStep(&x, count: rows, a: 0, direction: m, shifts: [0, 0, 0], noise: 1, projectionOn: u, projections: &proj)
        for r in 0..<rows {
            // The c = 0 step drew (and discarded) one batch of noise from each row's stream.
            _ = reference.gaussians(row: r, count: d)
            XCTAssertEqual(x.row(r), reference.gaussians(row: r, count: d), "row \(r)")
        }
    }
}
