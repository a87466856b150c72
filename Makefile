# pgerp: one shared library (pgerp.so) and three extensions built with PGXS.
# The version lives only in pgerp.control; the install scripts are assembled
# from sql/<domain>/*.sql by the ordered manifests in extension/.

EXTENSION    = pgerp pgerp_stock pgerp_mrp
MODULE_big   = pgerp
PGERP_VERSION := $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" pgerp.control)

# src/restd/ is the HTTP gateway, a program of its own (src/restd/restd.mk).
SRCS        := $(sort $(filter-out src/restd/%,$(wildcard src/*/*.c)))
OBJS         = $(SRCS:.c=.o)

BUILT_SQL    = $(foreach e,$(EXTENSION),sql/$(e)--$(PGERP_VERSION).sql)
DATA_built   = $(BUILT_SQL)
# Upgrade scripts, and the released install scripts of earlier versions
# (test/upgrade/<version>/) so that an old version can be installed and updated.
DATA         = $(wildcard migrations/*--*--*.sql) $(wildcard test/upgrade/*/pgerp*--*.sql)

PG_CPPFLAGS  = -Isrc/include -DPGERP_VERSION_STR=\"$(PGERP_VERSION)\"
# -Wno-unused-parameter: PostgreSQL 15 headers (ilist.h, bufpage.h, fmgr.h) and
# every callback signature trip -Wextra's unused-parameter check.
PG_CFLAGS    = -Wall -Wextra -Werror -Wno-unused-parameter
# -MMD -MP: each object's header dependencies in a .d file next to it, so a
# changed header rebuilds what includes it
PG_CFLAGS   += -MMD -MP
SHLIB_LINK   = -lcrypto -ljson-c -lpwquality
EXTRA_CLEAN  = $(BUILT_SQL) $(OBJS:.o=.d)

# make installcheck runs the pgTAP suites on a running server (scripts/installcheck.sh).
NO_INSTALLCHECK = 1
PG_CONFIG   ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
PGXS        := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)

.DEFAULT_GOAL := all

ifneq ($(PGXS),)
include $(PGXS)
else
all install clean:
	@echo "pg_config not found: run 'make start' (installs PostgreSQL 15 and its headers) or scripts/deps.sh" >&2; exit 1
endif

# The gateway pgerp-rest, built and installed next to PostgreSQL's programs.
-include src/restd/restd.mk

-include $(OBJS:.o=.d)

# sql/<ext>--<version>.sql = guard line + the files listed in extension/<ext>.manifest, in order.
sql/%--$(PGERP_VERSION).sql: extension/%.manifest scripts/assemble.sh $(shell cat extension/*.manifest 2>/dev/null | sed -e 's/#.*//' -e '/^ *$$/d')
	scripts/assemble.sh $* $< $@

.PHONY: start stop psql reset test deps installcheck start-ha ha-uri failover stop-ha backup
installcheck:
	@scripts/installcheck.sh
deps:
	@scripts/deps.sh
start:
	@scripts/deps.sh
	@scripts/start.sh
stop:
	@scripts/cluster.sh stop
psql:
	@scripts/cluster.sh psql
reset:
	@scripts/cluster.sh reset
test:
	@scripts/deps.sh
	@scripts/test.sh
# High availability on one machine (scripts/ha.sh, docs/ha.md).
start-ha:
	@scripts/deps.sh
	@scripts/ha.sh start
ha-uri:
	@scripts/ha.sh uri
failover:
	@scripts/ha.sh failover
stop-ha:
	@scripts/ha.sh stop
backup:
	@scripts/ha.sh backup
