import Foundation

/// The versioned output schema shared by every command's JSON (Docs/Schema.md).
///
/// Every JSON document is one envelope:
/// `{"schemaVersion", "command", "data", "conventions", "parameters", "warnings", "results"}`;
/// shared quantities have shared names (`tS`, `tC`, a measured value `{"value", "stderr"[, "systematic"]}`),
/// non-finite numbers are written as `null` and listed in `warnings` (`JSONOutput`).
public enum OutputSchema {
    /// Bump when a key is renamed or removed (adding keys keeps the version).
    public static let version = 1

    /// The conventions every envelope states (Docs/Conventions.md).
    public static let conventions: [String: String] = [
        "time": "t = forward (noising) OU time: dx = -x dt + sqrt(2) dW, Delta_t = 1 - e^{-2t}",
        "tS": "primary t_S = (1/2) ln(1 + Lambda), Lambda = top eigenvalue of the unbiased covariance; paper (1/2) ln Lambda and drift (1/2) ln(2 Lambda) are labelled alternatives",
        "tC": "primary measured t_C = time where planted E[Y2] = 1/2; predicted t_C: eq. 10 (Gaussian data) or the Gaussian-spectrum t_C (a bound for the entropy criterion only)",
        "errorBars": "stderr = one standard error (68 %); systematic = discretisation error, reported separately, never added in",
        "nonFinite": "non-finite numbers are written as null and listed in warnings",
        "reference": "Docs/Conventions.md, Docs/Schema.md",
    ]
}

/// A measured value: `{"value": x, "stderr": s}` and, where a time discretisation enters,
/// `"systematic": e` (Docs/Conventions.md "Error bars"). `stderr` is always present (`null` when
/// the estimator has none).
public struct Measured: Codable, Sendable, Equatable {
    public var value: Double
    public var stderr: Double?
    public var systematic: Double?

    public init(_ value: Double, stderr: Double?, systematic: Double? = nil) {
        self.value = value
        self.stderr = stderr
        self.systematic = systematic
    }

    /// A closed-form (exact) number: no standard error.
    public static func exact(_ value: Double) -> Measured { Measured(value, stderr: nil) }

    enum CodingKeys: String, CodingKey { case value, stderr, systematic }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(value, forKey: .value)
        try c.encode(stderr, forKey: .stderr)
        try c.encodeIfPresent(systematic, forKey: .systematic)
    }
}

extension MeanEstimate {
    /// The estimate as a schema value `{value, stderr}`.
    public var measured: Measured { Measured(mean, stderr: standardError) }
}

extension LevelCrossing {
    /// The crossing time as a schema value `{value, stderr}`.
    public var measured: Measured { Measured(t, stderr: standardError) }
}

/// The speciation time in one shape for every command (Docs/Schema.md "Shared names"): the primary
/// ½ ln(1 + Λ) and the labelled alternatives.
public struct SpeciationTimeOutput: Encodable, Sendable, Equatable {
    /// Primary t_S = ½ ln(1 + Λ) (= `curvature`).
    public var primary: Double
    /// ½ ln Λ ([BBdBM] eq. 4).
    public var paper: Double
    /// ½ ln(1 + Λ).
    public var curvature: Double
    /// ½ ln(2Λ).
    public var drift: Double
    /// Which convention `primary` is.
    public var primaryConvention = "curvature"

    public init(_ t: SpeciationTimes) {
        primary = t.curvature
        paper = t.paper
        curvature = t.curvature
        drift = t.drift
    }
}

/// The collapse time in one shape for every command (Docs/Schema.md "Shared names"): the primary measured
/// t_C (planted E[Y2] = ½), the other measured conventions and the predictions, each `{value, stderr}`.
public struct CollapseTimeOutput: Encodable, Sendable, Equatable {
    /// Primary measured t_C = t where planted E[Y2] = ½ (`measured.y2`); null when not bracketed.
    public var primary: Measured?
    /// Measured conventions by name: y2, y2NonPlanted, entropy10, entropy05, trajectory.
    public var measured: [String: Measured]
    /// Predictions by name: gaussian (eq. 10), gmmFiniteD, spectrum (a bound for the entropy
    /// criterion only), fittedQDA, fittedLDA.
    public var predicted: [String: Measured]

    public init(measured: [String: Measured], predicted: [String: Measured]) {
        self.measured = measured
        self.predicted = predicted
        primary = measured["y2"]
    }

    enum CodingKeys: String, CodingKey { case primary, measured, predicted }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(primary, forKey: .primary)
        try c.encode(measured, forKey: .measured)
        try c.encode(predicted, forKey: .predicted)
    }
}

/// The dataset an output was computed from (`data` of the envelope).
public struct DataDescription: Encodable, Sendable, Equatable {
    /// The `--data` spec as parsed.
    public var spec: String
    public var n: Int?
    public var d: Int?

    public init(spec: String, n: Int? = nil, d: Int? = nil) {
        self.spec = spec
        self.n = n
        self.d = d
    }

    enum CodingKeys: String, CodingKey { case spec, n, d }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(spec, forKey: .spec)
        try c.encode(n, forKey: .n)
        try c.encode(d, forKey: .d)
    }
}

/// One run parameter in `parameters` of the envelope.
public enum ParameterValue: Encodable, Sendable, Equatable, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByStringLiteral, ExpressibleByBooleanLiteral {
    case integer(Int)
    case number(Double)
    case text(String)
    case flag(Bool)
    case numbers([Double])

    public init(integerLiteral value: Int) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(stringLiteral value: String) { self = .text(value) }
    public init(booleanLiteral value: Bool) { self = .flag(value) }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .integer(let v): try c.encode(v)
        case .number(let v): try c.encode(v)
        case .text(let v): try c.encode(v)
        case .flag(let v): try c.encode(v)
        case .numbers(let v): try c.encode(v)
        }
    }
}

/// The envelope of every command's JSON (Docs/Schema.md): the six shared keys and the command's
/// `results`. Every key is always written (`data` is null for commands without a dataset).
public struct OutputEnvelope<Results: Encodable>: Encodable {
    public var schemaVersion = OutputSchema.version
    /// The command path, e.g. "collapse" or "theory phi".
    public var command: String
    public var data: DataDescription?
    /// OutputSchema.conventions plus command-specific notes.
    public var conventions: [String: String]
    public var parameters: [String: ParameterValue]
    /// Caveats of the run; `JSONOutput` appends one line per non-finite number written as null.
    public var warnings: [String]
    public var results: Results

    public init(command: String, data: DataDescription?, parameters: [String: ParameterValue], notes: [String: String] = [:],
                warnings: [String] = [], results: Results) {
        self.command = command
        self.data = data
        self.conventions = OutputSchema.conventions.merging(notes) { $1 }
        self.parameters = parameters
        self.warnings = warnings
        self.results = results
    }

    /// The six shared keys, in the order Docs/Schema.md lists them, then `results`.
    public static var envelopeKeys: [String] { ["schemaVersion", "command", "data", "conventions", "parameters", "warnings", "results"] }

    enum CodingKeys: String, CodingKey { case schemaVersion, command, data, conventions, parameters, warnings, results }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(schemaVersion, forKey: .schemaVersion)
        try c.encode(command, forKey: .command)
        try c.encode(data, forKey: .data)
        try c.encode(conventions, forKey: .conventions)
        try c.encode(parameters, forKey: .parameters)
        try c.encode(warnings, forKey: .warnings)
        try c.encode(results, forKey: .results)
    }
}

/// An envelope whose warnings `JSONOutput` can extend with the non-finite values it nulls.
public protocol WarningCarrying {
    mutating func appendWarnings(_ lines: [String])
}

extension OutputEnvelope: WarningCarrying {
    public mutating func appendWarnings(_ lines: [String]) { warnings += lines }
}
