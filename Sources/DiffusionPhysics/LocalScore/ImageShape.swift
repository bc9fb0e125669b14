import Foundation

/// The shape of an image data set: H × W pixels with C channels, stored row-major (row, column,
/// channel), so coordinate (row·W + col)·C + c of a point is pixel (row, col), channel c
/// (Docs/LocalScores.md §0).
public struct ImageShape: Sendable, Hashable, Codable, CustomStringConvertible {
    public var height: Int
    public var width: Int
    public var channels: Int

    public init(height: Int, width: Int, channels: Int = 1) throws {
        guard height >= 1, width >= 1, channels >= 1 else {
            throw DataError("image shape \(height)×\(width)×\(channels): every size must be ≥ 1")
        }
        self.height = height
        self.width = width
        self.channels = channels
    }

    /// Number of pixels H·W.
    public var pixels: Int { height * width }
    /// Dimension d = H·W·C.
    public var dimension: Int { height * width * channels }

    /// Parses `H×W` or `H×W×C` (also `x` or `X` as the separator), e.g. `28x28`, `32×32×3`.
    public init(parsing text: String) throws {
        let parts = text.replacingOccurrences(of: "×", with: "x").lowercased().split(separator: "x",
                                                                                      omittingEmptySubsequences: false)
        let values = parts.map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard (2...3).contains(values.count), values.allSatisfy({ $0 != nil }) else {
            throw DataError("image shape '\(text)': expected H×W or H×W×C with integer sizes, e.g. 28x28")
        }
        try self.init(height: values[0]!, width: values[1]!, channels: values.count == 3 ? values[2]! : 1)
    }

    /// The shape of an array's trailing axes (n × H × W or n × H × W × C), or nil for other ranks.
    public static func fromArrayShape(_ shape: [Int]) -> ImageShape? {
        switch shape.count {
        case 3: return try? ImageShape(height: shape[1], width: shape[2])
        case 4: return try? ImageShape(height: shape[1], width: shape[2], channels: shape[3])
        default: return nil
        }
    }

    /// Throws unless d = H·W·C.
    public func check(dimension d: Int, source: String) throws {
        guard dimension == d else {
            throw DataError("\(source): image shape \(self) has H·W·C = \(dimension) but the data have d = \(d)")
        }
    }

    public var description: String { channels == 1 ? "\(height)x\(width)" : "\(height)x\(width)x\(channels)" }
}
