import CMPI
import Foundation

/// The process's MPI session over MPI_COMM_WORLD: the ONE file of the MPI package that touches
/// pointers (MPI's C calls take buffers). Everything else talks to MPI through this type.
///
/// Collectives are blocking and must be called by every rank in the same order. A rank that
/// fails calls `abort(_:)`: the message goes to stderr and `MPI_Abort` ends every rank, so
/// `mpirun`/`srun` exits non-zero.
public final class MPIHandle: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    private var finalized = false

    /// `MPI_Init` (once per process). Call `finalize()` before exiting normally.
    public init() {
        var initialized: Int32 = 0
        MPI_Initialized(&initialized)
        if initialized == 0 { MPI_Init(nil, nil) }
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(diffphys_mpi_comm_world(), &r)
        MPI_Comm_size(diffphys_mpi_comm_world(), &s)
        rank = Int(r)
        size = Int(s)
    }

    public var isRoot: Bool { rank == 0 }

    public func finalize() {
        guard !finalized else { return }
        finalized = true
        MPI_Finalize()
    }

    public func barrier() { MPI_Barrier(diffphys_mpi_comm_world()) }

    /// Seconds since an arbitrary origin (`MPI_Wtime`).
    public func wallTime() -> Double { MPI_Wtime() }

    /// Element-wise maximum over ranks, in place (every rank gets the result).
    public func allReduceMax(_ values: inout [Double]) { allReduce(&values, op: diffphys_mpi_max()) }

    /// Element-wise sum over ranks, in place (every rank gets the result).
    public func allReduceSum(_ values: inout [Double]) { allReduce(&values, op: diffphys_mpi_sum()) }

    private func allReduce(_ values: inout [Double], op: MPI_Op) {
        guard !values.isEmpty else { return }
        let count = Int32(values.count)
        values.withUnsafeMutableBufferPointer { buffer in
            _ = MPI_Allreduce(diffphys_mpi_in_place(), buffer.baseAddress, count, diffphys_mpi_double(), op,
                              diffphys_mpi_comm_world())
        }
    }

    /// Prints "diffphys-mpi: rank R of K: message" to stderr and ends every rank with `code`.
    public func abort(_ message: String, code: Int32 = 1) -> Never {
        FileHandle.standardError.write(Data("diffphys-mpi: rank \(rank) of \(size): \(message)\n".utf8))
        MPI_Abort(diffphys_mpi_comm_world(), code)
        exit(code)
    }
}
