#!/bin/sh
# Runs the three Keras tutorials and their LSTMKit ports over seeds 0 1 2 and prints both sides' test metrics.
#   KERAS_BACKEND=tensorflow Examples/Tutorials/run_all.sh [cpu|opencl]
set -e
cd "$(dirname "$0")"
[ -f data/text_train_x.npy ] || python3 make_data.py
for t in text_classification regression random_labels; do
    for s in 0 1 2; do echo "keras $t seed $s $(KERAS_BACKEND=${KERAS_BACKEND:-tensorflow} python3 $t.py $s 2>/dev/null | tail -1)"; done
done
cd ../..
swift run -c release tutorials --device "${1:-cpu}"
