# tcpstate-trace: see README.md. `make help` lists the targets.
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= gcc
PREFIX ?= /usr/local
HOST_ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' -e 's/ppc64le/powerpc/' -e 's/s390x/s390/')
ARCH ?= $(HOST_ARCH)
VMLINUX_DIR := vmlinux/$(ARCH)
# A cross build (ARCH=arm64 on x86) uses Debian's cross compiler and the
# arm64 multiarch libraries (scripts/install-deps --arm64) and keeps all of
# its output, the binary included, in build/ARCH so it never mixes with the
# host's build.
ifneq ($(ARCH),$(HOST_ARCH))
CROSS_COMPILE ?= $(if $(filter arm64,$(ARCH)),aarch64-linux-gnu-,$(error no cross compiler known for ARCH=$(ARCH)))
ifeq ($(origin CC),default)
CC := $(CROSS_COMPILE)gcc
endif
OUTPUT ?= build/$(ARCH)
BIN := $(OUTPUT)/tcpstate-trace
DEPS_FLAGS := --$(ARCH)
CROSS_DEPS := deps
# libevent's arm64 archives, out of their package (scripts/install-deps).
CROSS_LDFLAGS := -L$(or $(TCPSTATE_ARM64_LIBEVENT),/var/cache/tcpstate-trace/arm64/libevent)
else
OUTPUT ?= build
BIN := tcpstate-trace
endif
# The guests' architecture as Debian names it (tests/vm/arch.sh).
VM_ARCH := $(if $(filter x86,$(ARCH)),amd64,$(ARCH))
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

CFLAGS ?= -g -O2
CFLAGS += -Wall -Wextra -Wno-unused-parameter -std=gnu11 -D_GNU_SOURCE \
	  -DTS_VERSION='"$(VERSION)"' -I$(OUTPUT) -Ibpf -Iuser $(SANFLAGS)
# make test's sanitizer run (test-live-san) builds into its own OUTPUT with
# SANFLAGS set.
SAN_CFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -I$(VMLINUX_DIR) -Ibpf \
	      -Wall -Wno-unused-function
LDLIBS := $(CROSS_LDFLAGS) -lbpf -lelf -lz -levent_extra -levent_core -lpthread
STATIC_LDLIBS := -static $(CROSS_LDFLAGS) -lbpf -lelf -lz -lzstd -levent_extra -levent_core -lpthread

USER_SRCS := $(wildcard user/*.c)
USER_OBJS := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(USER_SRCS))
# Everything but main: what unit tests link against.
LIB_OBJS := $(filter-out $(OUTPUT)/user/main.o,$(USER_OBJS))
BPF_OBJ := $(OUTPUT)/tcpstate.bpf.o
SKEL := $(OUTPUT)/tcpstate.skel.h

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))
SCENARIO_SRCS := $(wildcard tests/scenario/*.c)
SCENARIO_BINS := $(patsubst tests/scenario/%.c,$(OUTPUT)/tests/scenario/%,$(SCENARIO_SRCS))
LIVETEST := $(OUTPUT)/tests/livetest

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
MAKEFLAGS += --no-print-directory
endif

.PHONY: all static deps check-deps run test test-unit test-dist test-fuzz test-live test-live-busy test-live-san vmtest vmtest-arm64 vmshell bench install uninstall clean help vmlinux
.DELETE_ON_ERROR:

all: $(BIN)

help:
	@echo 'make            build ./tcpstate-trace (V=1 shows the commands)'
	@echo 'make static     build $(OUTPUT)/static/tcpstate-trace, a static binary to copy to other hosts'
	@echo 'make ARCH=arm64 [static]  cross-build for arm64 into build/arm64 (installs the cross toolchain)'
	@echo 'make deps       install missing build and test dependencies (Debian packages; root)'
	@echo 'make run        deps + build + trace live (root); ARGS="-j" passes options'
	@echo 'make test       deps + build + unit tests + test-dist + live tests + vmtest + vmtest-arm64 (root)'
	@echo 'make test-dist  the systemd unit as make install writes it, checked by systemd-analyze'
	@echo 'make test-live-busy  the live suite in every mode on a busy host (tests/live/README.md; root)'
	@echo 'make vmtest     the live tests in qemu VMs on Debian kernels (KERNELS="$(KERNELS)")'
	@echo 'make vmtest ARCH=arm64  the same on arm64 kernels under qemu-system-aarch64 (KERNELS="$(ARM64_KERNELS)")'
	@echo 'make vmtest-arm64  what make test runs on arm64: KERNELS="$(ARM64_TEST_KERNELS)"'
	@echo 'make vmshell    a shell in a VM with the tracer and tests (KERNEL=6.12; ARCH=arm64 too)'
	@echo 'make bench      load, scrape, overhead, saturation, memory vs no tracer and tcpstates (BENCH_ARGS=--quick)'
	@echo 'make install    install the binary, man page and systemd unit to $$(DESTDIR)$$(PREFIX) (PREFIX=$(PREFIX))'
	@echo 'make vmlinux    regenerate $(VMLINUX_DIR)/vmlinux.h (vmlinux/README.md)'

deps:
	$(Q)scripts/install-deps $(DEPS_FLAGS)

check-deps:
	$(Q)scripts/install-deps --check $(DEPS_FLAGS)

$(OUTPUT) $(OUTPUT)/user $(OUTPUT)/tests $(OUTPUT)/tests/scenario $(OUTPUT)/static:
	$(Q)mkdir -p $@

$(BPF_OBJ): bpf/tcpstate.bpf.c $(wildcard bpf/*.h) $(VMLINUX_DIR)/vmlinux.h | $(OUTPUT) $(CROSS_DEPS)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(SKEL): $(BPF_OBJ)
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name tcpstate_bpf > $@

$(OUTPUT)/user/%.o: user/%.c $(wildcard user/*.h) bpf/tcpstate.h $(SKEL) | $(OUTPUT)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BIN): $(USER_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

static: $(OUTPUT)/static/tcpstate-trace
$(OUTPUT)/static/tcpstate-trace: $(USER_OBJS) | $(OUTPUT)/static
	$(call msg,STATIC,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(STATIC_LDLIBS) -o $@

# x86 from this machine's kernel; arm64 from the BTF in Debian's arm64 6.18
# cloud kernel (the release x86's header came from).
VMLINUX_ARM64_KERNEL := 6.18
vmlinux: | $(OUTPUT)
ifeq ($(ARCH),arm64)
	tests/vm/fetch-kernels.sh --arch arm64 $(VMLINUX_ARM64_KERNEL)
	scripts/btf-from-image $${TCPSTATE_VM_CACHE:-/var/cache/tcpstate-trace/vm}/arm64/$(VMLINUX_ARM64_KERNEL)/vmlinuz $(OUTPUT)/vmlinux.btf
	$(BPFTOOL) btf dump file $(OUTPUT)/vmlinux.btf format c > $(VMLINUX_DIR)/vmlinux.h
else
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $(VMLINUX_DIR)/vmlinux.h
endif

run: deps
	$(Q)$(MAKE) all
	./$(BIN) $(ARGS)

# --- tests -------------------------------------------------------------------
$(OUTPUT)/tests/test_%: tests/unit/test_%.c $(LIB_OBJS) | $(OUTPUT)/tests
	$(call msg,UNIT,$@)
	$(Q)$(CC) $(CFLAGS) $< $(LIB_OBJS) $(LDLIBS) -lcmocka -ljansson -o $@

$(OUTPUT)/tests/scenario/%: tests/scenario/%.c tests/scenario/scenario.h | $(OUTPUT)/tests/scenario $(CROSS_DEPS)
	$(call msg,SCENARIO,$@)
	$(Q)$(CC) $(CFLAGS) -static -pthread $< -o $@

$(LIVETEST): $(wildcard tests/live/*.c) $(wildcard tests/live/*.h) | $(OUTPUT)/tests $(CROSS_DEPS)
	$(call msg,LIVETEST,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/live $(wildcard tests/live/*.c) -static -ljansson -o $@

test: deps
	$(Q)$(MAKE) all static $(UNIT_BINS) $(SCENARIO_BINS) $(LIVETEST)
	$(Q)$(MAKE) test-unit test-dist test-fuzz test-live test-live-san vmtest vmtest-arm64

# A short libFuzzer run over the recording reader (tests/fuzz/README.md).
FUZZ_RECORDING := $(OUTPUT)/fuzz/fuzz_recording
$(FUZZ_RECORDING): tests/fuzz/fuzz_recording.c user/recording.c user/outfile.c user/privs.c $(wildcard user/*.h) bpf/tcpstate.h
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -std=gnu11 -D_GNU_SOURCE -Ibpf -Iuser \
		tests/fuzz/fuzz_recording.c user/recording.c user/outfile.c user/privs.c -lz -o $@

test-fuzz: $(FUZZ_RECORDING)
	$(Q)mkdir -p $(OUTPUT)/fuzz/corpus-recording
	$(Q)$(FUZZ_RECORDING) -runs=100000 -seed=1 -max_len=4096 \
		$(OUTPUT)/fuzz/corpus-recording tests/fuzz/corpus/recording \
		> $(OUTPUT)/fuzz/last-run.log 2>&1 || { tail -n 40 $(OUTPUT)/fuzz/last-run.log; exit 1; }
	$(Q)echo "fuzz: recording reader: $$(tail -n 1 $(OUTPUT)/fuzz/last-run.log)"

test-unit: $(UNIT_BINS)
	$(Q)tests/run-unit $(UNIT_BINS)

# The live suite once per attach mode: fentry, kprobe and tracepoint for
# tcp_close/tcp_shutdown, and tp-classic (the classic state tracepoint).
# Modes this kernel cannot do are reported unsupported, with the reason.
LIVE_MODES := fentry kprobe tracepoint tp-classic
test-live: $(BIN) $(SCENARIO_BINS) $(LIVETEST)
	$(Q)tests/live/run-modes.sh $(LIVETEST) ./$(BIN) $(OUTPUT)/tests/scenario $(LIVE_MODES)

# The live suite in every mode while the host's namespace is busy: TIME_WAIT
# on every ephemeral port and 100 connections/s (tests/live/README.md).
BUSYHOST := $(OUTPUT)/tests/scenario/busyhost
test-live-busy: $(BIN) $(SCENARIO_BINS) $(LIVETEST)
	$(Q)tests/live/busy-host.sh $(BUSYHOST) -- \
		tests/live/run-modes.sh $(LIVETEST) ./$(BIN) $(OUTPUT)/tests/scenario $(LIVE_MODES)

# The live suite once more, in tracepoint mode, with the tracer built under
# AddressSanitizer and UndefinedBehaviorSanitizer: the first report ends
# the tracer, and the test that ran it fails.
SAN_OUTPUT := $(OUTPUT)/san
test-live-san: $(SCENARIO_BINS) $(LIVETEST)
	$(Q)$(MAKE) OUTPUT=$(SAN_OUTPUT) BIN=$(SAN_OUTPUT)/tcpstate-trace SANFLAGS="$(SAN_CFLAGS)" \
		$(SAN_OUTPUT)/tcpstate-trace
	$(Q)ASAN_OPTIONS=abort_on_error=0:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		tests/live/run-modes.sh $(LIVETEST) $(SAN_OUTPUT)/tcpstate-trace $(OUTPUT)/tests/scenario tracepoint

# The same suite in VMs booting Debian's kernels (tests/vm/README.md). The
# cloud kernels build sock_diag for TCP as a module (the start-up snapshot
# needs it); a real system autoloads it, the initramfs has no modprobe.
# Each kernel comes from the Debian suite that carries it (tests/vm/README.md):
# 5.10 bullseye, 6.1 bookworm, 6.12 trixie, 6.18 and 7.3 trixie-backports.
ifeq ($(ARCH),arm64)
KERNELS ?= $(ARM64_KERNELS)
else
KERNELS ?= 5.10 6.1 6.12 6.18 7.3
endif
# arm64 guests (TCG too) run the live suite about as fast as x86 ones, since
# it mostly waits on the kernel's timers. make test runs one arm64 kernel,
# to keep CI well inside its time; `make vmtest ARCH=arm64` runs all three
# (about 11 minutes; tests/vm/README.md).
ARM64_KERNELS := 6.12 6.18 7.3
ARM64_TEST_KERNELS ?= 6.12
VM_LIVETEST = livetest --tracer /bin/tcpstate-trace --scenarios /bin --timeout-ms 30000 --
vmtest: static $(SCENARIO_BINS) $(LIVETEST)
	$(Q)tests/vm/fetch-kernels.sh --arch $(VM_ARCH) $(KERNELS)
	$(Q)KERNELS="$(KERNELS)" tests/vm/vmtest.sh --arch $(VM_ARCH) --timeout 1500 --module tcp_diag --module sch_tbf \
		--bin $(OUTPUT)/static/tcpstate-trace --bin $(LIVETEST) \
		$(foreach s,$(SCENARIO_BINS),--bin $(s)) \
		--mode 'fentry=$(VM_LIVETEST) --attach fentry' \
		--mode 'kprobe=$(VM_LIVETEST) --attach kprobe' \
		--mode 'tracepoint=$(VM_LIVETEST) --attach tracepoint' \
		--mode 'tp-classic=$(VM_LIVETEST) --state-hook tracepoint --attach tracepoint'

# The arm64 cross build in the arm64 VMs, as make test runs it (its own
# build directory, so a given OUTPUT never gets two architectures).
vmtest-arm64:
	$(Q)$(MAKE) ARCH=arm64 OUTPUT=$(OUTPUT)/arm64 KERNELS="$(ARM64_TEST_KERNELS)" vmtest

# An interactive shell in one of those VMs, with the tracer and the tests.
KERNEL ?= 6.12
vmshell: static $(SCENARIO_BINS) $(LIVETEST)
	tests/vm/vmshell.sh --arch $(VM_ARCH) --kernel $(KERNEL) --bin $(OUTPUT)/static/tcpstate-trace \
		--bin $(LIVETEST) $(foreach s,$(SCENARIO_BINS),--bin $(s))

# --- benchmark (tests/bench/README.md) -----------------------------------------
CHURN := $(OUTPUT)/tests/bench/churn
$(CHURN): tests/bench/churn.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O2 -Wall -Wextra -std=gnu11 -pthread $< -o $@

# The user-space engine alone, ns per record (no root): run it by hand.
$(OUTPUT)/tests/bench/engine_micro: tests/bench/engine_micro.c $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -O2 $< $(LIB_OBJS) $(LDLIBS) -o $@

# latency__add() alone, ns per record (no root): run it by hand.
$(OUTPUT)/tests/bench/latency_micro: tests/bench/latency_micro.c $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $< $(LIB_OBJS) $(LDLIBS) -o $@

# The reconcile's sock_diag census against many sockets (root): run it by hand.
$(OUTPUT)/tests/bench/census_micro: tests/bench/census_micro.c $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -O2 $< $(LIB_OBJS) $(LDLIBS) -o $@

# BENCH_ARGS=--quick for a short run.
bench: deps
	$(Q)$(MAKE) all $(CHURN)
	tests/bench/run-bench --tracer ./tcpstate-trace --churn $(CHURN) \
		--json-out $(OUTPUT)/bench/results.json $(BENCH_ARGS)

# --- install -----------------------------------------------------------------
# The service unit goes where systemd looks for the prefix's units
# (/usr/local/lib/systemd/system by default), ExecStart at the binary.
UNITDIR ?= $(PREFIX)/lib/systemd/system
install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/sbin/tcpstate-trace
	install -D -m 0644 doc/tcpstate-trace.8 $(DESTDIR)$(PREFIX)/share/man/man8/tcpstate-trace.8
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|@SBINDIR@|$(PREFIX)/sbin|' dist/tcpstate-trace.service > $(DESTDIR)$(UNITDIR)/tcpstate-trace.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/tcpstate-trace.service

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/tcpstate-trace $(DESTDIR)$(PREFIX)/share/man/man8/tcpstate-trace.8 \
		$(DESTDIR)$(UNITDIR)/tcpstate-trace.service

# The unit as installed: systemd accepts every line of it, and its
# sandboxing stays where it is (tests/dist/check-unit).
test-dist: $(BIN)
	$(Q)tests/dist/check-unit

clean:
	$(call msg,CLEAN,$(OUTPUT) $(BIN))
	$(Q)rm -rf $(OUTPUT) $(BIN)
