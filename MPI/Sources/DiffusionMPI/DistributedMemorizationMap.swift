import DiffusionPhysics
import Foundation

/// `MemorizationMap` across MPI ranks (README "MPI"): the same rows, the same resumable
/// `map.csv`, computed by K processes.
///
/// Work units are the (cell, time) rows still missing from `map.csv`, in the library's run order
/// (cells n outer, d inner; times as given), dealt round-robin: unit u goes to rank u mod K. Each
/// rank runs the library's own `MemorizationMap` restricted to its cell and times (a row depends
/// only on (seed, n, d, t), so it is the same row) into its own resumable file under
/// `DIR/mpi-ranks/rank-R/`. When every rank is done, rank 0 appends the rows to `map.csv` in the
/// single-process order, reads the file back through `MemorizationMap.run` (which then has
/// nothing left to compute) and removes the per-rank files. An interrupted MPI run resumes from
/// the per-rank files; a `map.csv` from a single-process run resumes too. The output directory
/// must be shared by the ranks (as a cluster's home or scratch file system is).
public struct DistributedMemorizationMap {
    public let map: MemorizationMap
    public let mpi: MPIHandle

    public init(map: MemorizationMap, mpi: MPIHandle) {
        self.map = map
        self.mpi = mpi
    }

    /// One missing row: cell index, time, owning rank.
    struct Unit { var cell: Int; var t: Double; var owner: Int }

    /// Runs the sweep into `directory/map.csv`. Returns every row (file order) on rank 0, nil on
    /// the others. `failOnRank` injects a failure on that rank (tests of the failure path).
    /// Collective; a rank that throws must end the run (`MPIHandle.abort`).
    public func run(directory: String, failOnRank: Int? = nil) throws -> [MemorizationMapRow]? {
        let csvPath = (directory as NSString).appendingPathComponent("map.csv")
        let work = (directory as NSString).appendingPathComponent("mpi-ranks")
        // Rank 0 creates map.csv (or checks its samples and seed) through the library.
        if mpi.isRoot { _ = try map.run(csvPath: csvPath, stopAfter: 0) }
        mpi.barrier()

        let units = try missingUnits(csvPath: csvPath)
        if failOnRank == mpi.rank { throw ModelError("injected failure (--fail-on-rank \(mpi.rank))") }
        for (cellIndex, cell) in map.cells.enumerated() {
            let mine = units.filter { $0.cell == cellIndex && $0.owner == mpi.rank }.map(\.t)
            if mine.isEmpty { continue }
            let part = try MemorizationMap(spec: map.spec, ns: [cell.n], ds: cell.d.map { [$0] }, times: mine,
                                           samples: map.samples, seed: map.seed, threads: map.threads)
            try part.run(csvPath: Self.partPath(work, rank: mpi.rank, cell: cellIndex))
        }
        mpi.barrier()

        guard mpi.isRoot else {
            mpi.barrier()
            return nil
        }
        let csv = try ResumableCSV(path: csvPath, header: MemorizationMapRow.header)
        var parts: [String: [UInt64: [String]]] = [:]
        for unit in units {
            let path = Self.partPath(work, rank: unit.owner, cell: unit.cell)
            if parts[path] == nil {
                let rows = try ResumableCSV(path: path, header: MemorizationMapRow.header).existingRows
                parts[path] = Dictionary(rows.compactMap { r in r.count > 3 ? Double(r[3]).map { ($0.bitPattern, r) } : nil },
                                         uniquingKeysWith: { a, _ in a })
            }
            guard let row = parts[path]?[unit.t.bitPattern] else {
                throw ModelError("rank \(unit.owner) left no row for cell \(unit.cell), t = \(unit.t) in \(path)")
            }
            try csv.append(row.map { CSVValue.text($0) })
        }
        let rows = try map.run(csvPath: csvPath)
        try? FileManager.default.removeItem(atPath: work)
        mpi.barrier()
        return rows
    }

    static func partPath(_ work: String, rank: Int, cell: Int) -> String {
        "\(work)/rank-\(rank)/cell-\(cell).csv"
    }

    /// The rows missing from map.csv, in run order, with their owners. A row of map.csv is
    /// identified by (n, d, t) — by (n, t) when the map keeps the data's own d (one d per n).
    func missingUnits(csvPath: String) throws -> [Unit] {
        let text = (try? String(contentsOfFile: csvPath, encoding: .utf8)) ?? ""
        var done = Set<String>()
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            guard f.count > 3, let t = Double(f[3]) else { continue }
            done.insert("\(f[0]),\(f[1]),\(t.bitPattern)")
            done.insert("\(f[0]),*,\(t.bitPattern)")
        }
        var units: [Unit] = []
        for (cellIndex, cell) in map.cells.enumerated() {
            for t in map.times {
                let key = "\(cell.n),\(cell.d.map(String.init) ?? "*"),\(t.bitPattern)"
                if done.contains(key) { continue }
                units.append(Unit(cell: cellIndex, t: t, owner: units.count % mpi.size))
            }
        }
        return units
    }
}
