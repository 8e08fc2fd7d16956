# Install the `kataribe` command with the demo models:
#   make install PREFIX=$HOME/.local      (default PREFIX: /usr/local)
# gives PREFIX/bin/kataribe (the Swift runtime linked in statically, so it runs without a Swift
# toolchain) and PREFIX/share/kataribe/Models, where the binary finds `demo-calm` and
# `demo-rinna-sft` relative to itself. The C kernels choose AVX2/AVX-512 at run time, so the binary
# runs on any x86-64 CPU; KATARIBE_NATIVE_CPU=1 also compiles the Swift code for this CPU only.
PREFIX ?= /usr/local
SWIFT ?= swift
# A scratch folder of its own: the static runtime is a different build from `swift build -c release`.
SCRATCH ?= .build-install
# The prefix maps keep the build folder's path out of the binary (file names in assertion messages).
PATHS = -Xswiftc -file-prefix-map -Xswiftc "$(CURDIR)/=" -Xcc -ffile-prefix-map="$(CURDIR)/=" -Xcxx -ffile-prefix-map="$(CURDIR)/="
BUILD = $(SWIFT) build -c release --static-swift-stdlib --scratch-path $(SCRATCH) $(PATHS) --product kataribe

.PHONY: build install uninstall

build:
	$(BUILD)

install: build
	install -d "$(PREFIX)/bin" "$(PREFIX)/share/kataribe/Models"
	install -m 755 "$$($(SWIFT) build -c release --static-swift-stdlib --scratch-path $(SCRATCH) $(PATHS) --show-bin-path)/kataribe" "$(PREFIX)/bin/kataribe"
	# Debug sections still name the build folder (assembler files' compilation directory); the
	# symbol table stays for backtraces.
	strip --strip-debug "$(PREFIX)/bin/kataribe"
	for model in Models/*/; do \
		name=$$(basename "$$model"); \
		rm -rf "$(PREFIX)/share/kataribe/Models/$$name"; \
		cp -R "$$model" "$(PREFIX)/share/kataribe/Models/$$name"; \
	done

uninstall:
	rm -f "$(PREFIX)/bin/kataribe"
	rm -rf "$(PREFIX)/share/kataribe"
