import Foundation

/// Thread-safe progress on standard error ("label: done/total (xx%)"), at most a few lines a
/// second; silent when disabled (tests) or when the run is short.
public final class ProgressReporter: @unchecked Sendable {
    private let lock = NSLock()
    private let label: String
    private let total: Int
    private var done = 0
    private var lastPrint = Date.distantPast
    private let start = Date()
    public let enabled: Bool

    public init(_ label: String, total: Int, enabled: Bool = true) {
        self.label = label
        self.total = max(1, total)
        self.enabled = enabled
    }

    /// Records `count` more finished units.
    public func advance(_ count: Int = 1) {
        guard enabled else { return }
        lock.lock()
        done += count
        let now = Date()
        let finished = done >= total
        let due = now.timeIntervalSince(lastPrint) > 0.5 && now.timeIntervalSince(start) > 1.5
        if due || (finished && now.timeIntervalSince(start) > 1.5) {
            lastPrint = now
            let pct = 100 * Double(done) / Double(total)
            FileHandle.standardError.write(Data("\(label): \(done)/\(total) (\(String(format: "%.0f", pct))%), \(String(format: "%.1f", now.timeIntervalSince(start))) s\n".utf8))
        }
        lock.unlock()
    }
}
