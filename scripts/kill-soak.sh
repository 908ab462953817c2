#!/usr/bin/env bash
# kill -9 soak of `lstm train` (issue 13): trains a small forecaster on the shipped series, kills it with SIGKILL at a
# random moment, then checks the run directory:
#   - the next start (`lstm evaluate`) loads it (exit 0), and no temporary survives that start;
#   - the newest generation verifies against its manifest (sizes, CRC-32), and in it run.json's epochsTrained, the
#     history (epochs 1..n, none lost) and Adam's step count (n x steps per epoch) agree;
#   - the next `--resume` continues from there (the epoch count never goes back).
# After the kills, one `--resume --epochs 2` runs to the end and must add exactly two epochs.
#
# Usage: scripts/kill-soak.sh [KILLS_PER_DEVICE (default 25)] [DEVICES (default "cpu opencl")]
# Needs a built lstm (LSTM=path, default .build/release/lstm if present, else .build/debug/lstm) and python3.
set -u
cd "$(dirname "$0")/.."
KILLS=${1:-25}
DEVICES=${2:-"cpu opencl"}
LSTM=${LSTM:-$( [ -x .build/release/lstm ] && echo .build/release/lstm || echo .build/debug/lstm )}
LSTM=$(realpath "$LSTM")
WORK=$(mktemp -d /tmp/lstm-kill-soak.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
echo "lstm: $LSTM; work: $WORK; $KILLS kills per device on: $DEVICES"

check() {  # check DIR: prints "epochs steps" of the newest verified generation, or FAIL lines
python3 - "$1" <<'PY'
import json, os, re, struct, sys, zlib
d = sys.argv[1]
gens = sorted((n for n in os.listdir(d) if re.fullmatch(r"ckpt-\d{6}", n)), reverse=True)
for g in gens:
    gd = os.path.join(d, g)
    try:
        m = json.load(open(os.path.join(gd, "manifest.json")))
        ok = all(os.path.getsize(os.path.join(gd, f)) == e["size"] and
                 zlib.crc32(open(os.path.join(gd, f), "rb").read()) == e["crc32"] for f, e in m["files"].items())
    except Exception as e:
        ok = False
    if not ok:
        print("note: %s does not verify" % g, file=sys.stderr); continue
    run = json.load(open(os.path.join(gd, "run.json")))
    hist = json.load(open(os.path.join(gd, "history.json")))
    raw = open(os.path.join(gd, "optimizer.safetensors"), "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    a, b = header["iterations"]["data_offsets"]
    steps = struct.unpack("<d", raw[8 + n + a:8 + n + b])[0]
    epochs = run["epochsTrained"]
    if [h["epoch"] for h in hist] != list(range(1, epochs + 1)):
        print("FAIL history epochs %s vs run.json epochsTrained %d" % ([h["epoch"] for h in hist], epochs))
    if m["epochsTrained"] != epochs:
        print("FAIL manifest epochsTrained %d vs run.json %d" % (m["epochsTrained"], epochs))
    print(epochs, int(steps))
    sys.exit(0)
print("none")
PY
}

temporaries() { ls -A "$1" 2>/dev/null | grep -E '\.tmp$|\.lstm-tmp$|nosync' | wc -l; }

total_fail=0
for device in $DEVICES; do
    out="$WORK/$device"
    if [ "$device" = cpu ]; then lo=5; hi=150; else lo=100; hi=450; fi   # kill after lo..hi hundredths of a second
    kills=0; loaded=0; agreed=0; mid_write=0; tmp_survived=0; resumed_ok=0; no_ckpt=0; fails=0
    last_epochs=0; steps_per_epoch=""
    start=$(date +%s)
    for i in $(seq 1 "$KILLS"); do
        if [ -e "$out/checkpoint" ] || ls "$out" 2>/dev/null | grep -q '^ckpt-[0-9]*$'; then resume=(--resume); else resume=(); fi
        "$LSTM" train forecast --hidden 8 --window 12 --batch-size 32 --epochs 100000 --out "$out" --device "$device" --verbose 0 \
            "${resume[@]}" > "$WORK/train.log" 2>&1 &
        pid=$!
        sleep "$(awk -v lo=$lo -v hi=$hi -v r=$RANDOM 'BEGIN { printf "%.2f", (lo + (hi - lo) * r / 32767) / 100 }')"
        if ! kill -0 $pid 2>/dev/null; then echo "FAIL [$device #$i] train exited before the kill: $(tail -1 "$WORK/train.log")"; fails=$((fails+1)); continue; fi
        kill -9 $pid; wait $pid 2>/dev/null
        kills=$((kills+1))
        [ "$(temporaries "$out")" -gt 0 ] && mid_write=$((mid_write+1))
        if ! ls "$out" 2>/dev/null | grep -q '^ckpt-[0-9]*$'; then
            # Killed before the first commit: a run without a checkpoint; the next start must say so and clean up.
            "$LSTM" evaluate --model "$out" --device "$device" > "$WORK/eval.log" 2>&1
            no_ckpt=$((no_ckpt+1))
            [ "$(temporaries "$out")" -gt 0 ] && { tmp_survived=$((tmp_survived+1)); echo "FAIL [$device #$i] temporaries survived: $(ls -A "$out")"; }
            continue
        fi
        if "$LSTM" evaluate --model "$out" --device "$device" > "$WORK/eval.log" 2>&1; then loaded=$((loaded+1)); else
            echo "FAIL [$device #$i] evaluate: $(cat "$WORK/eval.log")"; fails=$((fails+1)); fi
        if [ "$(temporaries "$out")" -gt 0 ]; then tmp_survived=$((tmp_survived+1)); echo "FAIL [$device #$i] temporaries survived: $(ls -A "$out")"; fi
        result=$(check "$out")
        if echo "$result" | grep -q FAIL || [ "$result" = none ]; then echo "FAIL [$device #$i] $result"; fails=$((fails+1)); continue; fi
        read -r epochs steps <<< "$result"
        if [ "$epochs" -gt 0 ]; then
            per=$((steps / epochs))
            [ -z "$steps_per_epoch" ] && steps_per_epoch=$per
            if [ $((per * epochs)) -ne "$steps" ] || [ "$per" -ne "$steps_per_epoch" ]; then
                echo "FAIL [$device #$i] Adam steps $steps vs $epochs epochs x $steps_per_epoch"; fails=$((fails+1)); continue; fi
        fi
        if [ "$epochs" -lt "$last_epochs" ]; then echo "FAIL [$device #$i] epochs went back: $last_epochs -> $epochs"; fails=$((fails+1)); continue; fi
        [ ${#resume[@]} -gt 0 ] && resumed_ok=$((resumed_ok+1))
        last_epochs=$epochs
        agreed=$((agreed+1))
    done
    # --resume continues to the end.
    before=$last_epochs
    if "$LSTM" train forecast --hidden 8 --window 12 --batch-size 32 --epochs 2 --out "$out" --device "$device" --verbose 0 --resume > "$WORK/train.log" 2>&1; then
        read -r after steps <<< "$(check "$out")"
        final="final --resume --epochs 2: epochs $before -> $after, Adam steps $steps"
        [ "$after" -eq $((before + 2)) ] && [ "$steps" -eq $((after * steps_per_epoch)) ] || { echo "FAIL [$device] $final"; fails=$((fails+1)); }
    else final="final --resume FAILED: $(tail -1 "$WORK/train.log")"; fails=$((fails+1)); fi
    echo "[$device] kills $kills ($mid_write left temporaries, i.e. died while writing; $no_ckpt before the first commit); loaded $loaded;" \
         "state agreed $agreed (steps/epoch $steps_per_epoch); temporaries surviving the next start $tmp_survived; epochs reached $last_epochs;" \
         "$final; failures $fails; $(( $(date +%s) - start )) s"
    total_fail=$((total_fail + fails + tmp_survived))
done
[ $total_fail -eq 0 ] && echo "PASS" || { echo "FAILED ($total_fail)"; exit 1; }
