#!/usr/bin/env bash
# The gVisor findings (docs/implementations/gvisor.md): every trace of
# corpus/traces/gvisor carries the live kernel's answers (test_corpus replays
# them on model, naive and kernel); here each is replayed on the gvisor target
# (runsc do mmref-kernel), which must still show its difference: exit 1 with
# at least one "gvisor gave" line. A trace that starts to hold means gVisor
# changed: the finding is to be re-checked. Skips (77) where runsc is absent
# or cannot run a sandbox here (it needs root).
#   tests/gvisor.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
build="$1"; src="$2"
mmref="$build/mmref"
command -v runsc >/dev/null || [ -n "${MMREF_RUNSC:-}" ] || { echo "SKIP: runsc is not installed (apt-get install runsc)"; exit 77; }
probe=$(printf 'mmtrace 1\nmmap +0 4K rw- private,anonymous,fixed\n' > "${TMPDIR:-/tmp}/gv-probe.$$.trace"; \
        "$mmref" replay --target gvisor "${TMPDIR:-/tmp}/gv-probe.$$.trace" 2>&1); prc=$?
rm -f "${TMPDIR:-/tmp}/gv-probe.$$.trace"
[ $prc -eq 0 ] || { echo "SKIP: the gvisor target does not start here (exit $prc): $probe"; exit 77; }
fail=0; n=0
for t in "$src"/corpus/traces/gvisor/*.trace; do
  out=$("$mmref" replay --target gvisor "$t" 2>&1); rc=$?
  n=$((n + 1))
  if [ $rc -eq 1 ] && grep -q "gvisor gave" <<<"$out"; then
    echo "ok $(basename "$t"): $(echo "$out" | grep -m1 "gvisor gave" | sed 's/^[^ ]* //')"
  else
    echo "FAIL $(basename "$t"): exit $rc (expected 1, the finding's difference)"; echo "$out" | head -5; fail=1
  fi
done
echo "gvisor: $n findings replayed"
# mmref shrink --ignore: without the page states (gVisor has no pagemap) the
# shrinker reaches the finding (mseal's ENOSYS) instead of stopping at the
# mmap, whose pages the model says are none and gVisor '?'.
sh=$("$mmref" shrink -q --targets model,gvisor --ignore pages,pf "$src/corpus/traces/gvisor/mseal-enosys.trace" 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q "model-gvisor-mseal-result-difference: shrunk by mmref shrink --ignore pages,pf" <<<"$sh"; then
  echo "ok shrink --ignore pages,pf: $(grep -vc '^#\|^mmtrace\|^mmref' <<<"$sh") statement(s) left, the mseal"
else
  echo "FAIL shrink --ignore pages,pf: exit $rc"; echo "$sh" | head -8; fail=1
fi
# ci/gvisor-campaign smoke: 30 generated traces (seed 20000) whose every
# first divergence belongs to a known finding; a new kind of difference, or a
# change in gVisor that the classification does not know, fails here.
cdir="${TMPDIR:-/tmp}/gv-campaign.$$"
if "$src/ci/gvisor-campaign" --build "$build" --gen 30 --seed 20000 --dir "$cdir" > "$cdir.out" 2>&1; then
  echo "ok ci/gvisor-campaign --gen 30 --seed 20000: $(grep -m1 'by finding' "$cdir.out")"
else
  echo "FAIL ci/gvisor-campaign --gen 30 --seed 20000:"; cat "$cdir.out"; fail=1
fi
rm -rf "$cdir" "$cdir.out"
[ $(runsc list 2>/dev/null | wc -l) -le 1 ] || echo "note: runsc list shows sandboxes left over"
exit $fail
