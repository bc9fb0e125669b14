import Foundation
import GSLKit

/// The exact posterior over n training points under any `Kernel`: the engine behind the
/// empirical diffusion score and the empirical PFGM++ field.
///
/// For particles y_i (rows of a batch, given as x_i with y_i = s·x_i) and noise level σ²:
///
///     d²_iμ = s²|x_i|² − 2 s x_i·a_μ + |a_μ|²        (one GEMM for all x_i·a_μ)
///     ln k_iμ = kernel(d²_iμ, σ²),  w_iμ = exp(ln k_iμ − max) / Σ_ν exp(ln k_iν − max)   (log-sum-exp)
///     m̂_i = Σ_μ w_iμ a_μ                                 (a second GEMM)
///
/// Small-σ guard (THEORY §1.1): the GEMM form cancels when y ≈ a_μ; its absolute error in d² is
/// bounded by c·ε·(s²|x|² + 2s|x|·max|a| + max|a|²). When that bound, times the kernel's slope,
/// exceeds `cancellationTolerance` in ln k, every candidate within `logWeightWindow` (+ twice the
/// bound) of the largest log weight is recomputed with explicit differences. Far candidates
/// carry weight < e^{−window} and cannot matter.
public final class EmpiricalPosterior: Sendable {
    /// Training points a_μ, n × d.
    public let points: Matrix<Double>
    /// Class index (0..<classCount) of each point, or nil.
    public let classIndex: [Int]?
    /// Distinct labels in class-index order.
    public let classLabels: [Int]
    public let kernel: Kernel
    /// |a_μ|².
    public let squaredNorms: [Double]
    private let maxNorm: Double
    /// Log-weight error above which near candidates are recomputed exactly.
    public let cancellationTolerance: Double
    /// Log-weight window below the maximum within which candidates are recomputed.
    public let logWeightWindow: Double

    public var n: Int { points.rows }
    public var d: Int { points.columns }

    public init(points: Matrix<Double>, labels: [Int]? = nil, kernel: Kernel = .gaussian,
                cancellationTolerance: Double = 1e-10, logWeightWindow: Double = 60) throws {
        guard points.rows >= 1, points.columns >= 1 else {
            throw ModelError("the empirical score needs n ≥ 1 points of dimension d ≥ 1 (got \(points.rows) × \(points.columns))")
        }
        guard points.storage.allSatisfy({ $0.isFinite }) else { throw ModelError("training points contain NaN or infinity") }
        if let labels, labels.count != points.rows {
            throw ModelError("\(labels.count) labels for \(points.rows) points")
        }
        if case .studentT(let nu) = kernel, !(nu > 0 && nu.isFinite) {
            throw ModelError("the Student-t kernel needs a finite D > 0 (use the Gaussian kernel for D = inf), got \(nu)")
        }
        self.points = points
        self.kernel = kernel
        self.cancellationTolerance = cancellationTolerance
        self.logWeightWindow = logWeightWindow
        squaredNorms = points.rowSquaredNorms()
        maxNorm = squaredNorms.max().map { $0.squareRoot() } ?? 0
        if let labels {
            let distinct = Array(Set(labels)).sorted()
            let index = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, $0) })
            classLabels = distinct
            classIndex = labels.map { index[$0]! }
        } else {
            classLabels = []
            classIndex = nil
        }
    }

    public var classCount: Int { classLabels.count }

    /// Evaluates rows 0..<rows of `x` at y = scale·x and noise level `sigma2` (VE variables).
    /// Fills weights, log-sum-exp, Y2, w_max and argmax; the mean and class probabilities if asked.
    public func evaluate(_ x: Matrix<Double>, rows: Int, scale s: Double, sigma2: Double,
                         workspace ws: PosteriorWorkspace, outputs: PosteriorOutputs) {
        precondition(x.columns == d && rows <= ws.capacity && rows <= x.rows,
                     "EmpiricalPosterior: batch \(rows) of \(x.rows)×\(x.columns), workspace \(ws.capacity), d = \(d)")
        precondition(ws.components == n, "EmpiricalPosterior: workspace built for another model")
        if rows == 0 { return }
        BLAS.multiplyTransposed(x, points, into: &ws.weights, aRows: rows)
        let n = self.n, d = self.d
        let slope = kernel.logWeightSlope(sigma2: sigma2, dimension: d)
        let gemmErrorFactor = (4 + Double(d).squareRoot()) * Double.ulpOfOne
        let kernel = self.kernel
        x.storage.withUnsafeBufferPointer { xs in
            points.storage.withUnsafeBufferPointer { aStore in
                squaredNorms.withUnsafeBufferPointer { an2 in
                    ws.weights.storage.withUnsafeMutableBufferPointer { wAll in
                        for i in 0..<rows {
                            let xi = UnsafeBufferPointer(rebasing: xs[(i * d)..<((i + 1) * d)])
                            var xn2 = 0.0
                            for v in xi { xn2 += v * v }
                            let sx2 = s * s * xn2
                            let w = UnsafeMutableBufferPointer(rebasing: wAll[(i * n)..<((i + 1) * n)])
                            var lmax = -Double.infinity
                            for mu in 0..<n {
                                let d2 = max(0, sx2 - 2 * s * w[mu] + an2[mu])
                                let l = kernel.logWeight(squaredDistance: d2, sigma2: sigma2, dimension: d)
                                w[mu] = l
                                if l > lmax { lmax = l }
                            }
                            // Cancellation guard: recompute near candidates with explicit differences.
                            let d2Error = gemmErrorFactor * (sx2 + 2 * s * xn2.squareRoot() * maxNorm + maxNorm * maxNorm)
                            let logError = slope * d2Error
                            if logError > cancellationTolerance {
                                let cut = lmax - (logWeightWindow + 2 * logError)
                                for mu in 0..<n where w[mu] > cut {
                                    var d2 = 0.0
                                    let base = mu * d
                                    for j in 0..<d {
                                        let diff = s * xi[j] - aStore[base + j]
                                        d2 += diff * diff
                                    }
                                    w[mu] = kernel.logWeight(squaredDistance: d2, sigma2: sigma2, dimension: d)
                                }
                                lmax = -Double.infinity
                                for mu in 0..<n where w[mu] > lmax { lmax = w[mu] }
                            }
                            var sum = 0.0
                            for mu in 0..<n {
                                let e = Foundation.exp(w[mu] - lmax)
                                w[mu] = e
                                sum += e
                            }
                            let inv = 1 / sum
                            var y2 = 0.0, wmax = 0.0, best = 0
                            for mu in 0..<n {
                                let v = w[mu] * inv
                                w[mu] = v
                                y2 += v * v
                                if v > wmax { wmax = v; best = mu }
                            }
                            ws.logSumExp[i] = lmax + Foundation.log(sum)
                            ws.participationRatio[i] = y2
                            ws.maxWeight[i] = wmax
                            ws.argmax[i] = best
                        }
                    }
                }
            }
        }
        if outputs.contains(.mean) {
            BLAS.multiply(ws.weights, points, into: &ws.mean, aRows: rows)
        }
        if outputs.contains(.classProbabilities), let classIndex, ws.classes == classCount {
            let c = classCount
            for i in 0..<rows {
                for k in 0..<c { ws.classProbabilities[i, k] = 0 }
                let base = i * n
                for mu in 0..<n { ws.classProbabilities.storage[i * c + classIndex[mu]] += ws.weights.storage[base + mu] }
            }
        }
    }
}
