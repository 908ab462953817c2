// lstm_persistent.cl: the whole forward recurrence of one LSTM layer and direction in ONE launch, for small
// batches (a "persistent" kernel: one work-group per batch row loops over the time steps itself).
//
// B = batch, T = time steps, H = hidden size. Gate order is PyTorch's: i, f, g, o.
// Per step s (the reverse direction runs time t = len_b-1-s at step s) and batch row b it computes
//   r = h_{s-1} . W_hh^T   for all 4 gates (4H dot products of length H, each one fma chain over k = 0 ..< H)
// and then exactly lstm_cell_forward (lstm_cell.cl): a_q = gx[t,b,qH+j] + r[qH+j] (+ b_ih[qH+j] + b_hh[qH+j]),
// i, f, o = sigmoid, g = tanh, c = f * c_{s-1} + i * g (clamped to +-cell_clip when cell_clip > 0),
// h = o * tanh(c). It writes the same buffers as T launches of gemm + lstm_cell_forward, so the backward pass
// runs unchanged on them:
//   gx:     [T, B, 4H]    x . W_ih^T for all steps, by time (one gemm before this kernel, as now)
//   whh:    [4H, H]       W_hh in PyTorch's layout, at element offset offW
//   bias_ih, bias_hh: [4H] at offBih / offBhh, read only when has_bias != 0
//   hs, cs: [T+1, B, H]   by step; hs[0], cs[0] = h0, c0 (written by the host); past a sequence's length the
//                         state is carried unchanged
//   gates:  [T, B, 4H]    activated i, f, g, o, by step (not written past the length, as lstm_cell_forward)
//   y:      [T, B, ldy]   by time, this direction's H columns start at offY; 0 past the length
//   lengths:[B] int, 1 <= len <= T
//
// Batch rows are independent in the recurrence, so the work-groups never wait for each other (no global
// barrier: a kernel that needs one can hang, e.g. on PoCL, where work-groups run one after another). Inside a
// work-group, per step: (A) each work-item computes rows lid, lid+WG, ... of r into __local r_loc from
// __local h_loc = h_{s-1}; barrier; (B) each work-item runs the cell for units j = lid, lid+WG, ... and
// writes h_s into h_loc; barrier. A work-item always owns the same units j, so it reads back its own c_{s-1}
// from cs in global memory (no fence needed). (A) gives 4H-way parallelism, so small H still fills a warp or two.
//
// Activation math: common.cl's exp-based sigmoid and tanh, as lstm_cell.cl (about 1e-7 absolute error against
// libm), with common.cl's LSTMKIT_NATIVE_EXP, so this kernel and lstm_cell_forward agree to rounding.
// Tuning defines (each has a default so the file compiles alone; the host passes them from OpenCLTuning):
//   WG         work-group size (reqd_work_group_size; the host launches exactly WG per row). Default 256.
//   WHH_LOCAL  0/1: copy W_hh into __local memory once per launch, transposed to [H, 4H] so that the work-items
//              of (A) read consecutive addresses. The host sets 1 when 4*HMAX*HMAX floats fit its local-memory
//              budget (OpenCLTuning.persistentLocalBytes); otherwise (A) reads W_hh's rows from global memory
//              (through the cache: each work-item walks its own contiguous row). Default 0.
//   HMAX       capacity of the __local state arrays, >= H (the host passes H rounded up to a multiple of 8, so
//              nearby sizes share a program). Default 256. Local memory: (5*HMAX + WHH_LOCAL*4*HMAX^2) * 4 bytes.
//   LSTMKIT_NATIVE_EXP  0/1, common.cl's exp switch. Default 0.
// NDRange: global = (B * WG), local = (WG): work-group b is batch row b.
// Benchmark: preset S's recurrence (B 32, T 50, H 128), on the LSTM's forward, which takes this kernel up to
// LSTMKIT_PERSISTENT_MAX_BATCH: LSTMKIT_PERSISTENT_MAX_BATCH=64 lstm-bench --preset S
// (profile line "lstm_sequence_forward" against T x "gemm_NN" + "lstm_cell_forward"). It is meant for GPUs and
// small B, where a launch costs more than a step's work. On PoCL 3.1 (2 cores) it loses: 105 ms (WHH_LOCAL=0) and
// 210 ms (WHH_LOCAL=1) against 4.4 ms for the per-step loop, since PoCL runs a work-group's work-items as a loop
// and does not vectorize the row-per-work-item dot products; so it is off there (persistentMaxBatch = 0).

#ifndef WG
#define WG 256
#endif
#ifndef WHH_LOCAL
#define WHH_LOCAL 0
#endif
#ifndef HMAX
#define HMAX 256
#endif

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void lstm_sequence_forward(const int B, const int H, const int T, const int reverse,
                           __global const int *lengths,
                           __global const real *gx,
                           __global const real *whh, const int offW,
                           __global const real *bias_ih, const int offBih,
                           __global const real *bias_hh, const int offBhh, const int has_bias,
                           __global real *hs, __global real *cs, __global real *gates,
                           __global real *y, const int offY, const int ldy, const float cell_clip)
{
    const int lid = (int)get_local_id(0);
    const int b = (int)get_group_id(0);
    if (b >= B || H > HMAX) return;  // uniform per work-group: no barrier is skipped by part of a group
    const int G = 4 * H;
    const int len = lengths[b];
    __global const real *W = whh + offW;

    __local real h_loc[HMAX];       // h_{s-1}
    __local real r_loc[4 * HMAX];   // h_{s-1} . W_hh^T
#if WHH_LOCAL
    __local real w_loc[4 * HMAX * HMAX];  // W_hh^T [H, 4H]: w_loc[k * 4H + row]
    for (int e = lid; e < G * H; e += WG) {
        const int row = e / H, k = e - row * H;
        w_loc[k * G + row] = W[e];
    }
#define W_AT(row, k) w_loc[(k) * G + (row)]
#else
#define W_AT(row, k) W[(size_t)(row) * H + (k)]
#endif
    for (int j = lid; j < H; j += WG) h_loc[j] = hs[(size_t)b * H + j];
    barrier(CLK_LOCAL_MEM_FENCE);

    for (int s = 0; s < len; ++s) {
        // (A) r = h_{s-1} . W_hh^T
        for (int row = lid; row < G; row += WG) {
            real acc = 0.0f;
            for (int k = 0; k < H; ++k) acc = fma(W_AT(row, k), h_loc[k], acc);
            r_loc[row] = acc;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        // (B) the cell, as lstm_cell_forward's scalar path
        const int t = reverse ? len - 1 - s : s;
        const size_t prev = ((size_t)s * B + b) * H, next = prev + (size_t)B * H;
        __global const real *gxr = gx + ((size_t)t * B + b) * G;
        __global real *gs = gates + ((size_t)s * B + b) * G;
        __global real *yr = y + ((size_t)t * B + b) * ldy + offY;
        for (int j = lid; j < H; j += WG) {
            real a[4];
            for (int q = 0; q < 4; ++q) {
                const int col = q * H + j;
                a[q] = gxr[col] + r_loc[col];
                if (has_bias) a[q] += bias_ih[offBih + col] + bias_hh[offBhh + col];
            }
            const real i = lstmkit_sigmoid(a[0]);
            const real f = lstmkit_sigmoid(a[1]);
            const real g = lstmkit_tanh(a[2]);
            const real o = lstmkit_sigmoid(a[3]);
            real c = f * cs[prev + j] + i * g;
            if (cell_clip > 0.0f) c = clamp(c, -cell_clip, cell_clip);
            const real h = o * lstmkit_tanh(c);
            cs[next + j] = c;
            hs[next + j] = h;
            gs[j] = i; gs[H + j] = f; gs[2 * H + j] = g; gs[3 * H + j] = o;
            yr[j] = h;
            h_loc[j] = h;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    // Past the length: the state is carried (each work-item copies the units it wrote), the output is 0.
    if (len >= T) return;
    const size_t last = ((size_t)len * B + b) * H;
    for (int s = len; s < T; ++s) {
        const size_t next = ((size_t)(s + 1) * B + b) * H;
        __global real *yr = y + ((size_t)s * B + b) * ldy + offY;
        for (int j = lid; j < H; j += WG) {
            hs[next + j] = hs[last + j];
            cs[next + j] = cs[last + j];
            yr[j] = 0.0f;
        }
    }
}
