import DiffusionPhysics

/// A study whose rows are independent per value of one list parameter (`rowAxis`) and kept in
/// one resumable CSV (`rowFile`) whose first column is that value, `rowsPerValue` rows per value
/// (the length of that list parameter). Running the study with `rowAxis` narrowed to one value
/// computes exactly that value's rows, so runs split by value can be merged row by row into the
/// single-process file (`diffphys-mpi reproduce`). Rows depend only on (seed, parameters, value).
public protocol RowSplittableStudy: StudyKind {
    static var rowAxis: String { get }
    static var rowFile: String { get }
    static var rowsPerValue: String { get }
}

extension CollapseGMMStudy: RowSplittableStudy {
    public static let rowAxis = "d", rowFile = "fe.csv", rowsPerValue = "times"
}

extension SpeciationGMMStudy: RowSplittableStudy {
    public static let rowAxis = "d", rowFile = "phi.csv", rowsPerValue = "ratios"
}

extension StudyDeclaration {
    /// The same study with the list parameter `key` narrowed to `[value]` (full size and quick).
    public func narrowed(_ key: String, to value: Double) -> StudyDeclaration {
        var s = self
        s.parameters[key] = .numbers([value])
        if s.quick[key] != nil { s.quick[key] = .numbers([value]) }
        return s
    }
}
