// A small C shim over Open MPI, loaded at run time with dlopen (libmpi.so.40), so that LSTMKit and `lstm`
// have no link dependency on MPI: without Open MPI installed, or outside mpirun, a process is rank 0 of 1.
// mpi.h expresses its handles as macros over global symbols (MPI_COMM_WORLD is &ompi_mpi_comm_world), which
// Swift cannot import; this shim resolves those symbols with dlsym and exposes plain C functions.
// Every collective is non-blocking (MPI_I*) and polled with MPI_Test against a deadline, so a dead or
// stuck peer gives LK_MPI_TIMEOUT instead of a hang. The communicator uses MPI_ERRORS_RETURN.
#ifndef LK_MPI_H
#define LK_MPI_H
#ifdef __cplusplus
extern "C" {
#endif

#define LK_MPI_TIMEOUT (-1000)
#define LK_MPI_NOT_LOADED (-1001)
#define LK_MPI_TOO_LARGE (-1002)
#define LK_MPI_FLOAT 0
#define LK_MPI_DOUBLE 1
#define LK_MPI_BYTE 2
#define LK_MPI_SUM 0
#define LK_MPI_MAX 1
#define LK_MPI_MIN 2

/// dlopen's libmpi (RTLD_GLOBAL, as Open MPI's plugins need). 0 on success; otherwise `message` says why.
int lk_mpi_load(char *message, int length);
/// MPI_Init (if not yet initialized), MPI_ERRORS_RETURN on MPI_COMM_WORLD, then rank and size.
int lk_mpi_init(int *rank, int *size);
/// In-place all-reduce of `count` elements; polls until done or `timeout` seconds passed.
int lk_mpi_allreduce(void *buffer, long count, int datatype, int op, double timeout);
int lk_mpi_bcast(void *buffer, long bytes, int root, double timeout);
int lk_mpi_barrier(double timeout);
void lk_mpi_error_string(int code, char *message, int length);
int lk_mpi_finalize(void);
void lk_mpi_abort(int code);

#ifdef __cplusplus
}
#endif
#endif
