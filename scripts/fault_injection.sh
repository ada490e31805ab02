#!/usr/bin/env bash
# Fault injection on the `cle` binary: signals at several moments of an equalize (and of inspect
# and pairs), a full disk, two runs writing one output. One line per case: what was done, the exit
# status and what was left. Usage: scripts/fault_injection.sh CLE
# Needs python3 with h5py and numpy (PYTHON=... to choose one); the disk-full cases need root (they
# mount small tmpfs file systems on $MNT, default /mnt/cle-faults).
set -uo pipefail
cle=$(realpath "${1:?usage: fault_injection.sh CLE}")
python=${PYTHON:-python3}
dir=$(mktemp -d)
mnt=${MNT:-/mnt/cle-faults}
trap 'mountpoint -q "$mnt" && umount "$mnt"; rm -rf "$dir"' EXIT
cd "$dir" || exit 1

"$python" - <<'PY'
import h5py, numpy as np
r = np.random.default_rng(0)
with h5py.File("big.h5", "w") as f:  # 4 x 2560^2 float32: 105 MB
    for i in range(4):
        f["fc%d.weight" % i] = r.standard_normal((2560, 2560)).astype("f4")
with h5py.File("gz.h5", "w") as f:  # chunked gzip: the equalized chunks need new space
    for name, (o, i) in (("fc1", (128, 64)), ("fc2", (128, 128))):
        w = r.integers(-3, 4, size=(o, i)).astype("f4") * (2.0 ** r.integers(-4, 4, size=(o, 1)))
        f.create_dataset(name + ".weight", data=w.astype("f4"), chunks=(32, 32), compression="gzip")
        f.create_dataset(name + ".bias", data=r.standard_normal(o).astype("f4"))
PY
base=(equalize big.h5 -o out.h5 --report r.json --pairs fc0,fc1,fc2,fc3 --max-sweeps 3 -q)
run=("${base[@]}" --force)
input_sum=$(sha256sum big.h5 | cut -c1-64)

left() {  # what is in the directory besides the input: old / new output, report, temporaries
    local out="no output"
    if [ -f out.h5 ]; then
        if [ "$(cat out.h5 2>/dev/null | head -c 3)" = "old" ]; then out="old output"
        elif cmp -s out.h5 fresh.h5; then out="complete new output"
        else out="OUTPUT DIFFERS"; fi
    fi
    local report="no report"; [ -f r.json ] && report="report"
    local temps; temps=$(find . -maxdepth 1 -name '.*.cle-tmp-*' | wc -l)
    local input="input untouched"
    [ "$(sha256sum big.h5 | cut -c1-64)" = "$input_sum" ] || input="INPUT CHANGED"
    echo "$out, $report, $temps temporary file(s), $input"
}

start=$(date +%s.%N)
"$cle" "${run[@]}" > /dev/null 2>&1
whole=$(echo "$(date +%s.%N) - $start" | bc)
cp out.h5 fresh.h5
echo "equalize of a 105 MB file alone: $(printf %.2f "$whole") s"
for sig in INT TERM KILL; do
    for fraction in 0.02 0.2 0.5 0.8 0.9 0.97; do
        echo old > out.h5
        rm -f r.json
        "$cle" "${run[@]}" > /dev/null 2>&1 &
        pid=$!
        sleep "$(echo "$whole * $fraction" | bc)"
        kill -"$sig" "$pid"
        wait "$pid"
        code=$?
        echo "SIG$sig at $fraction of the run: exit $code; $(left)"
    done
    if [ "$sig" = KILL ]; then
        "$cle" "${run[@]}" > /dev/null 2>&1
        echo "  next run to out.h5: exit $?; $(left)"
    fi
done
mkfifo fifo.h5
for command in inspect pairs; do
    for sig in INT TERM; do
        "$cle" "$command" fifo.h5 > /dev/null 2>&1 &
        pid=$!
        sleep 0.3
        kill -"$sig" "$pid"
        wait "$pid"
        echo "$command of a FIFO nobody writes, one SIG$sig: exit $?"
    done
done

if mkdir -p "$mnt" && mount -t tmpfs -o size=2m tmpfs "$mnt" 2>/dev/null; then
    for free_kb in 8 24 32 40 48 200; do
        rm -rf "${mnt:?}"/* "$mnt"/.??* 2>/dev/null
        avail=$(df -B1024 --output=avail "$mnt" | tail -1)
        fallocate -l $(((avail - free_kb) * 1024)) "$mnt/filler"
        "$cle" equalize gz.h5 -o "$mnt/out.h5" --report "$mnt/r.json" --pairs fc1,fc2 -q \
            > /dev/null 2> err
        code=$?
        state=$(ls -A "$mnt" | grep -v '^filler$' | tr '\n' ' ')
        echo "disk full, ${free_kb} KB free: exit $code; left: ${state:-nothing}; $(head -c 110 err)"
    done
    umount "$mnt"
    mount -t tmpfs -o size=60m tmpfs "$mnt"
    "$cle" equalize big.h5 -o "$mnt/out.h5" --pairs fc0,fc1 --max-sweeps 1 -q > /dev/null 2> err
    code=$?
    state=$(ls -A "$mnt" | tr '\n' ' ')
    echo "disk full, 60 MB for a 105 MB output: exit $code; left: ${state:-nothing}; $(head -c 110 err)"
    umount "$mnt"
else
    echo "disk full: skipped (mounting a tmpfs needs root)"
fi

for force in "" --force; do
    for offset in 0.00 0.05 0.2 0.5; do
        rm -f out.h5 r.json
        "$cle" "${base[@]}" $force > /dev/null 2> e1 &
        a=$!
        sleep "$offset"
        "$cle" "${base[@]}" $force > /dev/null 2> e2 &
        b=$!
        wait "$a"; ca=$?
        wait "$b"; cb=$?
        echo "two runs ${force:-without --force} ${offset} s apart: exits $ca $cb; $(left)"
    done
done
