#!/usr/bin/env bash
# Builds the native addons with AddressSanitizer and UndefinedBehaviorSanitizer into a folder of their own and
# runs test/native-addons.test.ts (each entry point, and thousands of mutated inputs) against that build. Any
# out-of-bounds access, use after free or undefined behaviour aborts the run with the sanitizer's report.
# Run by .ci/run after the suite; by hand: `npm run build && bash scripts/sanitized-addons.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp binding.gyp "$work/"
cp -r native "$work/"
# npm puts its own node-gyp on the PATH of a package script, as for `npm ci` (no node-gyp package needed).
echo '{"name":"openomics-sanitized-addons","version":"0.0.0","private":true,"scripts":{"build-addons":"node-gyp rebuild"}}' > "$work/package.json"

san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
(cd "$work" && CFLAGS="$san" CXXFLAGS="$san" LDFLAGS="-fsanitize=address,undefined" \
  npm run --silent build-addons >"$work/build.log" 2>&1) || {
  cat "$work/build.log" >&2
  echo "sanitized build failed" >&2
  exit 1
}
built=$(ls "$work/build/Release/"*.node | wc -l)
[ "$built" -ge 3 ] || { echo "expected 3 sanitized addons, built $built (the -dev packages are missing?)" >&2; exit 1; }
for f in "$work/build/Release/"*.node; do
  nm -D --undefined-only "$f" | grep -q __asan_report || { echo "$f is not instrumented" >&2; exit 1; }
done

# Node itself is not instrumented: the runtimes are preloaded, leak checks are off (Node frees little at exit).
preload="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
LD_PRELOAD="$preload" ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  OPENOMICS_TEST_ADDON_DIR="$work/build/Release" CI=true \
  node --test --test-reporter=spec dist/test/native-addons.test.js
echo "sanitized addons: $built built, native-addons tests passed under ASan/UBSan"
