#!/usr/bin/env bash
# ci/campaign's process ownership, resume, exit status, --jobs and triage,
# with fake fuzzers (shell scripts standing in for libFuzzer binaries,
# afl-fuzz and a crashing target), so that it is fast and deterministic:
#   - --jobs N starts exactly N instances (libFuzzer workers, afl-fuzz
#     processes), --jobs 1 one in all;
#   - a second campaign in the same directory is refused and touches nothing;
#   - after the campaign is killed with SIGKILL its fuzzers (and what they
#     started, even in another session) still run; the resume stops every one
#     of them, runs, appends to the logs and exits 0; nothing survives it;
#   - SIGTERM stops the campaign and all its processes (exit 143);
#   - a fuzzer that fails to start, or ends badly, makes the campaign exit 1;
#   - triage counts crashes, hangs, OOMs and leaks and deduplicates them by
#     signature (the "mmref: " line, else the sanitizer's kind and frame).
# Usage: tests/campaign.sh      (exit 77: a tool it needs is missing)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
for tool in flock setsid pgrep timeout sha1sum; do
  command -v "$tool" >/dev/null || { echo "skipped: $tool is missing"; exit 77; }
done
work=$(mktemp -d /tmp/mmref-campaign-test.XXXXXX)
fail=0
cleanup() {
  # whatever a failed check left running (tagged with a directory under $work)
  local f p
  for f in $(grep -lzF -- "MMREF_CAMPAIGN=$work" /proc/[0-9]*/environ 2>/dev/null); do
    p=${f#/proc/}; p=${p%/environ}
    kill -KILL "$p" 2>/dev/null
  done
  [ -n "${bgpid:-}" ] && kill -KILL "$bgpid" 2>/dev/null
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }
check() { # DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}
tagged() { # DIR: the number of processes tagged with the campaign in DIR
  local abs
  abs=$(cd "$1" 2>/dev/null && pwd -P) || { echo 0; return; }
  grep -lzxF -- "MMREF_CAMPAIGN=$abs" /proc/[0-9]*/environ 2>/dev/null | wc -l
}

# ---- the fakes ------------------------------------------------------------------------------
bin=$work/bin
mkdir -p "$bin/lf" "$bin/afl" "$bin/cmplog"
# A fuzzer: records its arguments in $FAKE_LOG, starts a child and a child in
# a session of its own (as AFL++'s fork servers do), runs until
# -max_total_time / -V, or fails as FAKE_FAIL_START / FAKE_END_BAD say.
cat >"$bin/fake-fuzzer" <<'EOF'
#!/usr/bin/env bash
name=$(basename "$0")
echo "$name $*" >>"$FAKE_LOG"
secs=1000000
for a in "$@"; do
  case "$a" in -max_total_time=*) secs=${a#*=} ;; esac
done
prev=""
for a in "$@"; do [ "$prev" = -V ] && secs=$a; prev=$a; done
case "$name" in "${FAKE_FAIL_START:-@none@}") echo "cannot start"; exit 1 ;; esac
# (ends well after the campaign's start check of MMREF_CAMPAIGN_START_CHECK=1 s,
# even on a loaded machine: ending inside it is a failure to start)
case "$name" in "${FAKE_END_BAD:-@none@}") secs=5; bad=1 ;; esac
sleep 1000000 &
setsid sleep 1000000 &
sleep "$secs" # one process: the count of the campaign's processes stays put
[ -n "${bad:-}" ] && exit 3
exit 0
EOF
chmod +x "$bin/fake-fuzzer"
for t in trace_parser pagewalk; do
  ln -s ../fake-fuzzer "$bin/lf/fuzz_$t"
  ln -s ../fake-fuzzer "$bin/cmplog/fuzz_$t"
  ln -s ../fake-fuzzer "$bin/afl/fuzz_$t"
done
ln -s fake-fuzzer "$bin/afl-fuzz"

export MMREF_CAMPAIGN_BUILD=0 MMREF_CAMPAIGN_LIBFUZZER_BIN=$bin/lf MMREF_CAMPAIGN_AFL_BIN=$bin/afl \
  MMREF_CAMPAIGN_AFL_CMPLOG_BIN=$bin/cmplog MMREF_CAMPAIGN_AFL_FUZZ=$bin/afl-fuzz \
  MMREF_CAMPAIGN_START_CHECK=1 MMREF_CAMPAIGN_POLL=1
campaign=$root/ci/campaign

# ---- --jobs ---------------------------------------------------------------------------------
d=$work/jobs1; export FAKE_LOG=$work/jobs1.args
"$campaign" run --engine libfuzzer --time 1 --jobs 1 --targets trace_parser,pagewalk --dir "$d" >"$work/out" 2>&1
rc=$?
check "--jobs 1 (libFuzzer): exit 0" [ $rc -eq 0 ]
check "--jobs 1 (libFuzzer): one instance, -fork=1" \
  [ "$(wc -l <"$FAKE_LOG")" -eq 1 -a "$(grep -c -- ' -fork=1 ' "$FAKE_LOG")" -eq 1 ]
check "--jobs 1: nothing left running" [ "$(tagged "$d")" -eq 0 ]

d=$work/jobs3; export FAKE_LOG=$work/jobs3.args
"$campaign" run --engine libfuzzer --time 1 --jobs 3 --targets trace_parser,pagewalk --dir "$d" >"$work/out" 2>&1
check "--jobs 3 on 2 targets (libFuzzer): 3 workers (-fork=2, -fork=1)" \
  [ "$(grep -c 'fuzz_trace_parser -fork=2 ' "$FAKE_LOG")" -eq 1 -a "$(grep -c 'fuzz_pagewalk -fork=1 ' "$FAKE_LOG")" -eq 1 ]

d=$work/afl3; export FAKE_LOG=$work/afl3.args
"$campaign" run --engine afl --time 1 --jobs 3 --targets trace_parser --dir "$d" >"$work/out" 2>&1
rc=$?
check "--jobs 3 (AFL++): exit 0" [ $rc -eq 0 ]
check "--jobs 3 (AFL++): 3 afl-fuzz, one -M main with CMPLOG, -S s1 and s2, -V" \
  [ "$(grep -c '^afl-fuzz ' "$FAKE_LOG")" -eq 3 -a "$(grep -c -- '-M main -c .*cmplog/fuzz_trace_parser' "$FAKE_LOG")" -eq 1 \
    -a "$(grep -c -- '-S s[12] ' "$FAKE_LOG")" -eq 2 -a "$(grep -c -- '-V 1 ' "$FAKE_LOG")" -eq 3 ]
"$campaign" run --engine afl --time 1 --jobs 1 --targets trace_parser,pagewalk --dir "$work/afl1" >"$work/out" 2>&1
check "--jobs 1 (AFL++): one afl-fuzz" [ "$(grep -c '^afl-fuzz ' "$FAKE_LOG")" -eq 4 ]

# ---- refusal, SIGKILL, resume -----------------------------------------------------------------
d=$work/resume; export FAKE_LOG=$work/resume.args
"$campaign" run --engine libfuzzer --jobs 2 --targets trace_parser,pagewalk --dir "$d" >"$work/run1" 2>&1 &
bgpid=$!
for _ in $(seq 100); do [ "$(tagged "$d")" -ge 6 ] && break; sleep 0.1; done
n=$(tagged "$d")
check "the campaign runs 2 fuzzers with their children ($n processes)" [ "$n" -ge 6 ]
"$campaign" run --engine libfuzzer --time 1 --jobs 2 --targets trace_parser,pagewalk --dir "$d" >"$work/out" 2>&1
rc=$?
check "a second campaign in the same directory is refused (exit 2)" [ $rc -eq 2 ]
check "... and touches nothing" [ "$(tagged "$d")" -eq "$n" ]
kill -KILL $bgpid; wait $bgpid 2>/dev/null; bgpid=
sleep 0.3
check "after SIGKILL of the campaign its fuzzers still run (the case the resume must handle)" [ "$(tagged "$d")" -eq "$n" ]
"$campaign" run --engine libfuzzer --time 1 --jobs 2 --targets trace_parser,pagewalk --dir "$d" >"$work/run2" 2>&1
rc=$?
check "the resume exits 0" [ $rc -eq 0 ]
check "the resume stopped the leftovers" grep -q "stopped $n process(es) in 2 fuzzer group(s) left by an earlier campaign" "$work/run2"
check "nothing survives the resume" [ "$(tagged "$d")" -eq 0 ]
check "logs are appended (two runs in each)" \
  [ "$(grep -c '^==== ci/campaign' "$d/libfuzzer/trace_parser/log")" -eq 2 -a "$(grep -c '^==== ci/campaign' "$d/libfuzzer/pagewalk/log")" -eq 2 ]
check "the pid files are gone" [ ! -e "$d/campaign.pid" -a ! -e "$d/campaign.pids" ]

# ---- SIGTERM ------------------------------------------------------------------------------------
d=$work/term
"$campaign" run --engine afl --jobs 2 --targets trace_parser --dir "$d" >"$work/out" 2>&1 &
bgpid=$!
for _ in $(seq 100); do [ "$(tagged "$d")" -ge 6 ] && break; sleep 0.1; done
kill -TERM $bgpid
wait $bgpid; rc=$?; bgpid=
check "SIGTERM: exit 143" [ $rc -eq 143 ]
check "SIGTERM: nothing left running" [ "$(tagged "$d")" -eq 0 ]

# ---- exit status --------------------------------------------------------------------------------
d=$work/nostart
FAKE_FAIL_START=fuzz_pagewalk "$campaign" run --engine libfuzzer --time 30 --jobs 2 --targets trace_parser,pagewalk \
  --dir "$d" >"$work/out" 2>&1
rc=$?
check "a fuzzer that fails to start: exit 1" [ $rc -eq 1 ]
check "... named" grep -q "pagewalk/log failed to start (exit 1)" "$work/out"
check "... and the others stopped" [ "$(tagged "$d")" -eq 0 ]
MMREF_CAMPAIGN_LIBFUZZER_BIN=$work/none "$campaign" run --engine libfuzzer --time 5 --jobs 1 \
  --targets trace_parser --dir "$work/missing" >"$work/out" 2>&1 \; [ $? -eq 1 ] 2>/dev/null ||
  { "$campaign" run --engine libfuzzer --time 5 --jobs 1 --targets trace_parser --dir "$work/missing" >/dev/null 2>&1; true; }
MMREF_CAMPAIGN_LIBFUZZER_BIN=$work/none "$campaign" run --engine libfuzzer --time 5 --jobs 1 --targets trace_parser \
  --dir "$work/missing" >"$work/out" 2>&1
check "a missing fuzzer binary: exit 1" [ $? -eq 1 ]
d=$work/endbad
FAKE_END_BAD=fuzz_pagewalk "$campaign" run --engine libfuzzer --time 8 --jobs 2 --targets trace_parser,pagewalk \
  --dir "$d" >"$work/out" 2>&1
rc=$?
check "a fuzzer that ends badly: exit 1" [ $rc -eq 1 ]
check "... named" grep -q "pagewalk/log ended with status 3 " "$work/out"
check "... nothing left running" [ "$(tagged "$d")" -eq 0 ]

# ---- triage -------------------------------------------------------------------------------------
# A target that, run on one file, reports as its content says.
tb=$work/triage-bin
mkdir -p "$tb"
cat >"$tb/fake-target" <<'EOF'
#!/usr/bin/env bash
f=${@: -1}
case "$(head -c 20 "$f")" in
  crash-A*) echo "mmref: model-naive-result-differs mmap"; exit 1 ;;
  crash-B*) echo "mmref: checker-violation I7"; exit 1 ;;
  leak*) n=$(wc -c <"$f")
         echo "Direct leak of $n byte(s) in 1 object(s) allocated from:"
         echo "    #0 0x4a1b2c in malloc (/x/fuzz_t+0x4a1b2c)"
         echo "    #1 0x4c0ffe in g_malloc (/lib/libglib-2.0.so.0+0x5a)"
         echo "    #2 0x4d0000 in parse_line $PWD/trace/trace.c:321:9"
         echo "SUMMARY: AddressSanitizer: $n byte(s) leaked in 1 allocation(s)."; exit 1 ;;
  oom*) echo "==1== ERROR: libFuzzer: out-of-memory (malloc(3000000000))"
        echo "SUMMARY: libFuzzer: out-of-memory (malloc(3000000000))"; exit 1 ;;
  *) exit 0 ;;
esac
EOF
chmod +x "$tb/fake-target"
ln -s fake-target "$tb/fuzz_trace_parser"
ln -s fake-target "$tb/fuzz_pagewalk"
d=$work/triage
lf=$d/libfuzzer/trace_parser
mkdir -p "$lf" "$d/afl/pagewalk/main/crashes" "$d/afl/pagewalk/main/hangs" "$d/triage"
echo crash-A 1 >"$lf/crash-1"; echo crash-A 2 >"$lf/crash-2"; echo crash-B >"$lf/crash-3"
echo slow 1 >"$lf/timeout-1"; echo slow 2 >"$lf/timeout-2"
echo oom >"$lf/oom-1"
echo leak >"$lf/leak-1"; echo leak, longer >"$lf/leak-2"
echo crash-A 3 >"$d/afl/pagewalk/main/crashes/id:000000,sig:06"
echo crash-A 4 >"$d/afl/pagewalk/main/crashes/id:000001,sig:06"
echo slow >"$d/afl/pagewalk/main/hangs/id:000000"
echo crash-B >"$d/triage/crash-trace_parser-0123456789" # a kept copy: not a finding
(cd "$root" && MMREF_CAMPAIGN_LIBFUZZER_BIN=$tb "$campaign" triage --dir "$d") >"$work/triage.out" 2>&1
rc=$?
check "triage: exit 0" [ $rc -eq 0 ]
check "triage: crashes 5 files, 3 signatures" grep -qE "crash +5 file\(s\), +3 distinct" "$work/triage.out"
check "triage: hangs 3 files, 2 signatures" grep -qE "hang +3 file\(s\), +2 distinct" "$work/triage.out"
check "triage: OOMs 1 file, 1 signature" grep -qE "oom +1 file\(s\), +1 distinct" "$work/triage.out"
check "triage: leaks 2 files (different sizes), 1 signature" grep -qE "leak +2 file\(s\), +1 distinct" "$work/triage.out"
check "triage: the leak's signature names its frame" \
  grep -qF "AddressSanitizer: leak at parse_line trace/trace.c:321" "$d/triage/signatures.tsv"
check "triage: the signature line of fuzz_common.c" \
  grep -qP "^crash\tpagewalk\t2\tmodel-naive-result-differs mmap\t" "$d/triage/signatures.tsv"
check "triage: the OOM's signature drops the size" grep -qP "^oom\ttrace_parser\t1\tlibFuzzer: out-of-memory\t" \
  "$d/triage/signatures.tsv"
check "triage: one kept file per signature" [ "$(find "$d/triage" -type f ! -name '*.tsv' | wc -l)" -eq 8 ]

if [ $fail -ne 0 ]; then
  echo "tests/campaign.sh: FAILED"
  exit 1
fi
echo "tests/campaign.sh: all passed"
