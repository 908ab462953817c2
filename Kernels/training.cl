// training.cl: placeholder, filled by the training-stack work (layers, losses, optimizers).
__kernel void training_placeholder(__global float *x) { }
