/// Vectorised elementary functions for the softmax of the score engine.
///
/// `VectorMath.exp` evaluates eˣ on eight doubles at once (two AVX2 registers with
/// `-target-cpu haswell`):
///
///     x = k·ln2 + r,  k = round(x/ln2),  |r| ≤ ln2/2       (Cody–Waite: ln2 = hi + lo)
///     eʳ ≈ Σ_{j≤13} rʲ/j!                                  (truncation < 4e-18 relative)
///     eˣ = 2ᵏ·eʳ                                           (2ᵏ built in the exponent bits)
///
/// Accuracy: ≤ 2 ulp against `Foundation.exp` on [−708, 709] (tested). Below −708 the result is
/// flushed to 0 (the softmax only exponentiates l − max ≤ 0, and a weight below e^{−708} ≈ 3e−308
/// relative to the largest cannot change any sum); +∞ → +∞ is not needed and not handled
/// (inputs > 709 overflow to a wrong finite value), NaN propagates.
public enum VectorMath {
    public typealias Vector = SIMD8<Double>

    @inline(__always)
    public static func exp(_ x: Vector) -> Vector {
        let log2e = 1.4426950408889634
        let ln2hi = 0.693147180369123816490       // high 32 bits of ln 2 (exact k·ln2hi for |k| < 2^21)
        let ln2lo = 1.90821492927058770002e-10
        let shifter = 6755399441055744.0           // 1.5·2^52: adding it rounds to an integer in the low bits
        let lowest = -708.0
        let xc = x.replacing(with: Vector(repeating: lowest), where: x .< lowest)
        let kd = Vector(repeating: shifter).addingProduct(xc, Vector(repeating: log2e))
        let k = kd - shifter
        var r = xc.addingProduct(k, Vector(repeating: -ln2hi))
        r = r.addingProduct(k, Vector(repeating: -ln2lo))
        // Horner, degree 13 Taylor polynomial.
        var p = Vector(repeating: 1.0 / 6227020800.0)                 // 1/13!
        p = Vector(repeating: 1.0 / 479001600.0).addingProduct(p, r)   // 1/12!
        p = Vector(repeating: 1.0 / 39916800.0).addingProduct(p, r)    // 1/11!
        p = Vector(repeating: 1.0 / 3628800.0).addingProduct(p, r)
        p = Vector(repeating: 1.0 / 362880.0).addingProduct(p, r)
        p = Vector(repeating: 1.0 / 40320.0).addingProduct(p, r)
        p = Vector(repeating: 1.0 / 5040.0).addingProduct(p, r)
        p = Vector(repeating: 1.0 / 720.0).addingProduct(p, r)
        p = Vector(repeating: 1.0 / 120.0).addingProduct(p, r)
        p = Vector(repeating: 1.0 / 24.0).addingProduct(p, r)
        p = Vector(repeating: 1.0 / 6.0).addingProduct(p, r)
        p = Vector(repeating: 0.5).addingProduct(p, r)
        p = Vector(repeating: 1.0).addingProduct(p, r)
        p = Vector(repeating: 1.0).addingProduct(p, r)
        // 2^k: the low bits of kd hold k (two's complement); shift them into the exponent field.
        let bits = unsafeBitCast(kd, to: SIMD8<UInt64>.self)
        let scaleBits = (bits &+ SIMD8<UInt64>(repeating: 1023)) &<< SIMD8<UInt64>(repeating: 52)
        let scale = unsafeBitCast(scaleBits, to: Vector.self)
        let y = p * scale
        return y.replacing(with: Vector(repeating: 0), where: x .< lowest)
    }

    /// Scalar version through the same polynomial (lane 0), for tails shorter than 8.
    @inline(__always)
    public static func exp(_ x: Double) -> Double { exp(Vector(repeating: x))[0] }
}
