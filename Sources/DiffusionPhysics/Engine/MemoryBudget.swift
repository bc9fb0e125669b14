import Foundation

/// The one place where run sizes are checked against memory before anything is allocated
/// (issue 13: "sizes checked before allocating").
///
/// Callers (dataset specs, each command's validation) describe what a run will hold as a list
/// of `Item`s — counts of float64 values, each named by the option that sets it — and `check`
/// compares the total with the memory this machine has available. Estimates are computed in
/// floating point, so 10¹² × 10¹² cannot overflow. A run that is too big fails with one line:
///
///     --count 1000000000000: needs ≈ 64 TB of memory; this machine has 23 GB available
///
/// Work that is merely long (small but slow) is not refused; it shows progress instead.
public enum MemoryBudget {
    /// One allocation of a run: `values` float64 numbers, attributed to `option` = `value`.
    public struct Item: Sendable {
        public var option: String
        public var value: String
        public var values: Double
        public init(option: String, value: CustomStringConvertible, values: Double) {
            self.option = option
            self.value = value.description
            self.values = values
        }
        public var bytes: Double { values * 8 }
    }

    /// Bytes this process may use: `DIFFPHYS_MEMORY` (bytes, for tests and shared machines) if
    /// set, else `MemAvailable` of /proc/meminfo, else the physical memory.
    public static var availableBytes: Double {
        if let text = ProcessInfo.processInfo.environment["DIFFPHYS_MEMORY"], let v = Double(text), v > 0 { return v }
        if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) {
            for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
                let parts = line.split(separator: " ")
                if parts.count >= 2, let kb = Double(parts[1]) { return kb * 1024 }
            }
        }
        return Double(ProcessInfo.processInfo.physicalMemory)
    }

    /// Checks `DIFFPHYS_MEMORY`: nil when unset or valid, else a message naming the bad value.
    public static func environmentProblem() -> String? {
        guard let text = ProcessInfo.processInfo.environment["DIFFPHYS_MEMORY"] else { return nil }
        if let v = Double(text), v > 0, v.isFinite { return nil }
        return "DIFFPHYS_MEMORY must be a number of bytes > 0, got '\(text)'"
    }

    /// Fraction of the available memory a run may plan to use.
    public static let usableFraction = 0.8

    /// Throws a one-line `ModelError` naming the largest item's option when the items together
    /// need more than `usableFraction` of the available memory (or any count is not finite).
    public static func check(_ items: [Item], available: Double = availableBytes) throws {
        let total = items.reduce(0) { $0 + $1.bytes }
        guard let largest = items.max(by: { $0.bytes < $1.bytes }) else { return }
        if !total.isFinite || total > usableFraction * available {
            throw ModelError("\(largest.option) \(largest.value): needs ≈ \(format(bytes: total)) of memory; "
                             + "this machine has \(format(bytes: available)) available", parameter: nil)
        }
    }

    /// `check` for one item.
    public static func check(option: String, value: CustomStringConvertible, values: Double) throws {
        try check([Item(option: option, value: value, values: values)])
    }

    /// A byte count with a decimal unit: "64 TB", "23 GB", "512 kB".
    public static func format(bytes: Double) -> String {
        guard bytes.isFinite else { return "more than can be counted" }
        let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
        var v = bytes, k = 0
        while v >= 1000 && k < units.count - 1 { v /= 1000; k += 1 }
        if k == units.count - 1 && v >= 1000 { return String(format: "%.0e B", bytes) }
        return v >= 100 || k == 0 ? String(format: "%.0f %@", v, units[k]) : String(format: "%.1f %@", v, units[k])
    }
}

extension DatasetSpec {
    /// float64 values held while loading this spec and building its engine (points, a copy in
    /// the engine, norms), or nil when the size is known only from the file.
    public var estimatedValues: Double? {
        switch self {
        case .gaussian(let d, let n, _), .gmm2(let d, let n, _, _, _):
            guard let n else { return Double(d) * 4 }
            return 2 * Double(n) * Double(d) + 2 * Double(n)
        case .fashionMNIST(let classes, let perClass, _, _):
            return 2 * Double(classes.count) * Double(perClass) * 784 + 60_000 * 784 / 8
        case .curieWeiss(let spins, _, let n, _):
            return 2 * Double(n) * Double(spins) + 2 * Double(n)
        case .digits, .file:
            return nil
        }
    }

    /// Checks the load against memory, naming `--data` (a 10¹²-point spec fails here, not in malloc).
    public func checkMemory(extra: [MemoryBudget.Item] = []) throws {
        var items = extra
        if let v = estimatedValues { items.append(MemoryBudget.Item(option: "--data", value: description, values: v)) }
        try MemoryBudget.check(items)
    }

    /// n and d when known without loading (gaussian/gmm2 with n, Fashion-MNIST); nil otherwise.
    public var knownShape: (n: Int, d: Int)? {
        switch self {
        case .gaussian(let d, let n, _), .gmm2(let d, let n, _, _, _): return n.map { ($0, d) }
        case .fashionMNIST(let classes, let perClass, _, _): return (classes.count * perClass, 784)
        case .digits(let classes, let perClass, _): return (classes.count * (perClass ?? 180), 64)
        case .curieWeiss(let spins, _, let n, _): return (n, spins)
        case .file: return nil
        }
    }
}
