#!/usr/bin/env bash
# Services the tests need that pip cannot install: a PostgreSQL server (the journal's tests run against it)
# and Chromium (the HTML report's browser test). Debian packages, as root; sourced by .ci/run, which then
# exports the variables below. Safe to run again: what is there already is kept.
set -euo pipefail

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "services: not root on Debian; the PostgreSQL and browser tests will be skipped" >&2
    return 0 2>/dev/null || exit 0
fi

missing=()
command -v chromium >/dev/null || missing+=(chromium)
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" fonts-dejavu-core >/dev/null
fi

version=$(ls /usr/lib/postgresql | sort -V | tail -1)
[ -d "/etc/postgresql/$version/main" ] || pg_createcluster "$version" main >/dev/null
pg_ctlcluster "$version" main status >/dev/null 2>&1 || pg_ctlcluster "$version" main start
for _ in $(seq 1 30); do
    runuser -u postgres -- pg_isready -q && break
    sleep 0.5
done
role=$(runuser -u postgres -- psql -q -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'rebal_test'")
[ "$role" = 1 ] || runuser -u postgres -- psql -q -c "CREATE ROLE rebal_test LOGIN CREATEDB PASSWORD 'rebal_test'"

# The tests create and drop one database per test through this role.
export REBAL_OPT_TEST_POSTGRES_URL="postgresql://rebal_test:rebal_test@127.0.0.1:5432/postgres"
export REBAL_OPT_TEST_CHROMIUM=/usr/bin/chromium
# In CI a missing service fails its tests instead of skipping them.
export REBAL_OPT_REQUIRE_SERVICES=1
