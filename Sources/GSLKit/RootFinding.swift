import CGSL

/// One-dimensional root bracketing (`gsl_root_fsolver_brent`).
public enum RootFinding {
    /// The root of `f` in `interval` by Brent's method.
    ///
    /// `f` must change sign on the interval (an endpoint where `f` is exactly 0 is returned).
    /// Stops when the bracket satisfies `gsl_root_test_interval(absoluteTolerance, relativeTolerance)`.
    /// Errors thrown by `f` are rethrown unchanged; a non-finite value of `f`, a missing sign change
    /// or `maxIterations` exceeded throw `GSLError`.
    public static func brent(in interval: ClosedRange<Double>,
                             absoluteTolerance: Double = 1e-13,
                             relativeTolerance: Double = 1e-13,
                             maxIterations: Int = 200,
                             _ f: (Double) throws -> Double) throws -> Double {
        GSL.prepare()
        let lo = interval.lowerBound, hi = interval.upperBound
        guard lo.isFinite, hi.isFinite else { throw GSL.failure("brent", "bracket [\(lo), \(hi)] is not finite") }
        let flo = try f(lo), fhi = try f(hi)
        guard flo.isFinite, fhi.isFinite else {
            throw GSL.failure("brent", "f is not finite at the bracket ends: f(\(lo)) = \(flo), f(\(hi)) = \(fhi)")
        }
        if flo == 0 { return lo }
        if fhi == 0 { return hi }
        guard (flo < 0) != (fhi < 0) else {
            throw GSLError(status: Int32(GSL_EINVAL), function: "brent",
                           reason: "no sign change on [\(lo), \(hi)]: f(lo) = \(flo), f(hi) = \(fhi)")
        }
        return try withoutActuallyEscaping(f) { escapable in
            let box = ClosureBox(escapable)
            let unmanaged = Unmanaged.passRetained(box)
            defer { unmanaged.release() }
            var function = gsl_function(function: { x, params in
                let box = Unmanaged<ClosureBox>.fromOpaque(params!).takeUnretainedValue()
                return box.call(x)
            }, params: unmanaged.toOpaque())

            guard let solver = gsl_root_fsolver_alloc(cgsl_root_brent()) else {
                throw GSL.failure("gsl_root_fsolver_alloc", "out of memory")
            }
            defer { gsl_root_fsolver_free(solver) }
            try box.rethrow(status: gsl_root_fsolver_set(solver, &function, lo, hi), "gsl_root_fsolver_set")
            for _ in 0..<maxIterations {
                try box.rethrow(status: gsl_root_fsolver_iterate(solver), "gsl_root_fsolver_iterate")
                let a = gsl_root_fsolver_x_lower(solver), b = gsl_root_fsolver_x_upper(solver)
                let status = gsl_root_test_interval(a, b, absoluteTolerance, relativeTolerance)
                if status == GSL_SUCCESS { return gsl_root_fsolver_root(solver) }
                if status != GSL_CONTINUE { try GSL.check(status, "gsl_root_test_interval") }
            }
            throw GSLError(status: Int32(GSL_EMAXITER), function: "brent",
                           reason: "no convergence in \(maxIterations) iterations on [\(lo), \(hi)]")
        }
    }
}

/// Carries a Swift closure through GSL's `void *params`; a thrown error is parked here (errors
/// cannot cross C) and the trampoline returns NaN, which makes GSL stop with `GSL_EBADFUNC`.
final class ClosureBox {
    let body: (Double) throws -> Double
    var error: (any Error)?
    var nonFiniteAt: Double?

    init(_ body: @escaping (Double) throws -> Double) { self.body = body }

    func call(_ x: Double) -> Double {
        if error != nil { return .nan }
        do {
            let y = try body(x)
            if !y.isFinite && nonFiniteAt == nil { nonFiniteAt = x }
            return y
        } catch {
            self.error = error
            return .nan
        }
    }

    /// Rethrows a parked Swift error first, then a GSL status.
    func rethrow(status: Int32, _ fn: String) throws {
        if let error { throw error }
        if status != GSL_SUCCESS, let x = nonFiniteAt {
            throw GSLError(status: status, function: fn, reason: "f is not finite at x = \(x)")
        }
        try GSL.check(status, fn)
    }
}
