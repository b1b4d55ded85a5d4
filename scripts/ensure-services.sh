#!/usr/bin/env bash
# Make sure the local PostgreSQL and RabbitMQ are up (this machine kind runs them natively).
# Where neither is installed, the tests fall back to testcontainers and a Docker engine.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! port_open 5432 && command -v pg_ctlcluster >/dev/null; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
fi
if ! port_open 5672 && command -v rabbitmq-server >/dev/null; then
  echo "starting RabbitMQ"
  rabbitmq-server -detached
  rabbitmqctl await_startup >/dev/null
fi
for _ in $(seq 1 60); do
  if port_open 5432 && port_open 5672; then exit 0; fi
  sleep 1
done
echo "PostgreSQL (5432) or RabbitMQ (5672) is not reachable on 127.0.0.1" >&2
command -v docker >/dev/null && echo "(tests will try testcontainers)" >&2
exit 0
