import COpenBLAS
#if canImport(Glibc)
import Glibc
#endif

/// Scalars with an OpenBLAS GEMM: `Double` (`cblas_dgemm`) and `Float` (`cblas_sgemm`).
public protocol BLASScalar: BinaryFloatingPoint, Sendable {}

extension Double: BLASScalar {}
extension Float: BLASScalar {}

/// C = alpha op(A) op(B) + beta C on row-major buffers; GSLKit-internal (no pointer leaves it).
@usableFromInline
func gemm<S: BLASScalar>(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: S,
                         a: UnsafePointer<S>, lda: Int, b: UnsafePointer<S>, ldb: Int,
                         beta: S, c: UnsafeMutablePointer<S>, ldc: Int) {
    Threads.pinBLAS()   // every product, not only the engine's, runs with the pinned thread count
    let ta = transposeA ? CblasTrans : CblasNoTrans, tb = transposeB ? CblasTrans : CblasNoTrans
    if S.self == Double.self {
        cblas_dgemm(CblasRowMajor, ta, tb, Int32(m), Int32(n), Int32(k), Double(alpha),
                    UnsafeRawPointer(a).assumingMemoryBound(to: Double.self), Int32(lda),
                    UnsafeRawPointer(b).assumingMemoryBound(to: Double.self), Int32(ldb), Double(beta),
                    UnsafeMutableRawPointer(c).assumingMemoryBound(to: Double.self), Int32(ldc))
    } else if S.self == Float.self {
        cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(n), Int32(k), Float(alpha),
                    UnsafeRawPointer(a).assumingMemoryBound(to: Float.self), Int32(lda),
                    UnsafeRawPointer(b).assumingMemoryBound(to: Float.self), Int32(ldb), Float(beta),
                    UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self), Int32(ldc))
    } else {
        preconditionFailure("BLASScalar is Double or Float")
    }
}

/// Matrix products through OpenBLAS, on `Matrix` values (no pointers leave this layer).
public enum BLAS {
    /// `c = alpha · A · Bᵀ + beta · c`, using the first `aRows` rows of `a` (default: all).
    /// `c` must have at least `aRows` rows and `b.rows` columns.
    @inlinable
    public static func multiplyTransposed<S: BLASScalar>(_ a: Matrix<S>, _ b: Matrix<S>, into c: inout Matrix<S>,
                                                         aRows: Int? = nil, alpha: S = 1, beta: S = 0) {
        product(a, b, transposeB: true, into: &c, aRows: aRows, alpha: alpha, beta: beta)
    }

    /// `c = alpha · A · B + beta · c`, using the first `aRows` rows of `a` (default: all).
    @inlinable
    public static func multiply<S: BLASScalar>(_ a: Matrix<S>, _ b: Matrix<S>, into c: inout Matrix<S>,
                                               aRows: Int? = nil, alpha: S = 1, beta: S = 0) {
        product(a, b, transposeB: false, into: &c, aRows: aRows, alpha: alpha, beta: beta)
    }

    /// `c = alpha · A · op(B) + beta · c` on the first `aRows` rows of `a`.
    @inlinable
    static func product<S: BLASScalar>(_ a: Matrix<S>, _ b: Matrix<S>, transposeB: Bool, into c: inout Matrix<S>,
                                       aRows: Int?, alpha: S, beta: S) {
        let m = aRows ?? a.rows
        let inner = transposeB ? b.columns : b.rows, outer = transposeB ? b.rows : b.columns
        precondition(a.columns == inner && c.columns == outer && c.rows >= m && a.rows >= m,
                     "BLAS: shapes \(m)×\(a.columns) · \(transposeB ? "(\(b.rows)×\(b.columns))ᵀ" : "\(b.rows)×\(b.columns)") → \(c.rows)×\(c.columns)")
        if m == 0 || outer == 0 { return }
        if a.columns == 0 { scaleOrZero(&c, rows: m, beta: beta); return }
        a.storage.withUnsafeBufferPointer { pa in
            b.storage.withUnsafeBufferPointer { pb in
                c.storage.withUnsafeMutableBufferPointer { pc in
                    gemm(transposeA: false, transposeB: transposeB, m: m, n: outer, k: a.columns, alpha: alpha,
                         a: pa.baseAddress!, lda: a.columns, b: pb.baseAddress!, ldb: b.columns,
                         beta: beta, c: pc.baseAddress!, ldc: c.columns)
                }
            }
        }
    }

    /// `c = alpha · Aᵀ · A + beta · c` (Gram / scatter matrix, `a.columns × a.columns`).
    public static func gramTransposed(_ a: Matrix<Double>, alpha: Double = 1) -> Matrix<Double> {
        var c = Matrix<Double>(rows: a.columns, columns: a.columns)
        if a.rows == 0 || a.columns == 0 { return c }
        a.storage.withUnsafeBufferPointer { pa in
            c.storage.withUnsafeMutableBufferPointer { pc in
                gemm(transposeA: true, transposeB: false, m: a.columns, n: a.columns, k: a.rows, alpha: alpha,
                            a: pa.baseAddress!, lda: a.columns, b: pa.baseAddress!, ldb: a.columns,
                            beta: 0, c: pc.baseAddress!, ldc: a.columns)
            }
        }
        return c
    }

    @usableFromInline
    static func scaleOrZero<S: BLASScalar>(_ c: inout Matrix<S>, rows: Int, beta: S) {
        for i in 0..<(rows * c.columns) { c.storage[i] = beta == 0 ? 0 : beta * c.storage[i] }
    }

    /// True when the process's `cblas_dgemm` is OpenBLAS's, not GSL's reference `libgslcblas`
    /// (which links silently and is ~10× slower).
    public static var dgemmIsOpenBLAS: Bool {
        guard let process = dlopen(nil, RTLD_NOW), let used = dlsym(process, "cblas_dgemm"),
              let openblas = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_NOLOAD),
              let provided = dlsym(openblas, "cblas_dgemm") else { return false }
        return used == provided
    }
}
