#!/usr/bin/env bash
# The version targets (docs/versions.md): boots vm:6.1 and vm:6.12 once each
# and checks, on a short slice of corpus/traces/versions/VERSION, that the
# guest announces its version and that the model, the naive oracle and the
# booted kernel agree. Skips (77) naming what is missing: qemu-system-x86,
# the kernel images (ci/setup-vms), mmref-kernel-static.
#   tests/versions.sh BUILD_DIR SOURCE_DIR [SLICE]
set -uo pipefail
build="$1"; src="$2"; slice="${3:-6}"
mmref="$build/mmref"
command -v qemu-system-x86_64 >/dev/null || { echo "SKIP: no qemu-system-x86_64 (ci/setup-vms installs qemu-system-x86)"; exit 77; }
[ -x "$build/mmref-kernel-static" ] || { echo "SKIP: no $build/mmref-kernel-static (needs static libc and glib)"; exit 77; }
kernels="${MMREF_KERNELS:-$HOME/.cache/mmref/kernels}"
ran=0; fail=0
for v in 6.1 6.12; do
  if [ ! -f "$kernels/$v/vmlinuz" ]; then echo "SKIP vm:$v: no kernel image at $kernels/$v/vmlinuz (run ci/setup-vms)"; continue; fi
  traces=$(ls "$src/corpus/traces/versions/$v"/*.trace 2>/dev/null | sort -V | head -n "$slice")
  [ -n "$traces" ] || { echo "SKIP vm:$v: no traces in corpus/traces/versions/$v"; continue; }
  start=$(date +%s.%N)
  out=$("$mmref" diff --targets "model,naive,vm:$v" $traces 2>&1); rc=$?
  end=$(date +%s.%N)
  echo "$out" | tail -3
  echo "vm:$v: $(echo "$traces" | wc -w) traces in $(echo "$end - $start" | bc) s (boot included), exit $rc"
  echo "$out" | grep -q "announced profile kernel=$v " || { echo "FAIL vm:$v: did not announce kernel=$v"; fail=1; }
  [ $rc -eq 0 ] || { echo "FAIL vm:$v: diverged"; fail=1; }
  ran=1
done
[ $ran -eq 1 ] || exit 77
exit $fail
