#!/usr/bin/env bash
# Proves that Kataribe works as a *versioned* dependency, the way another package uses it:
#
#   1. clones this repository into a temporary folder, lays the current working tree over the
#      clone (tracked files and untracked files that are not ignored; deletions included), commits
#      it there and tags it 0.9.0 (this repository's git is only read, never written);
#   2. copies Examples/LibraryUsage beside it and points its dependency at that clone by URL:
#      `.package(url: "file://<tmp>/kataribe", from: "0.9.0")`;
#   3. builds the example (SwiftPM checks the tag out under .build/checkouts/, so the manifest's
#      unsafe flags are dropped and only what the KataribeGeneration product needs is built);
#   4. runs it on Models/demo-calm and checks that it exits 0 and generates text.
#
# Usage: tools/check_library_package.sh [SWIFT BUILD OPTIONS, e.g. -c release]
# Fails on the first error; the temporary folder is removed either way.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
version="0.9.0"
if ! command -v swift >/dev/null && [ -x /opt/swift/usr/bin/swift ]; then
  export PATH="/opt/swift/usr/bin:$PATH"
fi

start=$SECONDS
tmp="$(mktemp -d "${TMPDIR:-/tmp}/kataribe-library-check.XXXXXX")"
finish() {
  status=$?
  rm -rf "$tmp"
  if [ "$status" -eq 0 ]; then
    echo "check_library_package: passed in $((SECONDS - start)) s"
  else
    echo "check_library_package: FAILED (exit $status) after $((SECONDS - start)) s" >&2
  fi
}
trap finish EXIT

fail() {
  echo "check_library_package: error: $*" >&2
  exit 1
}

# 1. The package as a tagged release of the current working tree. --no-checkout leaves the clone's
# index empty, so the commit holds exactly the files copied in (files deleted here stay deleted);
# --no-tags so that no other version tag competes with the one made here.
echo "== cloning $root and tagging its working tree $version"
git clone --quiet --no-checkout --no-tags "$root" "$tmp/kataribe"
(
  cd "$root"
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' path; do
      if [ -e "$path" ] || [ -L "$path" ]; then printf '%s\0' "$path"; fi
    done |
    tar --null --no-recursion -T - -cf -
) | tar -xf - -C "$tmp/kataribe"
git_tmp=(git -C "$tmp/kataribe" -c user.name="check_library_package" -c user.email="check@localhost"
         -c commit.gpgSign=false -c tag.gpgSign=false -c core.hooksPath=/dev/null)
"${git_tmp[@]}" add --all --force
"${git_tmp[@]}" commit --quiet --no-verify --allow-empty -m "Working tree of $root for check_library_package.sh"
"${git_tmp[@]}" tag "$version"
[ -f "$tmp/kataribe/Package.swift" ] || fail "the clone has no Package.swift"

# 2. The example, depending on that tag by URL.
echo "== copying Examples/LibraryUsage and depending on file://$tmp/kataribe from: \"$version\""
mkdir "$tmp/app"
(cd "$root/Examples/LibraryUsage" && tar --exclude=./.build --exclude=./.swiftpm --exclude=./Package.resolved -cf - .) |
  tar -xf - -C "$tmp/app"
manifest="$tmp/app/Package.swift"
path_dependency='.package(name: "Kataribe", path: "../..")'
url_dependency=".package(url: \"file://$tmp/kataribe\", from: \"$version\")"
text="$(cat "$manifest")"
[[ "$text" == *"$path_dependency"* ]] || fail "Examples/LibraryUsage/Package.swift no longer contains $path_dependency"
printf '%s\n' "${text//"$path_dependency"/"$url_dependency"}" >"$manifest"
grep -qF "$url_dependency" "$manifest" || fail "could not rewrite the example's dependency"

# 3. Build. The shared dependency cache is left alone (the temporary URL is used only once), and
# SwiftPM's lock files go into the temporary folder rather than beside it.
mkdir "$tmp/swiftpm-tmp"
swift_build() { TMPDIR="$tmp/swiftpm-tmp" swift build --package-path "$tmp/app" --disable-dependency-cache "$@"; }
echo "== swift build --package-path $tmp/app $*"
swift_build "$@"
[ -d "$tmp/app/.build/checkouts/kataribe" ] || fail "Kataribe was not checked out as a versioned dependency"
grep -q "\"version\" : \"$version\"" "$tmp/app/Package.resolved" || fail "Package.resolved does not pin kataribe $version"
bin="$(swift_build "$@" --show-bin-path)/LibraryUsage"

# 4. Run it on the demo model.
prompt="吾輩は猫である。名前は"
echo "== $bin $root/Models/demo-calm $prompt"
output="$("$bin" "$root/Models/demo-calm" "$prompt")" || fail "the example exited with status $?"
printf '%s\n' "$output"
# The example prints the prompt and its continuation, then "(N tokens, stopped: ..., seed ...)".
body="$(printf '%s\n' "$output" | sed '$d')"
[[ "$body" == "$prompt"?* ]] || fail "the example printed no text after its prompt"
generated="$(printf '%s\n' "$output" | sed -n 's/^(\([0-9][0-9]*\) tokens, stopped: .*/\1/p' | tail -n 1)"
[ -n "$generated" ] && [ "$generated" -gt 0 ] || fail "the example reported no generated tokens"
