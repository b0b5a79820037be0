#!/bin/bash -eu
# ClusterFuzzLite / OSS-Fuzz build: every fuzz target, linked with the
# service's engine ($LIB_FUZZING_ENGINE), instrumented by its $CFLAGS, with
# its seed corpus and dictionary, into $OUT. Verify locally with
#   CC=clang CFLAGS="-fsanitize=address,fuzzer-no-link" \
#     LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=/tmp/out ci/oss-fuzz/build.sh
SRC_DIR=${SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
WORK=${WORK:-$(mktemp -d)}
OUT=${OUT:?set OUT}
mkdir -p "$OUT"
# The services pass sanitizer flags in CFLAGS; -Werror stays off so that a
# newer compiler's warnings do not break their builds.
cmake -S "$SRC_DIR" -B "$WORK/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER="${CC:-clang}" -DCMAKE_C_FLAGS="${CFLAGS:-}" \
  -DCMAKE_EXE_LINKER_FLAGS="${CFLAGS:-}" \
  -DMMREF_FUZZ=ON -DMMREF_FUZZ_ENGINE=external -DMMREF_FUZZ_LINK="$LIB_FUZZING_ENGINE" \
  -DMMREF_TESTS=OFF -DMMREF_WERROR=OFF
cmake --build "$WORK/build" -j "$(nproc)"
for f in "$WORK"/build/fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  t=${name#fuzz_}
  cp "$f" "$OUT/$name"
  if [ -d "$SRC_DIR/corpus/seeds/$t" ]; then
    (cd "$SRC_DIR/corpus/seeds/$t" && zip -q -r "$OUT/${name}_seed_corpus.zip" .)
  fi
  [ -f "$SRC_DIR/fuzz/$t.dict" ] && cp "$SRC_DIR/fuzz/$t.dict" "$OUT/$name.dict"
done
# diff_model_kernel is left out: it needs an uninstrumented mmref-kernel
# process (ASan's shadow covers the arena) and the live kernel of the
# machine, which the services' runners do not promise. Run it with
# ci/campaign instead.
rm -f "$OUT/fuzz_diff_model_kernel" "$OUT/fuzz_diff_model_kernel_seed_corpus.zip" "$OUT/fuzz_diff_model_kernel.dict"
ls "$OUT"
