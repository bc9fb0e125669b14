import CGSL

/// Eigen-decomposition of real symmetric matrices (`gsl_eigen_symm` / `gsl_eigen_symmv`).
///
/// Only the lower triangle (including the diagonal) of the input is read, as in GSL; the input
/// must be square with finite entries. Results are sorted by DESCENDING eigenvalue.
/// Used for the covariance spectrum of Docs/Theory.md §2.1 (Λ) and §3.2 (Gaussian-spectrum t_C).
public enum SymmetricEigen {
    /// Eigenvalues of the symmetric matrix `matrix`, in descending order.
    public static func eigenvalues(of matrix: Matrix<Double>) throws -> [Double] {
        let n = try validate(matrix, "gsl_eigen_symm")
        let a = try GSLMatrixBox(matrix, "gsl_eigen_symm")
        guard let eval = gsl_vector_alloc(n) else { throw GSL.failure("gsl_vector_alloc", "out of memory") }
        defer { gsl_vector_free(eval) }
        guard let work = gsl_eigen_symm_alloc(n) else { throw GSL.failure("gsl_eigen_symm_alloc", "out of memory") }
        defer { gsl_eigen_symm_free(work) }
        try GSL.check(gsl_eigen_symm(a.pointer, eval, work), "gsl_eigen_symm")
        var values = (0..<n).map { gsl_vector_get(eval, $0) }
        values.sort(by: >)
        return values
    }

    /// Eigenvalues (descending) and orthonormal eigenvectors: column `j` of `vectors` is the
    /// eigenvector of `values[j]`.
    public static func eigensystem(of matrix: Matrix<Double>) throws -> (values: [Double], vectors: Matrix<Double>) {
        let n = try validate(matrix, "gsl_eigen_symmv")
        let a = try GSLMatrixBox(matrix, "gsl_eigen_symmv")
        guard let eval = gsl_vector_alloc(n) else { throw GSL.failure("gsl_vector_alloc", "out of memory") }
        defer { gsl_vector_free(eval) }
        guard let evec = gsl_matrix_alloc(n, n) else { throw GSL.failure("gsl_matrix_alloc", "out of memory") }
        defer { gsl_matrix_free(evec) }
        guard let work = gsl_eigen_symmv_alloc(n) else { throw GSL.failure("gsl_eigen_symmv_alloc", "out of memory") }
        defer { gsl_eigen_symmv_free(work) }
        try GSL.check(gsl_eigen_symmv(a.pointer, eval, evec, work), "gsl_eigen_symmv")
        try GSL.check(gsl_eigen_symmv_sort(eval, evec, GSL_EIGEN_SORT_VAL_DESC), "gsl_eigen_symmv_sort")
        let values = (0..<n).map { gsl_vector_get(eval, $0) }
        var vectors = Matrix<Double>(rows: n, columns: n)
        for i in 0..<n { for j in 0..<n { vectors[i, j] = gsl_matrix_get(evec, i, j) } }
        return (values, vectors)
    }

    private static func validate(_ m: Matrix<Double>, _ fn: String) throws -> Int {
        GSL.prepare()
        guard m.rows == m.columns else {
            throw GSL.failure(fn, "matrix must be square, got \(m.rows)×\(m.columns)")
        }
        guard m.rows > 0 else { throw GSL.failure(fn, "matrix is empty") }
        guard m.storage.allSatisfy(\.isFinite) else { throw GSL.failure(fn, "matrix has non-finite entries") }
        return m.rows
    }
}

/// An owned `gsl_matrix` copy of a `Matrix<Double>` (freed on deinit).
final class GSLMatrixBox {
    let pointer: UnsafeMutablePointer<gsl_matrix>

    init(_ m: Matrix<Double>, _ fn: String) throws {
        guard let p = gsl_matrix_alloc(m.rows, m.columns) else { throw GSL.failure(fn, "gsl_matrix_alloc: out of memory") }
        pointer = p
        // gsl_matrix is row-major with row stride tda >= columns.
        let tda = p.pointee.tda
        m.storage.withUnsafeBufferPointer { src in
            for i in 0..<m.rows {
                for j in 0..<m.columns { p.pointee.data[i * tda + j] = src[i * m.columns + j] }
            }
        }
    }

    deinit { gsl_matrix_free(pointer) }
}
