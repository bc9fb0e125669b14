import CGSL

/// Adaptive quadrature (QUADPACK through GSL: `gsl_integration_qags`, `qagi`, `qagiu`).
///
/// Every routine throws `GSLError` when GSL reports a failure (including `GSL_EROUND` and
/// `GSL_EMAXITER`: the requested accuracy was not reached) or the result is not finite.
public enum Quadrature {
    /// ∫_a^b f(x) dx with the 21-point Gauss–Kronrod rule and Wynn ε-extrapolation (integrable
    /// end-point singularities allowed).
    public static func qags(_ f: (Double) -> Double, from a: Double, to b: Double,
                            absoluteTolerance: Double = 0, relativeTolerance: Double = 1e-10,
                            limit: Int = 1000) throws -> Double {
        try integrate(f, "gsl_integration_qags", limit) { fn, w, r, e in
            gsl_integration_qags(fn, a, b, absoluteTolerance, relativeTolerance, limit, w, r, e)
        }
    }

    /// ∫_{-∞}^{∞} f(x) dx (mapped to (0,1] by x = (1 − u)/u).
    public static func qagi(_ f: (Double) -> Double,
                            absoluteTolerance: Double = 0, relativeTolerance: Double = 1e-10,
                            limit: Int = 1000) throws -> Double {
        try integrate(f, "gsl_integration_qagi", limit) { fn, w, r, e in
            gsl_integration_qagi(fn, absoluteTolerance, relativeTolerance, limit, w, r, e)
        }
    }

    /// ∫_a^{∞} f(x) dx.
    public static func qagiu(_ f: (Double) -> Double, from a: Double,
                             absoluteTolerance: Double = 0, relativeTolerance: Double = 1e-10,
                             limit: Int = 1000) throws -> Double {
        try integrate(f, "gsl_integration_qagiu", limit) { fn, w, r, e in
            gsl_integration_qagiu(fn, a, absoluteTolerance, relativeTolerance, limit, w, r, e)
        }
    }

    private static func integrate(
        _ f: (Double) -> Double, _ name: String, _ limit: Int,
        _ routine: (UnsafeMutablePointer<gsl_function>, UnsafeMutablePointer<gsl_integration_workspace>,
                    UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>) -> Int32
    ) throws -> Double {
        GSL.prepare()
        guard limit > 0 else { throw GSL.failure(name, "limit must be positive") }
        guard let workspace = gsl_integration_workspace_alloc(limit) else {
            throw GSL.failure("gsl_integration_workspace_alloc", "out of memory")
        }
        defer { gsl_integration_workspace_free(workspace) }
        return try withoutActuallyEscaping(f) { escapable in
            let box = ClosureBox(escapable)
            let unmanaged = Unmanaged.passRetained(box)
            defer { unmanaged.release() }
            var function = gsl_function(function: { x, params in
                Unmanaged<ClosureBox>.fromOpaque(params!).takeUnretainedValue().call(x)
            }, params: unmanaged.toOpaque())
            var result = 0.0, abserr = 0.0
            let status = routine(&function, workspace, &result, &abserr)
            try box.rethrow(status: status, name)
            guard result.isFinite else {
                throw GSL.failure(name, "result is not finite (integrand non-finite at x = \(box.nonFiniteAt.map { "\($0)" } ?? "?"))")
            }
            return result
        }
    }
}

/// Gauss–Hermite rule with `nodes` points (`gsl_integration_fixed_hermite`, weight e^{−x²}).
///
/// Nodes and weights are computed once and kept as Swift arrays (the GSL workspace is freed in
/// `init`), so the value is cheap to share across threads. Exact for polynomials of degree
/// ≤ 2·nodes − 1 times the weight.
public struct GaussHermite: Sendable {
    /// Nodes x_i of ∫ e^{−x²} f(x) dx ≈ Σ w_i f(x_i).
    public let nodes: [Double]
    /// Weights w_i (Σ w_i = √π).
    public let weights: [Double]

    public init(nodes count: Int) throws {
        GSL.prepare()
        guard count > 0 else { throw GSL.failure("GaussHermite", "need at least one node, got \(count)") }
        guard let w = gsl_integration_fixed_alloc(cgsl_fixed_hermite(), count, 0, 1, 0, 0) else {
            throw GSL.failure("gsl_integration_fixed_alloc", "hermite rule with \(count) nodes failed")
        }
        defer { gsl_integration_fixed_free(w) }
        guard let x = gsl_integration_fixed_nodes(w), let wt = gsl_integration_fixed_weights(w) else {
            throw GSL.failure("gsl_integration_fixed_nodes", "no nodes")
        }
        nodes = Array(UnsafeBufferPointer(start: x, count: count))
        weights = Array(UnsafeBufferPointer(start: wt, count: count))
        guard nodes.allSatisfy(\.isFinite), weights.allSatisfy(\.isFinite) else {
            throw GSL.failure("gsl_integration_fixed_hermite", "non-finite nodes/weights for n = \(count)")
        }
    }

    /// ∫ e^{−x²} f(x) dx ≈ Σ w_i f(x_i).
    public func integrate(_ f: (Double) -> Double) -> Double {
        var s = 0.0
        for i in nodes.indices { s += weights[i] * f(nodes[i]) }
        return s
    }

    /// E f(z) for z ~ N(0,1): π^{−1/2} Σ w_i f(√2 x_i).
    public func standardNormalExpectation(_ f: (Double) -> Double) -> Double {
        var s = 0.0
        for i in nodes.indices { s += weights[i] * f(2.0.squareRoot() * nodes[i]) }
        return s / Double.pi.squareRoot()
    }
}
