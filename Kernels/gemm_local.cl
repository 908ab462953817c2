// gemm_local.cl: placeholder, filled in by its work item.
