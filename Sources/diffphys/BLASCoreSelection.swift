import Foundation
import GSLKit

/// Start-up choice of OpenBLAS kernels (README "Performance"): on a CPU that Debian's OpenBLAS
/// does not recognise it runs generic Prescott (SSE3) kernels; when the CPU has AVX2 + FMA or
/// AVX-512 the process re-executes itself once with `OPENBLAS_CORETYPE` set to Haswell or
/// SkylakeX (the library reads it only when it loads). The re-executed process verifies the
/// kernels with a small dgemm/sgemm self-check and falls back to the default with a warning if
/// it fails. A user's own `OPENBLAS_CORETYPE` is respected; `DIFFPHYS_BLAS_CORE=off` disables
/// the selection. The rule is `BLASCore.decide` (GSLKit), tested with a table of cases.
enum BLASCoreSelection {
    /// Called first thing in `DiffPhys.main`: returns when this process keeps its kernels.
    static func run() {
        BLASCore.selectAtStartup { message in
            FileHandle.standardError.write(Data("diffphys: warning: \(message)\n".utf8))
        }
    }
}
