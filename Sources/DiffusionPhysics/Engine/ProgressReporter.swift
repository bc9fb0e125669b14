import Foundation

/// Thread-safe progress with an ETA on standard error, weighted by the cost of the work.
///
/// Work is counted in *cost*: `advance(_:)` adds units of equal cost (trajectories of one run,
/// samples of one ensemble), and a long command made of unequal parts splits its total into
/// `stage(units:cost:)`s, one per part, whose costs are the parts' estimated work (for example
/// samples × levels × n × d for forward sampling, trajectories × steps × n × d for backward runs).
/// The fraction shown is done cost / total cost, and the ETA is elapsed × (1 − f)/f
/// (`estimate(done:total:elapsed:)`), so a cheap part finishing early does not read as 90 %.
///
/// Output: on a terminal, one line rewritten in place (at most four times a second); otherwise
/// (a log file, a pipe) a line at most every 15 s or at each 10 % step, whichever is sparser.
/// Nothing is printed before 2 s have passed, so short runs stay silent; `enabled: false`
/// (`--quiet`, `--json`, tests) silences it completely.
public final class ProgressReporter: @unchecked Sendable {
    private let lock = NSLock()
    private let label: String
    private let totalCost: Double
    private let unitCost: Double
    private var doneCost = 0.0
    private let start = Date()
    private var lastPrint = Date.distantPast
    private var lastDecile = 0
    private var printed = false
    private var lineOpen = false
    private var finished = false
    private let parent: ProgressReporter?
    private let terminal: Bool
    public let enabled: Bool

    /// A reporter for `total` units of equal cost.
    public init(_ label: String, total: Int, enabled: Bool = true) {
        self.label = label
        self.totalCost = Double(max(1, total))
        self.unitCost = 1
        self.enabled = enabled
        self.parent = nil
        self.terminal = enabled && isatty(STDERR_FILENO) != 0
    }

    /// A reporter for work of total cost `cost` (any positive unit), advanced with `advance(cost:)`
    /// or through `stage(units:cost:)`s.
    public init(_ label: String, cost: Double, enabled: Bool = true) {
        self.label = label
        self.totalCost = cost > 0 && cost.isFinite ? cost : 1
        self.unitCost = 1
        self.enabled = enabled
        self.parent = nil
        self.terminal = enabled && isatty(STDERR_FILENO) != 0
    }

    private init(parent: ProgressReporter, units: Int, cost: Double) {
        label = parent.label
        totalCost = Double(max(1, units))
        unitCost = 1
        enabled = parent.enabled
        self.parent = parent
        terminal = false
        stageCost = max(0, cost)
    }
    private var stageCost = 0.0

    /// A part of this work made of `units` equal units that together cost `cost` (in this
    /// reporter's cost unit): advancing the stage by k units advances this reporter by
    /// cost·k/units, and never by more than `cost` in total.
    public func stage(units: Int, cost: Double) -> ProgressReporter {
        ProgressReporter(parent: self, units: units, cost: cost)
    }

    /// Records `count` more finished units.
    public func advance(_ count: Int = 1) { advance(cost: Double(count) * unitCost) }

    /// Records finished work of cost `cost`.
    public func advance(cost: Double) {
        guard cost > 0, cost.isFinite else { return }
        if let parent {
            lock.lock()
            let before = min(doneCost, totalCost)
            doneCost += cost
            let after = min(doneCost, totalCost)
            lock.unlock()
            parent.advance(cost: (after - before) / totalCost * stageCost)
            return
        }
        lock.lock()
        defer { lock.unlock() }
        doneCost += cost
        if enabled { report(now: Date()) }
    }

    /// The fraction of the total cost done so far, in [0, 1].
    public var fractionDone: Double {
        lock.lock()
        defer { lock.unlock() }
        return Self.estimate(done: doneCost, total: totalCost, elapsed: 0).fraction
    }

    /// Marks the work complete (prints the final line if any line was printed).
    public func finish() {
        guard parent == nil else { return }
        lock.lock()
        defer { lock.unlock() }
        doneCost = max(doneCost, totalCost)
        if enabled { report(now: Date()) }
    }

    deinit {
        if lineOpen { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    /// Fraction done and the remaining time, from cost done, total cost and elapsed seconds:
    /// f = clamp(done/total, 0, 1); ETA = elapsed·(1 − f)/f (nil before any work is done, 0 when f = 1).
    public static func estimate(done: Double, total: Double, elapsed: Double) -> (fraction: Double, eta: Double?) {
        guard total > 0, done.isFinite, total.isFinite else { return (0, nil) }
        let f = min(1, max(0, done / total))
        if f >= 1 { return (1, 0) }
        guard f > 0, elapsed > 0 else { return (f, nil) }
        return (f, elapsed * (1 - f) / f)
    }

    /// A duration for people: "8 s", "2 min 05 s", "1 h 03 min".
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s) s" }
        if s < 3600 { return String(format: "%d min %02d s", s / 60, s % 60) }
        return String(format: "%d h %02d min", s / 3600, (s % 3600) / 60)
    }

    /// The progress line: "label: 45 % (12 s elapsed, ETA 15 s)".
    public static func line(label: String, fraction: Double, elapsed: Double, eta: Double?) -> String {
        if fraction >= 1 { return "\(label): done in \(duration(elapsed))" }
        let pct = String(format: "%.0f", min(99, (100 * fraction + 1e-9).rounded(.down)))
        return "\(label): \(pct) % (\(duration(elapsed)) elapsed, ETA \(eta.map(duration) ?? "?"))"
    }

    /// Called with the lock held.
    private func report(now: Date) {
        guard !finished else { return }
        let elapsed = now.timeIntervalSince(start)
        let (fraction, eta) = Self.estimate(done: doneCost, total: totalCost, elapsed: elapsed)
        let complete = fraction >= 1 - 1e-9
        guard elapsed > 2 || (complete && printed) else { return }
        let decile = Int(fraction * 10)
        let due: Bool
        if complete {
            due = true
        } else if terminal {
            due = now.timeIntervalSince(lastPrint) >= 0.25
        } else {
            due = !printed || now.timeIntervalSince(lastPrint) >= 15 || (decile > lastDecile && now.timeIntervalSince(lastPrint) >= 3)
        }
        guard due else { return }
        lastPrint = now
        lastDecile = decile
        printed = true
        let text = Self.line(label: label, fraction: fraction, elapsed: elapsed, eta: eta)
        if complete { finished = true }
        if terminal {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + text + (complete ? "\n" : "")).utf8))
            lineOpen = !complete
        } else {
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }
}
