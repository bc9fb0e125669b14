import Foundation
import GSLKit

extension EmpiricalPosterior {
    /// Never a silent NaN (issue 13): after `evaluate` of rows 0..<rows, throws a `ModelError`
    /// naming the cause if a log-sum-exp is not finite — a point so large that |x|² overflows
    /// (|x| ≳ 1e154), or a noise level so small that every log weight −d²/(2σ²) overflows to −∞
    /// (σ² below ≈ 1e-300 relative to the squared distances). `level` names the level ("t = …",
    /// "σ = …") and `parameter` the input for the front end's flag.
    public func checkFinite(_ x: Matrix<Double>, rows: Int, workspace ws: PosteriorWorkspace, level: String,
                            parameter: String) throws {
        for i in 0..<rows where !ws.logSumExp[i].isFinite {
            let norm2 = x.rowSlice(i).reduce(0) { $0 + $1 * $1 }
            if !norm2.isFinite {
                throw ModelError("x is too large for double precision (|x|² overflows; keep |x| below 1e150)", parameter: "point")
            }
            throw ModelError("at \(level) every posterior weight underflows (−d²/(2σ²) overflows): the noise level is too small "
                             + "for the distances of x to the data", parameter: parameter)
        }
    }
}
