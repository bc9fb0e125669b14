// Open MPI's C interface. MPI_COMM_WORLD, MPI_DOUBLE, MPI_SUM, MPI_MAX and MPI_IN_PLACE are
// macros over global objects, which Swift cannot import: static inline getters expose them.
#include <mpi.h>

static inline MPI_Comm diffphys_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype diffphys_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype diffphys_mpi_char(void) { return MPI_CHAR; }
static inline MPI_Op diffphys_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op diffphys_mpi_max(void) { return MPI_MAX; }
static inline void *diffphys_mpi_in_place(void) { return MPI_IN_PLACE; }
