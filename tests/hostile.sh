#!/usr/bin/env bash
# Hostile input at the command line (issue 12, docs/security.md): invalid
# traces exit 2 with FILE:LINE: error, limits refuse naming their option,
# --timeout and --length are bounded, file names cannot inject statements,
# --report on a huge arena finishes and prints the text finding, and memory
# is bounded (run inside a memory cgroup, or under ulimit -v). The campaign's
# process ownership is checked by tests/campaign.sh.
#   tests/hostile.sh BUILD_DIR
set -uo pipefail
build=${1:?usage: tests/hostile.sh BUILD_DIR}
mm=$build/mmref
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
pass() { echo "ok   $1"; }
fail() { echo "FAIL $1${2:+: $2}"; failed=1; }

# expect_invalid NAME TRACE_TEXT LINE WHAT [OPTIONS...]: exit 2 and
# "FILE:LINE: error: ...WHAT..." on stderr.
expect_invalid() {
  local name=$1 text=$2 line=$3 what=$4; shift 4
  printf '%b' "$text" >"$work/$name.trace"
  local err rc
  err=$("$mm" replay "$@" "$work/$name.trace" 2>&1 >/dev/null); rc=$?
  if [ $rc -eq 2 ] && grep -qF "$work/$name.trace:$line: error:" <<<"$err" && grep -qF -- "$what" <<<"$err"; then
    pass "$name"
  else
    fail "$name" "exit $rc: $err"
  fi
}

# Runs "$@" with at most MB megabytes: a memory cgroup (v2, else v1) or
# ulimit -v. Returns the command's status; 137 when the kernel killed it.
mem_jail() {
  local mb=$1; shift
  local cg=""
  if [ -w /sys/fs/cgroup/cgroup.subtree_control ] && grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    cg=/sys/fs/cgroup/mmref-hostile-$$
    mkdir -p "$cg" && echo $((mb << 20)) >"$cg/memory.max" && echo 0 >"$cg/memory.swap.max" 2>/dev/null
  elif [ -w /sys/fs/cgroup/memory ]; then
    cg=/sys/fs/cgroup/memory/mmref-hostile-$$
    mkdir -p "$cg" && echo $((mb << 20)) >"$cg/memory.limit_in_bytes"
  fi
  local rc
  if [ -n "$cg" ] && [ -d "$cg" ]; then
    (echo $BASHPID >"$cg/cgroup.procs" && exec "$@"); rc=$?
    rmdir "$cg" 2>/dev/null || true
  else
    echo "     (no writable memory cgroup: using ulimit -v)"
    (ulimit -v $((mb << 10)) && exec "$@"); rc=$?
  fi
  return $rc
}

# ---- invalid traces that reached outside the arena ------------------------------------
expect_invalid mmap-0-fixed 'mmtrace 1\nmmap 0 4K rw- private,anon,fixed\n' 2 "outside the arena"
expect_invalid mremap-fixed-no-newaddr 'mmtrace 1\nmmap +0 8K rw- private,anon,fixed\nmremap +0 4K 4K maymove,fixed\n' 3 "needs NEWADDR"
expect_invalid arena-above-user 'mmtrace 1\narena 0x7ffffffff000 4K\nmaps\n' 2 "above the user address space"

# ---- limits ------------------------------------------------------------------------------
expect_invalid arena-limit 'mmtrace 1\narena 0x100000000000 128G\nmaps\n' 2 "(--max-arena)"
expect_invalid arena-limit-option 'mmtrace 1\narena 0x100000000000 2M\nmaps\n' 2 "(--max-arena)" --max-arena 1M
expect_invalid statement-limit 'mmtrace 1\nmaps\nmaps\nmaps\n' 4 "(--max-statements)" --max-statements 2
expect_invalid line-limit "mmtrace 1\n# $(printf '%0200d' 0)\nmaps\n" 2 "(--max-line)" --max-line 100
printf 'mmtrace 1\n# %s\nmaps\nbogus\n' "$(head -c 70000 /dev/zero | tr '\0' x)" >"$work/long.trace"
out=$("$mm" replay "$work/long.trace" 2>&1)
if grep -qF "long.trace:4: error: unknown statement" <<<"$out"; then
  pass line-number-after-64k-line
else
  fail line-number-after-64k-line
fi

printf 'mmtrace 1\nmaps\n' >"$work/maps.trace"
out=$("$mm" replay --timeout 1e300 "$work/maps.trace" 2>&1); rc=$?
if [ $rc -eq 2 ] && grep -q -- "--timeout" <<<"$out" && ! grep -q "runtime error\|-2147483648" <<<"$out"; then
  pass huge-timeout
else
  fail huge-timeout "exit $rc: $(head -3 <<<"$out")"
fi
out=$(mem_jail 1024 "$mm" gen --length 999999999 2>&1 >/dev/null); rc=$?
if [ $rc -eq 2 ] && grep -q -- "--max-statements" <<<"$out"; then pass length-limit; else fail length-limit "exit $rc: $out"; fi

# ---- file names cannot inject statements ----------------------------------------------------
evil=$work/$'a\nmseal +0x123000 4K'
printf 'abcdefgh' >"$evil"
printf 'ijklmnop' >"$work/b"
out=$("$mm" decode "$evil" "$work/b" 2>/dev/null)
if grep -q '^mseal +0x123000' <<<"$out"; then
  fail decode-file-name "the file name became a statement"
else
  pass decode-file-name
fi
# shrink: a diverging trace under a hostile name (the exec target fakes munmap)
printf 'mmtrace 1\nmmap +0 8K rw- private,anon,fixed\nmunmap +0 4K\n' >"$evil"
fake="exec:$mm serve | sed -u 's/=> 0\$/=> EPERM/'"
"$mm" shrink --targets "model,$fake" --out "$work/shrunk.trace" "$evil" >/dev/null 2>&1
if [ ! -s "$work/shrunk.trace" ]; then
  fail shrink-file-name "no shrunk trace"
elif grep -q '^mseal +0x123000' "$work/shrunk.trace"; then
  fail shrink-file-name "the file name became a statement"
else
  pass shrink-file-name
fi

# ---- --report on a huge arena: finishes, and the text finding is printed --------------------------
printf 'mmtrace 1\narena 0x100000000000 16384G\nmmap +0 4K rw- private,anon,fixed\nmunmap +0 4K\n' >"$work/huge.trace"
out=$(timeout 60 "$mm" diff --max-arena 16384G --targets "model,exec:$mm serve --max-arena 16384G | sed -u 's/=> 0\$/=> EPERM/'" \
  --report "$work/r.html" "$work/huge.trace" 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -q "results differ" <<<"$out" && [ -s "$work/r.html" ]; then
  pass report-huge-arena
else
  fail report-huge-arena "exit $rc (124: timed out): $(head -3 <<<"$out")"
fi

# ---- memory: bounded under a 1 GiB jail -------------------------------------------------------
# One huge unpopulated mapping: the snapshot is refused, not allocated.
printf 'mmtrace 1\narena 0x100000000000 16384G\nmmap +0 8192G --- private,anon,noreserve,fixed\nstate\n' >"$work/t8.trace"
out=$(mem_jail 1024 "$mm" replay --max-arena 16384G "$work/t8.trace" 2>&1); rc=$?
if [ $rc -ne 137 ] && grep -q -- "--max-snapshot-pages" <<<"$out"; then
  pass snapshot-huge-mapping
else
  fail snapshot-huge-mapping "exit $rc: $(head -3 <<<"$out")"
fi
# A target that floods comment lines: stopped at the line limit, default limits
# but the answer deadline (10 s), which the flood reaches first under ASan on a
# loaded machine: the line limit is what this checks.
printf 'mmtrace 1\nmmap +0 4K rw- private,anon,fixed\n' >"$work/one.trace"
flood="exec:sh -c 'while IFS= read -r l; do case \"\$l\" in mmtrace*|arena*) printf \"%s\\n\\n\" \"\$l\";; *) yes \"# flood\";; esac; done'"
out=$(mem_jail 1024 timeout 120 "$mm" replay --timeout 100 --target "$flood" "$work/one.trace" 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -q -- "--max-answer-lines" <<<"$out"; then
  pass exec-flood
else
  fail exec-flood "exit $rc: $(head -3 <<<"$out")"
fi

exit $failed
