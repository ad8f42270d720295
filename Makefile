# rce: the builds.  ./deploy.sh calls these targets after installing what they
# need (./deploy.sh deps); each also works by hand.
#
#   make                the nginx module and workerd
#   make module         build/nginx/objs/ngx_rce_module.so: out of tree, against
#                       Debian's nginx (nginx-dev), checked with nginx -t
#   make workerd        workerd/workerd (RCE_SANITIZE=1: workerd/workerd-asan)
#   make workerd-asan   workerd/workerd-asan (AddressSanitizer and UBSan)
#   make check          workerd's unit tests      (check-asan: with the sanitizers), and
#                       the gateway's (ngx_rce_module/test)
#   make loadtest       loadtest/rce-load and loadtest/curl-floor (loadtest-check)
#   make images         docker/build-images.sh $(IMAGES): the base and language images
#   make playground     build/playground: the page the gateway serves at / and widget.js
#                       (npm ci in playground/ when its lock changed, then esbuild)
#   make test           all of the above that the tests need, then
#                       prove $(PROVE_ARGS) (default -r t/)
#   make test-env       the environment the tests read (RCE_MODULE_SO, RCE_WORKERD)
#   make fuzz           the libFuzzer targets (ngx_rce_module/fuzz, workerd/fuzz; clang),
#                       each run FUZZ_SECONDS (default 30) from its seed corpus: fails
#                       on any crash, leak or sanitizer report; prints executions per target
#   make clean
#
# The same environment as deploy.sh: RCE_BUILD_DIR (build/nginx), RCE_MODULE_DIR
# (the repository root), RCE_NGINX_SRC (/usr/share/nginx/src), RCE_NGX_CC_OPT,
# RCE_SANITIZE.  The module's sources are listed once, in ./config.

SHELL        := /bin/bash
.SHELLFLAGS  := -euo pipefail -c
.DELETE_ON_ERROR:

RCE_BUILD_DIR  ?= $(CURDIR)/build/nginx
RCE_MODULE_DIR ?= $(CURDIR)
RCE_NGINX_SRC  ?= /usr/share/nginx/src

SRC_DIR   = $(RCE_BUILD_DIR)/src
OBJ_DIR   = $(RCE_BUILD_DIR)/objs
MODULE_SO = $(OBJ_DIR)/ngx_rce_module.so
# Everything the module is built from; which of it is compiled, ./config says.
MODULE_INPUTS = $(wildcard $(RCE_MODULE_DIR)/ngx_rce_module/*.c $(RCE_MODULE_DIR)/ngx_rce_module/*.h \
                           $(RCE_MODULE_DIR)/common/*.c $(RCE_MODULE_DIR)/common/*.h \
                           $(RCE_MODULE_DIR)/include/*.h)

ifeq ($(RCE_SANITIZE),1)
WORKERD_GOAL = asan
WORKERD_BIN  = $(CURDIR)/workerd/workerd-asan
else
WORKERD_GOAL = all
WORKERD_BIN  = $(CURDIR)/workerd/workerd
endif

.PHONY: all module workerd workerd-asan check check-asan gateway-check loadtest loadtest-check images playground test test-env fuzz fuzz-one fuzzers clean FORCE
all: module workerd

# --- the nginx module ---------------------------------------------------------

module: $(MODULE_SO) $(OBJ_DIR)/smoke.ok
	@echo "[make] module: $(MODULE_SO)"

# $(call keep_if_same,FILE): move FILE.tmp over FILE only if they differ, so that
# FILE's mtime says when its content last changed.
keep_if_same = if cmp -s $(1).tmp $(1); then rm -f $(1).tmp; else mv -f $(1).tmp $(1); fi

# The nginx-dev version; the module must be built from the nginx that loads it.
$(RCE_BUILD_DIR)/nginx-dev.version: FORCE
	@[[ -f $(RCE_NGINX_SRC)/configure && -f $(RCE_NGINX_SRC)/conf_flags ]] || { \
	    echo "[make] ERROR: no nginx source in $(RCE_NGINX_SRC): install nginx-dev (apt-get install -y nginx-dev), then rerun" >&2; exit 1; }
	@[[ -f $(RCE_MODULE_DIR)/config ]] || { \
	    echo "[make] ERROR: no nginx addon config at $(RCE_MODULE_DIR)/config: the module cannot be built without it" >&2; exit 1; }
	@dev=$$(dpkg-query -W -f '$${Version}' nginx-dev 2>/dev/null || echo unknown); \
	if command -v nginx >/dev/null 2>&1; then \
	    bin=$$(nginx -v 2>&1 | sed -n 's|.*nginx/\([0-9.]*\).*|\1|p'); \
	    if [[ -n $$bin && $$dev != unknown && $$bin != "$${dev%%-*}" ]]; then \
	        echo "[make] ERROR: nginx is $$bin but nginx-dev is $${dev%%-*}: the module would not load. Run 'apt-get install nginx nginx-dev' to align them, then rerun" >&2; exit 1; \
	    fi; \
	else \
	    echo "[make] WARNING: no nginx binary on PATH: the tests will need one (apt-get install nginx)" >&2; \
	fi; \
	mkdir -p $(@D); printf '%s\n' "$$dev" >$@.tmp; $(call keep_if_same,$@)

# The other inputs of configure: the paths, the extra compiler flags, Debian's flags.
$(RCE_BUILD_DIR)/configure.inputs: FORCE
	@mkdir -p $(@D)
	@{ printf 'module %s\nobjs %s\ncc-opt %s\n' '$(RCE_MODULE_DIR)' '$(OBJ_DIR)' "$${RCE_NGX_CC_OPT:-}"; \
	   cat $(RCE_NGINX_SRC)/conf_flags; } >$@.tmp; $(call keep_if_same,$@)

# A private copy of the nginx source (configure writes into its tree), made
# afresh with everything built from it when nginx-dev changes.
$(SRC_DIR)/.rce-copied: $(RCE_BUILD_DIR)/nginx-dev.version
	@echo "[make] copying $(RCE_NGINX_SRC) (nginx-dev $$(cat $<)) to $(SRC_DIR)"
	@rm -rf $(SRC_DIR) $(OBJ_DIR)
	@cp -a $(RCE_NGINX_SRC) $(SRC_DIR)
	@touch $@

# The module's Redis scripts: ./config embeds them when configure runs.
MODULE_LUA = $(wildcard $(RCE_MODULE_DIR)/ngx_rce_module/lua/*.lua)

# configure: only when the addon config, its scripts, the flags or the nginx
# source changed.  conf_flags is Debian's, and defines the bash array
# NGX_CONF_FLAGS.
$(OBJ_DIR)/Makefile: $(RCE_MODULE_DIR)/config $(MODULE_LUA) $(RCE_BUILD_DIR)/configure.inputs $(SRC_DIR)/.rce-copied
	@sh $(CURDIR)/workerd/lua/check.sh $(MODULE_LUA)
	@echo "[make] configure ($(RCE_MODULE_DIR)/config or the nginx flags changed; log: $(RCE_BUILD_DIR)/configure.log)"
	@mkdir -p $(OBJ_DIR)
	@cd $(SRC_DIR) && NGX_CONF_FLAGS=() && . ./conf_flags \
	    && ./configure "$${NGX_CONF_FLAGS[@]}" $${RCE_NGX_CC_OPT:+"--with-cc-opt=$$RCE_NGX_CC_OPT"} \
	           --add-dynamic-module=$(RCE_MODULE_DIR) --builddir=$(OBJ_DIR) >$(RCE_BUILD_DIR)/configure.log 2>&1 \
	    || { rm -f $@; tail -n 25 $(RCE_BUILD_DIR)/configure.log >&2; \
	         echo "[make] ERROR: nginx configure failed (last lines above, full log $(RCE_BUILD_DIR)/configure.log): check $(RCE_MODULE_DIR)/config and that the -dev packages (libhiredis-dev, libjansson-dev, ...) are installed" >&2; exit 1; }

# nginx's Makefile tracks the .c files and the headers ./config lists in
# ngx_module_deps; a changed header it may not know of recompiles the module.
$(MODULE_SO): $(OBJ_DIR)/Makefile $(MODULE_INPUTS)
	@$(if $(filter %.h,$?),rm -f $(OBJ_DIR)/addon/*/*.o)
	@echo "[make] make -f $(OBJ_DIR)/Makefile -C $(SRC_DIR) modules"
	@+$(MAKE) -s -f $(OBJ_DIR)/Makefile -C $(SRC_DIR) modules || { \
	    echo "[make] ERROR: building the nginx module failed (compiler output above; warnings are errors: nginx builds with -Werror). Fix the code and rerun 'make module'" >&2; exit 1; }
	@[[ -f $@ ]] || { echo "[make] ERROR: make succeeded but $@ is missing: does $(RCE_MODULE_DIR)/config name the module ngx_rce_module?" >&2; exit 1; }
	@touch $@

# Smoke test: the module loads into this nginx.
$(OBJ_DIR)/smoke.ok: $(MODULE_SO)
	@if command -v nginx >/dev/null 2>&1; then \
	    printf 'load_module %s;\nerror_log stderr;\npid %s/smoke.pid;\nevents {}\n' $< $(OBJ_DIR) >$(OBJ_DIR)/smoke.conf; \
	    nginx -t -q -p $(OBJ_DIR) -c $(OBJ_DIR)/smoke.conf || { \
	        echo "[make] ERROR: nginx cannot load $< (nginx -t -c $(OBJ_DIR)/smoke.conf failed, output above)" >&2; exit 1; }; \
	    echo "[make] nginx -t loads the module"; \
	fi
	@touch $@

# --- workerd and the load generator: their own Makefiles ----------------------

workerd:
	@+$(MAKE) -C workerd $(WORKERD_GOAL) || { \
	    echo "[make] ERROR: 'make -C workerd $(WORKERD_GOAL)' failed (output above): fix workerd and rerun" >&2; exit 1; }
	@[[ -x $(WORKERD_BIN) ]] || { echo "[make] ERROR: the workerd build succeeded but $(WORKERD_BIN) is missing: check workerd/Makefile's targets" >&2; exit 1; }

workerd-asan:
	+$(MAKE) -C workerd asan

check check-asan: gateway-check
	@+$(MAKE) -C workerd $@ || { \
	    echo "[make] ERROR: workerd's unit tests failed ('make -C workerd $@', output above): fix them and rerun" >&2; exit 1; }

loadtest:
	+$(MAKE) -C loadtest

loadtest-check:
	+$(MAKE) -C loadtest check

# --- images and tests ---------------------------------------------------------

images:
	@$(CURDIR)/docker/build-images.sh $(IMAGES) || { \
	    echo "[make] ERROR: docker/build-images.sh failed (above): fix what it names, then rerun" >&2; exit 1; }

# --- the playground (playground/, docs/playground.md) -----------------------------

PLAYGROUND_OUT ?= $(CURDIR)/build/playground
PLAYGROUND_INPUTS = $(wildcard playground/src/*.* playground/src/lib/*.js docker/lang/*/smoke.src) playground/build.mjs

playground: $(PLAYGROUND_OUT)/index.html
	@echo "[make] playground: $(PLAYGROUND_OUT)"

# npm ci again only when the lock changed (the same rule as deploy.sh's for t/js)
playground/node_modules/.package-lock.json: playground/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "[make] ERROR: no npm: apt-get install -y nodejs npm (./deploy.sh test does), then rerun" >&2; exit 1; }
	npm ci --prefix playground --no-audit --no-fund --loglevel=error || { \
	    echo "[make] ERROR: npm ci in playground/ failed (above): check that this host reaches the npm registry (npm ping)" >&2; exit 1; }
	@touch $@

$(PLAYGROUND_OUT)/index.html: $(PLAYGROUND_INPUTS) playground/node_modules/.package-lock.json
	cd playground && node build.mjs --out $(PLAYGROUND_OUT)

test-env:
	@printf 'RCE_MODULE_SO=%s\nRCE_WORKERD=%s\n' $(MODULE_SO) $(WORKERD_BIN)

test: workerd check module images playground
	cd $(CURDIR) && RCE_MODULE_SO=$(MODULE_SO) RCE_WORKERD=$(WORKERD_BIN) prove $(or $(PROVE_ARGS),-r t/)

# --- fuzzing ------------------------------------------------------------------

FUZZ_SECONDS ?= 30
FUZZ_DIR      = $(RCE_BUILD_DIR)/fuzz
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# the module's headers as ./configure laid them out (make module first)
FUZZ_NGX_INCS = -I$(SRC_DIR)/src/core -I$(SRC_DIR)/src/event -I$(SRC_DIR)/src/event/modules -I$(SRC_DIR)/src/os/unix \
                -I$(OBJ_DIR) -I$(RCE_MODULE_DIR)/include -I$(RCE_MODULE_DIR)/common -I$(RCE_MODULE_DIR)/ngx_rce_module
GATEWAY_FUZZERS = input result piston keys
FUZZ_STAND_IN   = ngx_rce_module/fuzz/ngx_core_stand_in.c common/rce_base64.c
WORKERD_FUZZERS = allow demux job judge labels stream wrapper

# each target: its file, the module's nginx-free files it reads (and the code it shares
# with workerd), and the stand-in for the nginx core function those call
FUZZ_input_SRCS  = ngx_rce_module/ngx_rce_input.c
FUZZ_result_SRCS = ngx_rce_module/ngx_rce_result.c common/rce_render.c
FUZZ_piston_SRCS = ngx_rce_module/ngx_rce_piston_input.c ngx_rce_module/ngx_rce_input.c
FUZZ_keys_SRCS   = ngx_rce_module/ngx_rce_keys_file.c

.SECONDEXPANSION:
$(FUZZ_DIR)/fuzz_%: ngx_rce_module/fuzz/fuzz_%.c $$(FUZZ_$$*_SRCS) $(FUZZ_STAND_IN) \
                    ngx_rce_module/ngx_rce_input.h ngx_rce_module/ngx_rce_result.h include/rce_protocol.h \
                    ngx_rce_module/ngx_rce_piston_input.h ngx_rce_module/fuzz/ngx_rce_fuzz_check.h \
                    ngx_rce_module/ngx_rce_keys_file.h \
                    common/rce_base64.h common/rce_render.h | $(MODULE_SO)
	@mkdir -p $(FUZZ_DIR)
	clang -O1 -g -Wall -Wextra -Werror $(FUZZ_SAN) -fsanitize=fuzzer $(FUZZ_NGX_INCS) \
	    $< $(FUZZ_$*_SRCS) $(FUZZ_STAND_IN) -o $@ -ljansson

# the gateway's nginx-free files, unit-tested against the module's headers as ./configure
# laid them out (hence after the module), with the nginx core stand-in of the fuzz targets
GATEWAY_TESTS = piston keys
TEST_piston_SRCS = ngx_rce_module/ngx_rce_piston_input.c ngx_rce_module/ngx_rce_input.c
TEST_keys_SRCS   = ngx_rce_module/ngx_rce_keys_file.c

gateway-check: $(GATEWAY_TESTS:%=$(RCE_BUILD_DIR)/test/test_%)
	@for t in $^; do $$t >$$t.log 2>&1 || { cat $$t.log >&2; \
	    echo "[make] ERROR: the gateway's unit test $$t failed (above)" >&2; exit 1; }; \
	    echo "[make] $$(basename $$t): $$(grep -c '^ok' $$t.log) checks passed"; done

$(RCE_BUILD_DIR)/test/test_%: ngx_rce_module/test/test_%.c $$(TEST_$$*_SRCS) $(FUZZ_STAND_IN) \
                              ngx_rce_module/ngx_rce_input.h ngx_rce_module/ngx_rce_piston_input.h \
                              ngx_rce_module/ngx_rce_keys_file.h \
                              include/rce_protocol.h common/rce_base64.h | $(MODULE_SO)
	@mkdir -p $(@D)
	$(CC) -O1 -g -Wall -Wextra -Werror $(FUZZ_NGX_INCS) $< $(TEST_$*_SRCS) $(FUZZ_STAND_IN) -o $@ -ljansson

fuzzers: $(GATEWAY_FUZZERS:%=$(FUZZ_DIR)/fuzz_%)
	+$(MAKE) -C workerd fuzzers

# Each target from a fresh work corpus (the seeds stay as they are), with leak detection;
# a finding is left in build/nginx/fuzz/<target>/ (crash-*, leak-*) and fails the run.
# FUZZ_JOBS targets at a time (default: one per cpu; each is single-threaded).
FUZZ_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
FUZZ_TARGETS = $(GATEWAY_FUZZERS:%=gateway/%) $(WORKERD_FUZZERS:%=workerd/%)

fuzz: fuzzers
	@printf '%s\n' $(FUZZ_TARGETS) | xargs -P $(FUZZ_JOBS) -I{} $(MAKE) --no-print-directory fuzz-one FUZZ_TARGET={} \
	    || { echo "[make] fuzz: a target FOUND a crash, leak or sanitizer report (above)" >&2; exit 1; }

fuzz-one:
	@t=$(FUZZ_TARGET); name=$${t#*/}; \
	if [[ $$t == gateway/* ]]; then bin=$(FUZZ_DIR)/fuzz_$$name; seeds=ngx_rce_module/fuzz/corpus/$$name; \
	else bin=workerd/build-fuzz/fuzz_$$name; seeds=workerd/fuzz/corpus/$$name; fi; \
	work=$(FUZZ_DIR)/$$name; rm -rf $$work; mkdir -p $$work/corpus; \
	if ! $$bin -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -detect_leaks=1 \
	        -artifact_prefix=$$work/ $$work/corpus $$seeds >$$work/log 2>&1; then \
	    tail -n 60 $$work/log >&2; echo "[make] fuzz: $$t FOUND a crash, leak or sanitizer report: $$work" >&2; exit 1; \
	fi; \
	echo "[make] fuzz: $$t: $$(sed -n 's/^stat::number_of_executed_units: //p' $$work/log) runs in $(FUZZ_SECONDS) s, corpus $$(ls $$work/corpus | wc -l) inputs, nothing found"

clean:
	rm -rf $(RCE_BUILD_DIR)
	+$(MAKE) -C workerd clean
	+$(MAKE) -C loadtest clean

FORCE:
