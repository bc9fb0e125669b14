import CGSL

/// A failure reported by GSL (or by a wrapper on GSL's behalf), carried as a Swift error
/// instead of GSL's default `abort()`.
public struct GSLError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The GSL status code (`GSL_EDOM`, `GSL_EMAXITER`, ...), or `GSL_FAILURE` for wrapper checks.
    public let status: Int32
    /// The GSL routine (or wrapper) that failed.
    public let function: String
    /// Human-readable reason: GSL's `gsl_strerror` text plus context.
    public let reason: String

    public init(status: Int32, function: String, reason: String? = nil) {
        self.status = status
        self.function = function
        self.reason = reason ?? String(cString: gsl_strerror(status))
    }

    public var description: String { "\(function): \(reason)" }
}

/// Process-wide GSL set-up.
public enum GSL {
    private static let handlerOff: Bool = {
        _ = gsl_set_error_handler_off()
        return true
    }()

    /// Switches GSL's aborting error handler off. Idempotent and thread-safe; every wrapper calls
    /// it before touching GSL, so users need not.
    public static func prepare() { _ = handlerOff }

    /// Converts a GSL status into a thrown `GSLError`.
    @inlinable
    public static func check(_ status: Int32, _ function: @autoclosure () -> String) throws(GSLError) {
        if status != GSL_SUCCESS { throw GSLError(status: status, function: function()) }
    }

    /// A wrapper-level failure with a chosen message.
    public static func failure(_ function: String, _ reason: String) -> GSLError {
        GSLError(status: Int32(GSL_FAILURE), function: function, reason: reason)
    }
}
