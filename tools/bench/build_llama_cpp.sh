#!/usr/bin/env bash
# Build llama.cpp for this CPU as a peer for benchmarks and reference log-probs (not part of the
# project; nothing here is committed output).
#
#   tools/bench/build_llama_cpp.sh [WORK_DIR] [VENV_DIR]
#
# WORK_DIR (default /work/llama.cpp-build) receives the llama-cpp-python 0.3.36 sdist, its vendored
# llama.cpp source (src/) and the CMake build (build/; binaries in build/bin, shared libraries
# libllama.so / libggml*.so in build/bin as well).
# VENV_DIR (default /work/llama-venv) is a Python venv outside the repository that gets cmake and
# ninja from PyPI and, at the end, the llama-cpp-python bindings without their own build
# (they load the library named by LLAMA_CPP_LIB_PATH, see the last lines).
#
# Everything heavy runs under `nice -n 19` with -j2 (the machine is shared).
set -euo pipefail

WORK=${1:-/work/llama.cpp-build}
VENV=${2:-/work/llama-venv}
VERSION=0.3.36
JOBS=${JOBS:-2}

mkdir -p "$WORK/dl"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q cmake ninja
CMAKE="$VENV/bin/cmake"
NINJA="$VENV/bin/ninja"

# 1. The sdist (llama.cpp vendored under vendor/llama.cpp).
if [ ! -f "$WORK/dl/llama_cpp_python-$VERSION.tar.gz" ]; then
  (cd "$WORK/dl" && "$VENV/bin/pip" download -q --no-deps --no-binary llama-cpp-python \
     "llama-cpp-python==$VERSION")
fi
if [ ! -d "$WORK/src" ]; then
  rm -rf "$WORK/unpack" && mkdir -p "$WORK/unpack"
  tar -xzf "$WORK/dl/llama_cpp_python-$VERSION.tar.gz" -C "$WORK/unpack"
  mv "$WORK/unpack/llama_cpp_python-$VERSION" "$WORK/src"
  rmdir "$WORK/unpack"
fi

# 2. Configure and build llama.cpp for this CPU (GGML_NATIVE=ON: -march=native).
nice -n 19 "$CMAKE" -S "$WORK/src/vendor/llama.cpp" -B "$WORK/build" -G Ninja \
  -DCMAKE_MAKE_PROGRAM="$NINJA" \
  -DCMAKE_BUILD_TYPE=Release \
  -DGGML_NATIVE=ON \
  -DLLAMA_CURL=OFF \
  -DBUILD_SHARED_LIBS=ON \
  -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_SERVER=OFF
nice -n 19 "$CMAKE" --build "$WORK/build" -j"$JOBS" --target \
  llama ggml llama-bench llama-perplexity llama-simple llama-completion llama-tokenize llama-quantize
# (this llama.cpp has no llama-cli target any more: llama-completion is the plain text CLI)

# 3. The Python bindings without building llama.cpp a second time: llama_cpp/_ctypes_extensions.py
#    loads the shared library from $LLAMA_CPP_LIB_PATH when set, so the pure-Python package is
#    enough (installed with its runtime dependencies; the CMake step of the sdist is skipped by
#    copying the package directory into site-packages).
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
"$VENV/bin/pip" install -q numpy typing-extensions diskcache jinja2
rm -rf "$SITE/llama_cpp"
cp -r "$WORK/src/llama_cpp" "$SITE/llama_cpp"
echo "built: $WORK/build/bin"
echo "python bindings: LLAMA_CPP_LIB_PATH=$WORK/build/bin $VENV/bin/python -c 'import llama_cpp'"
