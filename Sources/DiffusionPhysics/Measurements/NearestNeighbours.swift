import Foundation
import GSLKit

/// Nearest and second-nearest training points of generated samples, by exact Euclidean distance
/// (GEMM pre-selection, explicit differences for the reported distances). Feeds "nearest training
/// point" reports and the gap-ratio memorisation test d₁/d₂ < 1/3 (Docs/Theory.md §3.4 M4).
public struct NeighbourReport: Sendable, Codable, Equatable {
    public var nearest: Int
    public var nearestDistance: Double
    public var second: Int?
    public var secondDistance: Double?
    /// d₁/d₂ (nil when there is a single training point).
    public var gapRatio: Double? { secondDistance.map { $0 > 0 ? nearestDistance / $0 : 1 } }
}

public enum NearestNeighbours {
    public static func find(samples: Matrix<Double>, points: Matrix<Double>) -> [NeighbourReport] {
        precondition(samples.columns == points.columns, "samples and points differ in dimension")
        let n = points.rows, d = points.columns, block = 256
        let norms = points.rowSquaredNorms()
        var reports: [NeighbourReport] = []
        reports.reserveCapacity(samples.rows)
        var dots = Matrix<Double>(rows: block, columns: n)
        var start = 0
        while start < samples.rows {
            let rows = min(block, samples.rows - start)
            let chunk = samples.rows(start..<(start + rows))
            BLAS.multiplyTransposed(chunk, points, into: &dots, aRows: rows)
            for r in 0..<rows {
                // Pre-select by the GEMM form, then recompute the two best exactly.
                var best = [(Double.infinity, -1), (Double.infinity, -1), (Double.infinity, -1)]
                for mu in 0..<n {
                    let approx = norms[mu] - 2 * dots[r, mu]
                    if approx < best[2].0 {
                        best[2] = (approx, mu)
                        best.sort { $0.0 < $1.0 }
                    }
                }
                var exact = best.filter { $0.1 >= 0 }.map { (_, mu) -> (Double, Int) in
                    var s = 0.0
                    for j in 0..<d { let diff = chunk[r, j] - points[mu, j]; s += diff * diff }
                    return (s.squareRoot(), mu)
                }
                exact.sort { $0.0 < $1.0 }
                reports.append(NeighbourReport(nearest: exact[0].1, nearestDistance: exact[0].0,
                                               second: exact.count > 1 ? exact[1].1 : nil,
                                               secondDistance: exact.count > 1 ? exact[1].0 : nil))
            }
            start += rows
        }
        return reports
    }
}
