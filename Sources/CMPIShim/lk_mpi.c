#define _GNU_SOURCE
#include "lk_mpi.h"
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

// Open MPI 4.x ABI (libmpi.so.40): handles are pointers, MPI_SUCCESS is 0, MPI_IN_PLACE is (void *)1.
typedef void *Handle;
#define IN_PLACE ((void *)1)

static void *lib;
static Handle comm_world, dt_float, dt_double, dt_byte, op_sum, op_max, op_min, errors_return;
static int (*p_init)(int *, char ***);
static int (*p_initialized)(int *);
static int (*p_finalized)(int *);
static int (*p_finalize)(void);
static int (*p_abort)(Handle, int);
static int (*p_comm_rank)(Handle, int *);
static int (*p_comm_size)(Handle, int *);
static int (*p_set_errhandler)(Handle, Handle);
static int (*p_iallreduce)(const void *, void *, int, Handle, Handle, Handle, Handle *);
static int (*p_ibcast)(void *, int, Handle, int, Handle, Handle *);
static int (*p_ibarrier)(Handle, Handle *);
static int (*p_test)(Handle *, int *, void *);
static int (*p_error_string)(int, char *, int *);

int lk_mpi_load(char *message, int length) {
    if (lib) return 0;
    const char *names[] = {"libmpi.so.40", "libmpi.so"};
    for (int i = 0; i < 2 && !lib; i++) lib = dlopen(names[i], RTLD_NOW | RTLD_GLOBAL);
    if (!lib) { snprintf(message, length, "cannot load libmpi.so.40 (Open MPI 4): %s", dlerror()); return LK_MPI_NOT_LOADED; }
#define SYM(var, name) do { *(void **)&var = dlsym(lib, name); \
        if (!var) { snprintf(message, length, "libmpi has no symbol %s (not Open MPI 4?)", name); lib = NULL; return LK_MPI_NOT_LOADED; } } while (0)
    SYM(comm_world, "ompi_mpi_comm_world"); SYM(dt_float, "ompi_mpi_float"); SYM(dt_double, "ompi_mpi_double");
    SYM(dt_byte, "ompi_mpi_byte"); SYM(op_sum, "ompi_mpi_op_sum"); SYM(op_max, "ompi_mpi_op_max"); SYM(op_min, "ompi_mpi_op_min");
    SYM(errors_return, "ompi_mpi_errors_return");
    SYM(p_init, "MPI_Init"); SYM(p_initialized, "MPI_Initialized"); SYM(p_finalized, "MPI_Finalized");
    SYM(p_finalize, "MPI_Finalize"); SYM(p_abort, "MPI_Abort");
    SYM(p_comm_rank, "MPI_Comm_rank"); SYM(p_comm_size, "MPI_Comm_size"); SYM(p_set_errhandler, "MPI_Comm_set_errhandler");
    SYM(p_iallreduce, "MPI_Iallreduce"); SYM(p_ibcast, "MPI_Ibcast"); SYM(p_ibarrier, "MPI_Ibarrier");
    SYM(p_test, "MPI_Test"); SYM(p_error_string, "MPI_Error_string");
#undef SYM
    return 0;
}

int lk_mpi_init(int *rank, int *size) {
    if (!lib) return LK_MPI_NOT_LOADED;
    int flag = 0, rc;
    if ((rc = p_initialized(&flag))) return rc;
    if (!flag && (rc = p_init(NULL, NULL))) return rc;
    if ((rc = p_set_errhandler(comm_world, errors_return))) return rc;
    if ((rc = p_comm_rank(comm_world, rank))) return rc;
    return p_comm_size(comm_world, size);
}

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

/// Polls `request` until it completes or `timeout` seconds pass: spins first, then sleeps up to 200 us.
static int wait_for(Handle *request, double timeout) {
    double deadline = now() + timeout;
    long polls = 0;
    for (;;) {
        int done = 0, rc = p_test(request, &done, NULL);
        if (rc) return rc;
        if (done) return 0;
        if (++polls > 2000) {
            if (now() > deadline) return LK_MPI_TIMEOUT;
            long ns = polls > 20000 ? 200000 : 20000;
            struct timespec t = {0, ns};
            nanosleep(&t, NULL);
        }
    }
}

int lk_mpi_allreduce(void *buffer, long count, int datatype, int op, double timeout) {
    if (!lib) return LK_MPI_NOT_LOADED;
    if (count < 0 || count > INT_MAX) return LK_MPI_TOO_LARGE;
    Handle dt = datatype == LK_MPI_DOUBLE ? dt_double : datatype == LK_MPI_FLOAT ? dt_float : dt_byte;
    Handle o = op == LK_MPI_MAX ? op_max : op == LK_MPI_MIN ? op_min : op_sum;
    Handle request = NULL;
    int rc = p_iallreduce(IN_PLACE, buffer, (int)count, dt, o, comm_world, &request);
    return rc ? rc : wait_for(&request, timeout);
}

int lk_mpi_bcast(void *buffer, long bytes, int root, double timeout) {
    if (!lib) return LK_MPI_NOT_LOADED;
    if (bytes < 0 || bytes > INT_MAX) return LK_MPI_TOO_LARGE;
    Handle request = NULL;
    int rc = p_ibcast(buffer, (int)bytes, dt_byte, root, comm_world, &request);
    return rc ? rc : wait_for(&request, timeout);
}

int lk_mpi_barrier(double timeout) {
    if (!lib) return LK_MPI_NOT_LOADED;
    Handle request = NULL;
    int rc = p_ibarrier(comm_world, &request);
    return rc ? rc : wait_for(&request, timeout);
}

void lk_mpi_error_string(int code, char *message, int length) {
    if (code == LK_MPI_TIMEOUT) { snprintf(message, length, "timed out"); return; }
    if (code == LK_MPI_NOT_LOADED) { snprintf(message, length, "libmpi is not loaded"); return; }
    if (code == LK_MPI_TOO_LARGE) { snprintf(message, length, "more than 2^31-1 elements in one call"); return; }
    char text[512]; int n = 0;
    if (lib && p_error_string(code, text, &n) == 0) snprintf(message, length, "%.*s", n, text);
    else snprintf(message, length, "MPI error %d", code);
}

int lk_mpi_finalize(void) {
    if (!lib) return 0;
    int done = 0;
    p_finalized(&done);
    return done ? 0 : p_finalize();
}

void lk_mpi_abort(int code) { if (lib) p_abort(comm_world, code); }
