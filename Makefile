# facelive — build, test and install. `make help` lists the targets.
#
# Every target works as root on a fresh Debian bookworm from a clean clone:
# `make build`, `make test` and `make demo` fetch what they need first
# (scripts/deps.sh: Debian packages, pinned registry assets into third_party/,
# Go modules), which is quick when everything is already there.

SHELL := /bin/bash
.DEFAULT_GOAL := build
.DELETE_ON_ERROR:

PREFIX ?= /usr/local
DESTDIR ?=

# Go: use /usr/local/go when go is not on PATH.
ifeq ($(shell command -v go 2>/dev/null),)
ifneq ($(wildcard /usr/local/go/bin/go),)
export PATH := /usr/local/go/bin:$(PATH)
endif
endif

GO ?= go
FUZZTIME ?= 300000x
export FUZZTIME

LIB := build/libfacelive.so
# The SONAME: what programs linked against the library record and look for
# at run time. build/ keeps a link by that name beside $(LIB), so that the C
# programs CMake links against $(LIB) run from the build tree.
SONAME := libfacelive.so.1
LIB_SONAME := build/$(SONAME)
CLI := build/facelive
CMAKE_DIR := build/cmake
LDFLAGS_LIB := -s -w -extldflags '-Wl,-z,nodelete -Wl,-soname,$(SONAME) -Wl,--version-script=$(CURDIR)/facelive.map'

# Inputs of the Go build, so that an unchanged tree does not relink the
# library (and everything CMake links against it): go.mod/go.sum, the public
# header, and in every folder holding Go files the Go, cgo C/C++ and assembly
# files and the folder itself (adding or deleting a file changes its mtime).
# Not tracked (Go version, GOEXPERIMENT, system libraries): run make clean.
GO_DIRS := $(shell find . \( -path ./.git -o -path ./build -o -path ./out -o -path ./third_party -o -name testdata \) -prune \
	-o -type f -name '*.go' -printf '%h\n' 2>/dev/null | sort -u | sed 's|^\./||')
GO_INPUTS := go.mod $(wildcard go.sum) include/facelive.h facelive.map $(GO_DIRS) \
	$(foreach d,$(GO_DIRS),$(wildcard $(addprefix $(d)/,*.go *.c *.h *.cc *.cpp *.hpp *.s *.S *.syso)))

.PHONY: help deps build cmake test bench gobench soak demo install package clean proto

help:
	@echo "make deps     Debian packages, pinned assets into third_party/, Go modules (scripts/deps.sh)"
	@echo "make build    $(LIB) (+ libfacelive.h), $(CLI), and the C programs (CMake, if CMakeLists.txt exists)"
	@echo "make test     vet, gofmt, go test -race, cgocheck2 (Go and C), fuzz (FUZZTIME=$(FUZZTIME) each), ctest, library check"
	@echo "make bench    fixed scenarios through the ABI path: out/bench/report.html with plots, results.json"
	@echo "make gobench  the Go benchmarks (go test -bench)"
	@echo "make soak     200,000 live 720p frames through the C ABI (tests/c/soak.c); prints RSS and goroutine growth (SOAK_FRAMES=...)"
	@echo "make demo     swaps a moving face photo to another face: out/demo.mp4 and the before/after sheet out/demo.png"
	@echo "make install  into PREFIX=$(PREFIX) (lib, include, bin), runs ldconfig; the OBS plugin into OBS_PLUGIN_DIR=$(OBS_PLUGIN_DIR)"
	@echo "make package  the Debian package build/facelive_<version>_amd64.deb (scripts/package.sh; check it: scripts/check-package.sh)"
	@echo "make clean    removes build/ and out/ (keeps third_party/)"
	@echo "make proto    regenerates engine/kserve/kservepb from its .proto (needs Debian's protobuf-compiler protoc-gen-go protoc-gen-go-grpc)"

deps:
	@scripts/deps.sh

# The generated KServe v2 gRPC code is committed; this is for changing the
# .proto, not for building.
proto:
	@scripts/gen-proto.sh

build: $(LIB) $(LIB_SONAME) $(CLI) cmake

# deps is order-only: it always runs first, but does not force a relink.
$(LIB): $(GO_INPUTS) | deps
	@mkdir -p $(@D)
	CGO_ENABLED=1 $(GO) build -buildmode=c-shared -trimpath -ldflags "$(LDFLAGS_LIB)" -o $@ .

$(LIB_SONAME): $(LIB)
	ln -sfn $(notdir $(LIB)) $@

$(CLI): $(GO_INPUTS) | deps
	@mkdir -p $(@D)
	CGO_ENABLED=1 $(GO) build -trimpath -o $@ ./cmd/facelive

cmake: $(LIB) $(LIB_SONAME)
	@if [ -f CMakeLists.txt ]; then \
	  set -e; \
	  echo "cmake -S . -B $(CMAKE_DIR) -DFACELIVE_LIBRARY=$(CURDIR)/$(LIB)"; \
	  cmake -S . -B $(CMAKE_DIR) -DFACELIVE_LIBRARY=$(CURDIR)/$(LIB) >$(CMAKE_DIR).configure.log 2>&1 \
	    || { cat $(CMAKE_DIR).configure.log; exit 1; }; \
	  echo "cmake --build $(CMAKE_DIR) -j2"; \
	  env -u MAKEFLAGS -u MAKELEVEL cmake --build $(CMAKE_DIR) -j2; \
	else \
	  echo "no CMakeLists.txt: skipping the C build"; \
	fi

test: build
	@scripts/test.sh

bench: build
	$(CLI) bench -o out/bench

gobench: deps
	$(GO) test -run='^$$' -bench=. -benchmem ./...

SOAK_FRAMES ?= 200000
soak: build
	SOAK_FRAMES=$(SOAK_FRAMES) scripts/soak.sh

demo: build
	@scripts/demo.sh

# The OBS plugin goes into OBS's per-user plugin folder (bin/64bit/ and data/,
# see obs-plugin/CMakeLists.txt); override OBS_PLUGIN_DIR to put it elsewhere.
# The module needs the library by its SONAME there (libfacelive.so.1); a
# libfacelive.so left by an install from before the SONAME had a version is
# removed, so that nobody mistakes it for the one in use.
OBS_PLUGIN_DIR ?= $(HOME)/.config/obs-studio/plugins/facelive
OBS_MODULE := $(CMAKE_DIR)/obs-plugin/facelive.so

install: build
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(LIB) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sfn $(SONAME) $(DESTDIR)$(PREFIX)/lib/libfacelive.so
	install -m 0644 include/facelive.h $(DESTDIR)$(PREFIX)/include/facelive.h
	install -m 0755 $(CLI) $(DESTDIR)$(PREFIX)/bin/facelive
	@if [ -z "$(DESTDIR)" ] && command -v ldconfig >/dev/null 2>&1; then echo ldconfig; ldconfig; fi
	@if [ ! -f $(OBS_MODULE) ]; then \
	  echo "make install: no OBS plugin was built (libobs not found: apt-get install libobs-dev), skipping it"; \
	  exit 0; \
	fi; \
	set -e; \
	dir="$(DESTDIR)$(OBS_PLUGIN_DIR)"; \
	echo "cmake --install $(CMAKE_DIR) --component obs-plugin --prefix $$dir"; \
	cmake --install $(CMAKE_DIR) --component obs-plugin --prefix "$$dir" >$(CMAKE_DIR).install.log 2>&1 \
	  || { cat $(CMAKE_DIR).install.log; exit 1; }; \
	rm -f "$$dir/bin/64bit/libfacelive.so"; \
	bad=0; \
	for f in facelive.so $(SONAME) libonnxruntime.so.1; do \
	  p="$$dir/bin/64bit/$$f"; \
	  out=$$(ldd "$$p" 2>&1) || { echo "$$out"; echo "make install: ldd $$p failed" >&2; exit 1; }; \
	  if grep -q "not found" <<<"$$out"; then \
	    grep "not found" <<<"$$out" | sed "s|^[[:space:]]*|  $$f: |"; bad=1; \
	  else \
	    echo "ldd $$p: $$(grep -c '=>' <<<"$$out") libraries, none missing"; \
	  fi; \
	done; \
	grep -E "libfacelive|libobs\.so" <<<"$$(ldd "$$dir/bin/64bit/facelive.so")" | sed 's/ (0x.*//'; \
	if [ $$bad = 1 ]; then echo "make install: the OBS plugin in $$dir has unresolved libraries (above)" >&2; exit 1; fi; \
	echo "OBS plugin installed in $$dir (restart OBS; the filters are \"Face Swap (facelive)\" and \"Face Swap (facelive, any source)\")"

# The Debian package build/facelive_<version>_amd64.deb: the OBS module in
# /usr/lib/x86_64-linux-gnu/obs-plugins/, the library, header and pkg-config
# file, ONNX Runtime private to facelive (scripts/package.sh says what goes
# where). scripts/check-package.sh checks it without installing it.
package: build
	@scripts/package.sh

clean:
	rm -rf build out
