# rspamd for quietmail: Debian's package with the privacy-keeping configuration in
# config/rspamd/ (no history, no statistics, no controller, no address in its log).
#
# Built by docker/compose.yaml; quietmail reaches it at http://rspamd:11333.

FROM debian:bookworm-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends rspamd \
    && rm -rf /var/lib/apt/lists/*

COPY config/rspamd /etc/quietmail-rspamd
# Inside the compose network the scanner listens on every interface (port 11333 is not
# published on the host).
RUN printf 'bind_socket = "*:11333";\n' > /etc/quietmail-rspamd/override.d/worker-normal.inc

USER _rspamd
CMD ["rspamd", "-f", "-c", "/etc/rspamd/rspamd.conf", "--var=LOCAL_CONFDIR=/etc/quietmail-rspamd", \
     "--var=DBDIR=/tmp", "--var=RUNDIR=/tmp", "--var=LOGDIR=/tmp"]
