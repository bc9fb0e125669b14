import CGSL
#if canImport(Glibc)
import Glibc
#endif

/// Special functions (GSL `gsl_sf_*`, plus a few elementary ones in stable form).
public enum Special {
    /// ln cosh x = |x| + log1p(e^{−2|x|}) − ln 2, finite for all finite x (no overflow of cosh).
    @inlinable
    public static func lnCosh(_ x: Double) -> Double {
        let a = Swift.abs(x)
        return a + Glibc.log1p(Glibc.exp(-2 * a)) - 0.693_147_180_559_945_3
    }

    /// ln(1 + x), accurate for small |x| (`gsl_log1p`).
    public static func log1p(_ x: Double) -> Double { gsl_log1p(x) }

    /// e^x − 1, accurate for small |x| (`gsl_expm1`).
    public static func expm1(_ x: Double) -> Double { gsl_expm1(x) }

    /// Regularised incomplete beta function I_x(a, b) (`gsl_sf_beta_inc_e`); a, b > 0, 0 ≤ x ≤ 1.
    public static func betaIncomplete(a: Double, b: Double, x: Double) throws -> Double {
        try evaluate("gsl_sf_beta_inc_e") { gsl_sf_beta_inc_e(a, b, x, $0) }
    }

    /// ln Γ(x) (`gsl_sf_lngamma_e`; for x < 0 the log of |Γ(x)|); throws at the poles.
    public static func lnGamma(_ x: Double) throws -> Double {
        try evaluate("gsl_sf_lngamma_e") { gsl_sf_lngamma_e(x, $0) }
    }

    /// ln K_ν(x), modified Bessel function of the second kind (`gsl_sf_bessel_lnKnu_e`); ν ≥ 0, x > 0.
    public static func lnBesselK(nu: Double, x: Double) throws -> Double {
        try evaluate("gsl_sf_bessel_lnKnu_e") { gsl_sf_bessel_lnKnu_e(nu, x, $0) }
    }

    /// P(χ²_ν ≤ x), the chi-squared lower tail (`gsl_cdf_chisq_P`); ν > 0.
    public static func chiSquaredCDF(_ x: Double, degreesOfFreedom nu: Double) throws -> Double {
        GSL.prepare()
        guard nu > 0, !x.isNaN else { throw GSL.failure("gsl_cdf_chisq_P", "need ν > 0 and x not NaN (ν = \(nu), x = \(x))") }
        return gsl_cdf_chisq_P(x, nu)
    }

    private static func evaluate(_ name: String, _ body: (UnsafeMutablePointer<gsl_sf_result>) -> Int32) throws -> Double {
        GSL.prepare()
        var result = gsl_sf_result(val: 0, err: 0)
        try GSL.check(body(&result), name)
        guard result.val.isFinite else { throw GSL.failure(name, "non-finite result") }
        return result.val
    }
}
