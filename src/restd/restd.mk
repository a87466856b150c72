# pgerp-rest, the HTTP gateway (docs/gateway.md): a program of its own,
# built by `make` and installed next to PostgreSQL's programs by `make install`.
# Needs libmicrohttpd-dev, libpq-dev and libjson-c-dev (scripts/deps.sh).
RESTD_SRCS := $(sort $(wildcard src/restd/*.c))
RESTD_OBJS := $(RESTD_SRCS:.c=.o)
RESTD_BIN  := src/restd/pgerp-rest
RESTD_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -O2 -pthread -MMD -MP -I$(shell $(PG_CONFIG) --includedir)
RESTD_LIBS := -L$(shell $(PG_CONFIG) --libdir) -lmicrohttpd -lpq -ljson-c -lm -pthread

all: $(RESTD_BIN)

src/restd/%.o: src/restd/%.c
	$(CC) $(RESTD_CFLAGS) -c -o $@ $<

$(RESTD_BIN): $(RESTD_OBJS)
	$(CC) -o $@ $^ $(RESTD_LIBS)

.PHONY: install-restd clean-restd
install: install-restd
install-restd: $(RESTD_BIN)
	$(INSTALL_PROGRAM) $(RESTD_BIN) '$(DESTDIR)$(bindir)/pgerp-rest'

clean: clean-restd
clean-restd:
	rm -f $(RESTD_BIN) $(RESTD_OBJS) $(RESTD_OBJS:.o=.d)

-include $(RESTD_OBJS:.o=.d)
