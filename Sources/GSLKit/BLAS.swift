import COpenBLAS
#if canImport(Glibc)
import Glibc
#endif

/// Scalars with an OpenBLAS GEMM (`cblas_dgemm` / `cblas_sgemm`).
public protocol BLASScalar: BinaryFloatingPoint, Sendable {
    /// C = alpha op(A) op(B) + beta C on row-major buffers.
    static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Self,
                     a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
                     beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
}

extension Double: BLASScalar {
    @inlinable
    public static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Double,
                            a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                            beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        cblas_dgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

extension Float: BLASScalar {
    @inlinable
    public static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

/// Matrix products through OpenBLAS, on `Matrix` values (no pointers leave this layer).
public enum BLAS {
    /// `c = alpha · A · Bᵀ + beta · c`, using the first `aRows` rows of `a` (default: all).
    /// `c` must have at least `aRows` rows and `b.rows` columns.
    @inlinable
    public static func multiplyTransposed<S: BLASScalar>(_ a: Matrix<S>, _ b: Matrix<S>, into c: inout Matrix<S>,
                                                         aRows: Int? = nil, alpha: S = 1, beta: S = 0) {
        let m = aRows ?? a.rows
        precondition(a.columns == b.columns && c.columns == b.rows && c.rows >= m && a.rows >= m,
                     "multiplyTransposed: shapes \(m)×\(a.columns) · (\(b.rows)×\(b.columns))ᵀ → \(c.rows)×\(c.columns)")
        if m == 0 || b.rows == 0 { return }
        if a.columns == 0 { scaleOrZero(&c, rows: m, beta: beta); return }
        a.storage.withUnsafeBufferPointer { pa in
            b.storage.withUnsafeBufferPointer { pb in
                c.storage.withUnsafeMutableBufferPointer { pc in
                    S.gemm(transposeA: false, transposeB: true, m: m, n: b.rows, k: a.columns, alpha: alpha,
                           a: pa.baseAddress!, lda: a.columns, b: pb.baseAddress!, ldb: b.columns,
                           beta: beta, c: pc.baseAddress!, ldc: c.columns)
                }
            }
        }
    }

    /// `c = alpha · A · B + beta · c`, using the first `aRows` rows of `a` (default: all).
    @inlinable
    public static func multiply<S: BLASScalar>(_ a: Matrix<S>, _ b: Matrix<S>, into c: inout Matrix<S>,
                                               aRows: Int? = nil, alpha: S = 1, beta: S = 0) {
        let m = aRows ?? a.rows
        precondition(a.columns == b.rows && c.columns == b.columns && c.rows >= m && a.rows >= m,
                     "multiply: shapes \(m)×\(a.columns) · \(b.rows)×\(b.columns) → \(c.rows)×\(c.columns)")
        if m == 0 || b.columns == 0 { return }
        if a.columns == 0 { scaleOrZero(&c, rows: m, beta: beta); return }
        a.storage.withUnsafeBufferPointer { pa in
            b.storage.withUnsafeBufferPointer { pb in
                c.storage.withUnsafeMutableBufferPointer { pc in
                    S.gemm(transposeA: false, transposeB: false, m: m, n: b.columns, k: a.columns, alpha: alpha,
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
                Double.gemm(transposeA: true, transposeB: false, m: a.columns, n: a.columns, k: a.rows, alpha: alpha,
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

    /// Number of threads OpenBLAS uses for one product (process-wide).
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
    }

    /// Sets OpenBLAS's thread count (process-wide). The parallel engine sets it to 1 while it runs
    /// its own workers, so products never oversubscribe the cores.
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }

    /// True when the process's `cblas_dgemm` is OpenBLAS's, not GSL's reference `libgslcblas`
    /// (which links silently and is ~10× slower: ENGINEERING.md pitfall 2).
    public static var dgemmIsOpenBLAS: Bool {
        guard let process = dlopen(nil, RTLD_NOW), let used = dlsym(process, "cblas_dgemm"),
              let openblas = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_NOLOAD),
              let provided = dlsym(openblas, "cblas_dgemm") else { return false }
        return used == provided
    }
}
