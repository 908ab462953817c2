// Embeds the .cl files into the binary (C23 #embed), so a copied binary still finds its kernels.
// The one list of kernel files: a new Kernels/*.cl gets an #embed and a row of `files` here. Package.swift
// excludes every Kernels/*.cl from the C target by listing the folder, and ProgramCacheTests checks that the
// .cl files on disk and this list are the same set, byte for byte, and that each compiles.
#include "LSTMKitKernels.h"
#include <string.h>
#pragma clang diagnostic ignored "-Wc23-extensions"

static const char common_cl[] = {
#embed "common.cl"
, 0 };
static const char gemm_cl[] = {
#embed "gemm.cl"
, 0 };
static const char gemm_local_cl[] = {
#embed "gemm_local.cl"
, 0 };
static const char lstm_cell_cl[] = {
#embed "lstm_cell.cl"
, 0 };
static const char lstm_variants_cl[] = {
#embed "lstm_variants.cl"
, 0 };
static const char lstm_persistent_cl[] = {
#embed "lstm_persistent.cl"
, 0 };
static const char gru_cell_cl[] = {
#embed "gru_cell.cl"
, 0 };
static const char elementwise_cl[] = {
#embed "elementwise.cl"
, 0 };
static const char training_cl[] = {
#embed "training.cl"
, 0 };
static const char conv_cl[] = {
#embed "conv.cl"
, 0 };
static const char pooling_cl[] = {
#embed "pooling.cl"
, 0 };
static const char inference_cl[] = {
#embed "inference.cl"
, 0 };

static const struct { const char *name, *source; } files[] = {
    {"common.cl", common_cl}, {"gemm.cl", gemm_cl}, {"gemm_local.cl", gemm_local_cl}, {"lstm_cell.cl", lstm_cell_cl},
    {"lstm_variants.cl", lstm_variants_cl}, {"lstm_persistent.cl", lstm_persistent_cl}, {"gru_cell.cl", gru_cell_cl},
    {"elementwise.cl", elementwise_cl}, {"training.cl", training_cl},
    {"conv.cl", conv_cl}, {"pooling.cl", pooling_cl},
    {"inference.cl", inference_cl},
};
enum { file_count = sizeof files / sizeof files[0] };

const char *lstmkit_kernel_source(const char *name) {
    for (int i = 0; i < file_count; ++i)
        if (strcmp(name, files[i].name) == 0) return files[i].source;
    return 0;
}

int lstmkit_kernel_file_count(void) { return file_count; }

const char *lstmkit_kernel_file_name(int i) { return i >= 0 && i < file_count ? files[i].name : 0; }
