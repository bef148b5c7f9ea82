#!/usr/bin/env bash
# System packages the storage and delivery tests need (real servers, started by the test fixtures
# on 127.0.0.1 in temporary folders): PostgreSQL 15 (initdb/pg_ctl/postgres), Mosquitto 2.0
# (mosquitto, mosquitto_passwd) and nats-server 2.9 with JetStream (tests/delivery/test_nats.py).
# Without them those tests skip with a reason; nothing else needs them.
set -euo pipefail

need=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || command -v initdb >/dev/null 2>&1 || need+=(postgresql-15)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_passwd >/dev/null 2>&1 || need+=(mosquitto)
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    # policy-rc.d-less containers may try to start the packaged services; the tests do not use them.
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
