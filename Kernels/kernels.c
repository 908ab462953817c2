// Embeds the .cl files into the binary (C23 #embed), so a copied binary still finds its kernels.
#include "LSTMKitKernels.h"
#include <string.h>
#pragma clang diagnostic ignored "-Wc23-extensions"

static const char gemm_cl[] = {
#embed "gemm.cl"
, 0 };
static const char lstm_cell_cl[] = {
#embed "lstm_cell.cl"
, 0 };
static const char elementwise_cl[] = {
#embed "elementwise.cl"
, 0 };
static const char training_cl[] = {
#embed "training.cl"
, 0 };
static const char gru_cell_cl[] = {
#embed "gru_cell.cl"
, 0 };

static const char lstm_variants_cl[] = {
#embed "lstm_variants.cl"
, 0 };

static const char gemm_local_cl[] = {
#embed "gemm_local.cl"
, 0 };

static const char lstm_persistent_cl[] = {
#embed "lstm_persistent.cl"
, 0 };

const char *lstmkit_kernel_source(const char *name) {
    if (strcmp(name, "gemm.cl") == 0) return gemm_cl;
    if (strcmp(name, "lstm_cell.cl") == 0) return lstm_cell_cl;
    if (strcmp(name, "elementwise.cl") == 0) return elementwise_cl;
    if (strcmp(name, "training.cl") == 0) return training_cl;
    if (strcmp(name, "gru_cell.cl") == 0) return gru_cell_cl;
    if (strcmp(name, "lstm_variants.cl") == 0) return lstm_variants_cl;
    if (strcmp(name, "gemm_local.cl") == 0) return gemm_local_cl;
    if (strcmp(name, "lstm_persistent.cl") == 0) return lstm_persistent_cl;
    return 0;
}
