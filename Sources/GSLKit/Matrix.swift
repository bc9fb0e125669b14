/// A dense row-major matrix of `Double` or `Float`, the operand type of the BLAS wrappers.
///
/// `storage[i * columns + j]` is element (i, j). Value semantics (copy on write through `Array`).
public struct Matrix<Scalar: BLASScalar>: Equatable, Sendable {
    public private(set) var rows: Int
    public let columns: Int
    public var storage: [Scalar]

    /// A `rows × columns` matrix filled with `value`.
    public init(rows: Int, columns: Int, repeating value: Scalar = 0) {
        precondition(rows >= 0 && columns >= 0, "Matrix dimensions must be non-negative")
        self.rows = rows
        self.columns = columns
        self.storage = Array(repeating: value, count: rows * columns)
    }

    /// Wraps row-major `storage`; its count must be `rows * columns`.
    public init(rows: Int, columns: Int, storage: [Scalar]) {
        precondition(storage.count == rows * columns, "Matrix storage has \(storage.count) elements, expected \(rows)×\(columns)")
        self.rows = rows
        self.columns = columns
        self.storage = storage
    }

    /// Builds from rows of equal length.
    public init(rowArrays: [[Scalar]]) {
        let c = rowArrays.first?.count ?? 0
        precondition(rowArrays.allSatisfy { $0.count == c }, "Matrix rows must have equal length")
        self.init(rows: rowArrays.count, columns: c, storage: rowArrays.flatMap { $0 })
    }

    @inlinable public subscript(row: Int, column: Int) -> Scalar {
        get { storage[row * columns + column] }
        set { storage[row * columns + column] = newValue }
    }

    /// Row `i` as a new array.
    public func row(_ i: Int) -> [Scalar] { Array(storage[(i * columns)..<((i + 1) * columns)]) }

    /// Row `i` as a slice of the storage (no copy).
    @inlinable public func rowSlice(_ i: Int) -> ArraySlice<Scalar> { storage[(i * columns)..<((i + 1) * columns)] }

    /// Replaces row `i`.
    public mutating func setRow(_ i: Int, _ values: some Collection<Scalar>) {
        precondition(values.count == columns, "row length \(values.count) ≠ \(columns)")
        var j = i * columns
        for v in values { storage[j] = v; j += 1 }
    }

    /// Rows selected by `indices`, in that order.
    public func rows(_ indices: some Sequence<Int>) -> Matrix {
        var out: [Scalar] = []
        var count = 0
        for i in indices { out.append(contentsOf: rowSlice(i)); count += 1 }
        return Matrix(rows: count, columns: columns, storage: out)
    }

    /// Squared Euclidean norm of each row.
    public func rowSquaredNorms() -> [Scalar] {
        (0..<rows).map { i in rowSlice(i).reduce(0) { $0 + $1 * $1 } }
    }

    /// Keeps the first `rows` rows' worth of capacity semantics: changes the number of rows used,
    /// reallocating only to grow.
    public mutating func resizeRows(_ newRows: Int) {
        precondition(newRows >= 0)
        let needed = newRows * columns
        if storage.count < needed { storage.append(contentsOf: repeatElement(0, count: needed - storage.count)) }
        else if storage.count > needed { storage.removeLast(storage.count - needed) }
        rows = newRows
    }
}

extension Matrix where Scalar == Double {
    /// Converts to single precision.
    public func toFloat() -> Matrix<Float> { Matrix<Float>(rows: rows, columns: columns, storage: storage.map(Float.init)) }
}
