#!/usr/bin/env bash
# test_cli_install.sh — what a llama.cpp user reaches for (issue #22, item 5): `huginn --version` and
# `huginn version`; `cmake --install` into a temporary prefix puts the binary, the library, huginn.h,
# huginn.pc and the shipped model in place, the installed binary finds that model without -m (also
# after the prefix is moved), a binary away from the source tree finds models/default, HUGINN_MODEL
# overrides the default, pkg-config builds a program against the library, and run -f / -p - read the
# prompt from a file / standard input. Run with HUGINN, HG_TEST_TMP.
set -u
fail=0
check() { if ! eval "$2"; then echo "FAIL: $1"; fail=1; else echo "ok $1"; fi; }
dir="$HG_TEST_TMP/cli_install"
rm -rf "$dir" && mkdir -p "$dir"
build=$(dirname "$HUGINN")
P="k=3;a=k;z=1;d=a;?d="
ans() { "$@" -p "$P" -n 1 --temp 0 --init-scale 0 2> /dev/null; }

check "--version" '"$HUGINN" --version | grep -q "^huginn [0-9]*\.[0-9]*\.[0-9]*"'
check "version" '[ "$("$HUGINN" version)" = "$("$HUGINN" --version)" ]'

cmake --install "$build" --prefix "$dir/prefix" > "$dir/install.log" 2>&1 || { cat "$dir/install.log"; fail=1; }
for f in bin/huginn include/huginn.h share/huginn/models/default/config.json share/huginn/models/default/model.safetensors; do
  check "installed $f" '[ -e "$dir/prefix/$f" ]'
done
lib=$(ls "$dir"/prefix/lib*/libhuginn.a 2> /dev/null | head -1)
pc=$(ls "$dir"/prefix/lib*/pkgconfig/huginn.pc 2> /dev/null | head -1)
check "installed libhuginn.a and huginn.pc" '[ -n "$lib" ] && [ -n "$pc" ]'
check "installed binary runs the installed model without -m" '[ "$(ans env -u HUGINN_MODEL "$dir/prefix/bin/huginn" run)" = 3 ]'
check "... which is the one it reports" 'env -u HUGINN_MODEL "$dir/prefix/bin/huginn" version | grep -q "prefix/bin/../share/huginn/models/default"'
mv "$dir/prefix" "$dir/moved"
check "a moved prefix still finds its model" '[ "$(ans env -u HUGINN_MODEL "$dir/moved/bin/huginn" run)" = 3 ]'
mkdir -p "$dir/elsewhere" && cp "$HUGINN" "$dir/elsewhere/huginn"
check "a binary away from the source tree finds models/default" '[ "$(ans env -u HUGINN_MODEL "$dir/elsewhere/huginn" run)" = 3 ]'
check "HUGINN_MODEL overrides the default" 'HUGINN_MODEL="$dir/nowhere" "$HUGINN" run -p x -n 1 2>&1 | grep -q "nowhere"'

# a program built against the installed library through pkg-config
cat > "$dir/use.c" <<'C'
/* use.c — links the installed libhuginn through huginn.pc. */
#include <huginn.h>
#include <stdio.h>
int main(void) { printf("%s\n", hg_status_str(HG_OK)); return 0; }
C
pc_dir=$(dirname "$(ls "$dir"/moved/lib*/pkgconfig/huginn.pc)")
sed -i "s|^prefix=.*|prefix=$dir/moved|" "$pc_dir/huginn.pc"
# a library built with ASan + UBSan (the Sanitize build) needs their runtimes where it is linked
san=""
grep -q '^CMAKE_BUILD_TYPE:STRING=Sanitize' "$build/CMakeCache.txt" 2> /dev/null && san="-fsanitize=address,undefined"
check "pkg-config --static builds and links a program" 'PKG_CONFIG_PATH="$pc_dir" cc -std=c11 $san "$dir/use.c" -o "$dir/use" $(PKG_CONFIG_PATH="$pc_dir" pkg-config --cflags --libs --static huginn) && "$dir/use" > /dev/null'

# the prompt from a file and from standard input
printf '%s\n' "$P" > "$dir/prompt.txt"
want=$("$HUGINN" run -p "$P" -n 2 --temp 0 --init-scale 0 --json 2> /dev/null)
check "run -f FILE equals -p" '[ "$("$HUGINN" run -f "$dir/prompt.txt" -n 2 --temp 0 --init-scale 0 --json 2> /dev/null | cut -d, -f1-8)" = "$(echo "$want" | cut -d, -f1-8)" ]'
check "run -p - equals -p" '[ "$(printf "%s\n" "$P" | "$HUGINN" run -p - -n 2 --temp 0 --init-scale 0 --json 2> /dev/null | cut -d, -f1-8)" = "$(echo "$want" | cut -d, -f1-8)" ]'
exit $fail
