import DiffusionPhysics
import Foundation

/// A parameter value in a study file: a number, a list of numbers, or text.
public enum StudyValue: Codable, Sendable, Equatable, CustomStringConvertible {
    case number(Double)
    case numbers([Double])
    case text(String)

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(Double.self) { self = .number(v) }
        else if let v = try? c.decode([Double].self) { self = .numbers(v) }
        else if let v = try? c.decode(String.self) { self = .text(v) }
        else { throw DecodingError.dataCorruptedError(in: c, debugDescription: "a parameter must be a number, a list of numbers or a string") }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .number(let v): try c.encode(v)
        case .numbers(let v): try c.encode(v)
        case .text(let v): try c.encode(v)
        }
    }

    public var description: String {
        switch self {
        case .number(let v): return v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : "\(v)"
        case .numbers(let v): return "[" + v.map { StudyValue.number($0).description }.joined(separator: ", ") + "]"
        case .text(let s): return s
        }
    }
}

/// One lecture result as a declarative file in `Analyses/` (JSON): what it claims, which
/// measurement and prediction it sets side by side, its parameters (full size and `--quick`
/// overrides), and the tolerance that decides "agrees". The code that runs it is the shared
/// engine, selected by `measurement`.
public struct StudyDeclaration: Codable, Sendable, Equatable {
    /// Short name used on the command line (`diffphys reproduce NAME`).
    public var name: String
    /// Figure title.
    public var title: String
    /// One line: what the figure shows.
    public var claim: String
    /// The measurement (the study kind run by the engine), e.g. "speciation-gmm".
    public var measurement: String
    /// The prediction it is compared with, in words (formula and Docs/Theory.md section).
    public var prediction: String
    /// Full-size parameters (the lecture's).
    public var parameters: [String: StudyValue]
    /// Overrides for `--quick` (reduced sizes, a few minutes for all studies together).
    public var quick: [String: StudyValue]
    /// Named tolerances for the agrees/disagrees verdicts.
    public var tolerances: [String: Double]
    /// Where the numbers come from (paper figure, Docs/Theory.md section).
    public var source: String?

    /// Reads and validates a study file.
    public static func load(path: String) throws -> StudyDeclaration {
        guard let data = FileManager.default.contents(atPath: path) else { throw StudyError("cannot read study file \(path)") }
        let decl: StudyDeclaration
        do { decl = try JSONDecoder().decode(StudyDeclaration.self, from: data) } catch {
            throw StudyError("\(path): not a valid study file (\(error))")
        }
        guard !decl.name.isEmpty, decl.name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
            throw StudyError("\(path): study name must be letters, digits and '-'")
        }
        return decl
    }

    /// The parameters in force (full size, or with the quick overrides).
    public func resolved(quick: Bool) -> StudyParameters {
        var p = parameters
        if quick { for (k, v) in self.quick { p[k] = v } }
        return StudyParameters(study: name, values: p, tolerances: tolerances)
    }
}

/// Typed access to a study's parameters; a missing or mistyped key is a one-line error.
public struct StudyParameters: Sendable {
    public let study: String
    public let values: [String: StudyValue]
    public let tolerances: [String: Double]

    public func number(_ key: String) throws -> Double {
        guard case .number(let v)? = values[key] else { throw StudyError("study \(study): parameter '\(key)' must be a number") }
        return v
    }
    public func integer(_ key: String) throws -> Int {
        let v = try number(key)
        guard v == v.rounded(), v >= 0, v < 1e12 else { throw StudyError("study \(study): parameter '\(key)' must be a whole number") }
        return Int(v)
    }
    public func numbers(_ key: String) throws -> [Double] {
        switch values[key] {
        case .numbers(let v)?: return v
        case .number(let v)?: return [v]
        default: throw StudyError("study \(study): parameter '\(key)' must be a list of numbers")
        }
    }
    public func text(_ key: String) throws -> String {
        guard case .text(let v)? = values[key] else { throw StudyError("study \(study): parameter '\(key)' must be a string") }
        return v
    }
    public func tolerance(_ key: String) throws -> Double {
        guard let v = tolerances[key] else { throw StudyError("study \(study): tolerance '\(key)' is missing") }
        return v
    }
}

public struct StudyError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
