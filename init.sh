#!/usr/bin/env bash
# KNU MES local boot.
#
#   ./init.sh           boot everything (idempotent: what already runs is left alone)
#   ./init.sh stop      stop what init.sh started, and nothing else
#   ./init.sh status    show what runs
#   ./init.sh test      install test prerequisites and run the whole test suite
#
# Every setting comes from env.sh. State (private PostgreSQL, logs, pids) lives in $MES_HOME.
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=env.sh
source ./env.sh

VENV="$MES_ROOT/.venv"
RUN="$MES_HOME/run"
LOGS="$MES_HOME/log"
PGDATA_PRIVATE="$MES_HOME/pg/data"
mkdir -p "$RUN" "$LOGS"

APT_RUNTIME=(postgresql mosquitto openjdk-17-jre-headless maven unzip curl)
APT_TEST=(chromium)

# --- output --------------------------------------------------------------------------------------
STEP=0
TOTAL=11
if [ -t 1 ]; then G=$'\e[32m' Y=$'\e[33m' R=$'\e[31m' B=$'\e[1m' N=$'\e[0m'; else G='' Y='' R='' B='' N=''; fi
step() { STEP=$((STEP + 1)); printf '%s[%2d/%d] %s%s\n' "$B" "$STEP" "$TOTAL" "$1" "$N"; }
ok() { printf '       %sok%s      %s\n' "$G" "$N" "$*"; }
pending() { printf '       %spending%s %s\n' "$Y" "$N" "$*"; }
fail() { printf '       %sFAILED%s  %s\n' "$R" "$N" "$*" >&2; exit 1; }
info() { printf '               %s\n' "$*"; }

is_root() { [ "$(id -u)" = 0 ]; }
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local timeout=$1 what=$2 i
  shift 2
  for ((i = 0; i < timeout * 5; i++)); do "$@" && return 0; sleep 0.2; done
  fail "timed out after ${timeout}s waiting for $what"
}
pid_alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

# start_bg NAME COMMAND...: run in its own session, log to $LOGS/NAME.log, pid in $RUN/NAME.pid
start_bg() {
  local name=$1
  shift
  setsid nohup "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

stop_bg() { # stop_bg NAME: TERM the process group, KILL after 20 s
  local name=$1 pid i
  pid_alive "$name" || { rm -f "$RUN/$name.pid"; return 1; }
  pid=$(cat "$RUN/$name.pid")
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$pid" 2>/dev/null && kill -KILL -- "-$pid" 2>/dev/null
  rm -f "$RUN/$name.pid"
  return 0
}

# --- prerequisites -------------------------------------------------------------------------------
apt_missing() {
  local pkg missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  echo "${missing[@]:-}"
}

ensure_apt() {
  local missing
  missing=$(apt_missing "$@")
  [ -z "$missing" ] && return 0
  if ! command -v apt-get >/dev/null; then
    fail "missing system packages: $missing (install them with your package manager)"
  fi
  if is_root; then
    info "installing: $missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >>"$LOGS/apt.log" 2>&1
    # shellcheck disable=SC2086
    apt-get install -y -qq $missing >>"$LOGS/apt.log" 2>&1 || fail "apt-get install failed; see $LOGS/apt.log"
  else
    fail "missing system packages; run: sudo apt-get install -y $missing"
  fi
}

python_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }

ensure_python() { # ensure_python EXTRAS
  local extras=$1 py stamp want
  if [ ! -x "$VENV/bin/python" ]; then
    py=""
    for candidate in python3.13 python3.12 python3.11 python3; do
      if command -v "$candidate" >/dev/null && python_ok "$candidate"; then py=$candidate; break; fi
    done
    [ -n "$py" ] || fail "Python >= 3.11 not found (apt-get install python3 python3-venv)"
    "$py" -m venv "$VENV" || fail "cannot create $VENV (apt-get install python3-venv)"
  fi
  stamp="$VENV/.installed"
  want="$(sha256sum pyproject.toml | cut -c1-16)-$extras"
  # the dev extras include the runtime ones, so a dev install also satisfies a plain one
  if ! grep -qx "$want" "$stamp" 2>/dev/null &&
    ! { [ -z "$extras" ] && grep -qx "${want}dev" "$stamp" 2>/dev/null; }; then
    local target="."
    [ -n "$extras" ] && target=".[$extras]"
    info "pip install -e $target (log: $LOGS/pip.log)"
    "$VENV/bin/python" -m pip install -q --upgrade pip >>"$LOGS/pip.log" 2>&1
    "$VENV/bin/python" -m pip install -q -e "$target" >>"$LOGS/pip.log" 2>&1 ||
      fail "pip install failed; see $LOGS/pip.log"
    echo "$want" >"$stamp"
  fi
  export PATH="$VENV/bin:$PATH"
}

ensure_ui_build() {
  if [ ! -f ui/package.json ]; then
    pending "UI: not built yet (issue: 14-menu React UI)"
    return 0
  fi
  command -v npm >/dev/null || fail "npm not found (apt-get install nodejs npm)"
  local stamp="ui/node_modules/.mes-installed" want
  want=$(sha256sum ui/package-lock.json 2>/dev/null | cut -c1-16)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    (cd ui && npm ci --no-audit --no-fund >>"$LOGS/npm.log" 2>&1) || fail "npm ci failed; see $LOGS/npm.log"
    echo "$want" >"$stamp"
  fi
  (cd ui && npm run build >>"$LOGS/npm.log" 2>&1) || fail "UI build failed; see $LOGS/npm.log"
  ok "UI built into ui/dist"
}

# --- PostgreSQL ----------------------------------------------------------------------------------
psql_app() { PGPASSWORD="$MES_DB_PASSWORD" psql -h "$MES_DB_HOST" -p "$MES_DB_PORT" -U "$MES_DB_USER" -d "$MES_DB_NAME" -Atqc "$1"; }
pg_login_ok() { psql_app "SELECT 1" >/dev/null 2>&1; }
pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && echo "$d"; done | sort -V | tail -1
}
as_pg_owner() { if is_root; then runuser -u postgres -- "$@"; else "$@"; fi; }

# provision_db SUPERUSER_PSQL...: create the application and Keycloak roles/databases if missing
provision_db() {
  local sql
  sql=$(cat <<SQL
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', '$MES_DB_USER', '$MES_DB_PASSWORD')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$MES_DB_USER') \gexec
SELECT format('ALTER ROLE %I PASSWORD %L', '$MES_DB_USER', '$MES_DB_PASSWORD') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', '$MES_DB_NAME', '$MES_DB_USER')
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$MES_DB_NAME') \gexec
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', '$MES_KEYCLOAK_DB_NAME', '$MES_KEYCLOAK_DB_PASSWORD')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$MES_KEYCLOAK_DB_NAME') \gexec
SELECT format('ALTER ROLE %I PASSWORD %L', '$MES_KEYCLOAK_DB_NAME', '$MES_KEYCLOAK_DB_PASSWORD') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', '$MES_KEYCLOAK_DB_NAME', '$MES_KEYCLOAK_DB_NAME')
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$MES_KEYCLOAK_DB_NAME') \gexec
SQL
)
  "$@" -v ON_ERROR_STOP=1 -q <<<"$sql" >>"$LOGS/postgres-provision.log" 2>&1
}

private_pg_start() {
  local bin
  bin=$(pg_bin)
  [ -n "$bin" ] || fail "PostgreSQL server binaries not found"
  if [ ! -f "$PGDATA_PRIVATE/PG_VERSION" ]; then
    info "creating a private cluster in $PGDATA_PRIVATE"
    mkdir -p "$PGDATA_PRIVATE"
    is_root && chown -R postgres:postgres "$MES_HOME/pg"
    as_pg_owner "$bin/initdb" -D "$PGDATA_PRIVATE" -U postgres --auth-local=trust \
      --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >>"$LOGS/postgres.log" 2>&1 ||
      fail "initdb failed; see $LOGS/postgres.log"
  fi
  is_root && chown postgres:postgres "$LOGS" && touch "$LOGS/postgres.log" && chown postgres "$LOGS/postgres.log"
  as_pg_owner "$bin/pg_ctl" -D "$PGDATA_PRIVATE" -l "$LOGS/postgres.log" -w -t 60 start \
    -o "-p $MES_DB_PORT -c listen_addresses=$MES_DB_HOST -c unix_socket_directories=$PGDATA_PRIVATE" \
    >/dev/null || fail "PostgreSQL did not start; see $LOGS/postgres.log"
  touch "$RUN/postgres.owned"
  provision_db as_pg_owner "$bin/psql" -h "$PGDATA_PRIVATE" -p "$MES_DB_PORT" -U postgres -d postgres ||
    fail "could not create roles/databases; see $LOGS/postgres-provision.log"
}

ensure_postgres() {
  if pg_login_ok; then
    ok "PostgreSQL at $MES_DB_HOST:$MES_DB_PORT (database $MES_DB_NAME reachable)"
    return 0
  fi
  local private_psql=(as_pg_owner "$(pg_bin)/psql" -h "$PGDATA_PRIVATE" -p "$MES_DB_PORT" -U postgres -d postgres)
  if ! port_open "$MES_DB_HOST" "$MES_DB_PORT"; then
    private_pg_start
  elif [ -f "$RUN/postgres.owned" ]; then
    provision_db "${private_psql[@]}" || fail "could not create roles/databases; see $LOGS/postgres-provision.log"
  elif is_root && runuser -u postgres -- psql -p "$MES_DB_PORT" -Atqc 'SELECT 1' >/dev/null 2>&1; then
    # this machine's own cluster listens on the port: give it our role and databases
    provision_db runuser -u postgres -- psql -p "$MES_DB_PORT" -d postgres ||
      fail "could not create roles/databases; see $LOGS/postgres-provision.log"
    pg_login_ok || fail "created $MES_DB_USER but cannot log in over TCP (check pg_hba.conf)"
    ok "PostgreSQL at $MES_DB_HOST:$MES_DB_PORT (system cluster; role and database created)"
    return 0
  else
    fail "a server listens on $MES_DB_HOST:$MES_DB_PORT but MES_DB_USER=$MES_DB_USER cannot log in: create that role and the database MES_DB_NAME=$MES_DB_NAME with the password from $MES_SECRETS_FILE, or set MES_DB_PORT to a free port"
  fi
  pg_login_ok || fail "PostgreSQL runs but login as $MES_DB_USER fails; see $LOGS/postgres-provision.log"
  ok "PostgreSQL (private cluster on $MES_DB_HOST:$MES_DB_PORT, data in $PGDATA_PRIVATE)"
}

# --- Mosquitto -----------------------------------------------------------------------------------
ensure_mosquitto() {
  if port_open "$MES_MQTT_HOST" "$MES_MQTT_PORT"; then
    ok "MQTT broker at $MES_MQTT_HOST:$MES_MQTT_PORT$(pid_alive mosquitto && echo ' (started by init.sh)' || true)"
    return 0
  fi
  mkdir -p "$MES_HOME/mosquitto"
  cat >"$MES_HOME/mosquitto/mosquitto.conf" <<CONF
listener $MES_MQTT_PORT $MES_MQTT_HOST
allow_anonymous true
persistence true
persistence_location $MES_HOME/mosquitto/
max_queued_messages 1000000
max_inflight_messages 1000
$(is_root && echo "user root" || true)
CONF
  start_bg mosquitto "$(command -v mosquitto || echo /usr/sbin/mosquitto)" -c "$MES_HOME/mosquitto/mosquitto.conf"
  wait_for 20 "Mosquitto on $MES_MQTT_PORT" port_open "$MES_MQTT_HOST" "$MES_MQTT_PORT"
  ok "MQTT broker started at $MES_MQTT_HOST:$MES_MQTT_PORT (log: $LOGS/mosquitto.log)"
}

# --- Keycloak ------------------------------------------------------------------------------------
keycloak_ready() { curl -fsS "http://$MES_KEYCLOAK_HOST:$MES_KEYCLOAK_MANAGEMENT_PORT/health/ready" >/dev/null 2>&1; }

ensure_keycloak() {
  local i
  if ! keycloak_ready; then
    if ! pid_alive keycloak; then
      port_open "$MES_KEYCLOAK_HOST" "$MES_KEYCLOAK_PORT" &&
        fail "port MES_KEYCLOAK_PORT=$MES_KEYCLOAK_PORT is taken by another process"
      if [ ! -f "$MES_KEYCLOAK_CACHE/keycloak-quarkus-dist-$MES_KEYCLOAK_VERSION.zip" ] && ! command -v mvn >/dev/null; then
        ensure_apt maven
      fi
      info "preparing Keycloak $MES_KEYCLOAK_VERSION (fetched and built once in $MES_KEYCLOAK_CACHE)"
      "$VENV/bin/mes" auth keycloak --prepare >>"$LOGS/keycloak.log" 2>&1 ||
        fail "could not prepare Keycloak; see $LOGS/keycloak.log"
      start_bg keycloak "$VENV/bin/mes" auth keycloak
    fi
    for ((i = 0; i < MES_KEYCLOAK_START_TIMEOUT * 2; i++)); do
      keycloak_ready && break
      pid_alive keycloak || fail "Keycloak exited; see $LOGS/keycloak.log"
      sleep 0.5
    done
    keycloak_ready || fail "Keycloak is not ready after ${MES_KEYCLOAK_START_TIMEOUT}s; see $LOGS/keycloak.log"
  fi
  "$VENV/bin/mes" auth provision >>"$LOGS/keycloak-provision.log" 2>&1 ||
    fail "realm provisioning failed: $(tail -1 "$LOGS/keycloak-provision.log")"
  ok "Keycloak $MES_KEYCLOAK_VERSION on $MES_KEYCLOAK_URL, realm $MES_KEYCLOAK_REALM provisioned (log: $LOGS/keycloak.log)"
}

keycloak_summary() {
  local role var
  printf '  Keycloak     %s/realms/%s/account   (sign-in page of the realm)\n' "$MES_KEYCLOAK_URL" "$MES_KEYCLOAK_REALM"
  printf '               admin console %s/admin (user %s, password MES_KEYCLOAK_ADMIN_PASSWORD in the secrets file)\n' \
    "$MES_KEYCLOAK_URL" "$MES_KEYCLOAK_ADMIN_USER"
  printf '  Demo users   (username = role; password)\n'
  for role in operator engineer quality planner supervisor admin; do
    var="MES_DEMO_PASSWORD_${role^^}"
    printf '               %-11s %s\n' "$role" "${!var}"
  done
}

# --- the MES processes ---------------------------------------------------------------------------
api_ready() { curl -fsS "http://$MES_API_HOST:$MES_API_PORT/readyz" >/dev/null 2>&1; }

ensure_api() {
  if pid_alive api && api_ready; then
    ok "API already running on $MES_API_PUBLIC_URL"
    return 0
  fi
  if port_open "$MES_API_HOST" "$MES_API_PORT" && ! pid_alive api; then
    fail "port MES_API_PORT=$MES_API_PORT is taken by another process"
  fi
  stop_bg api || true
  start_bg api "$VENV/bin/mes" api
  local i
  for ((i = 0; i < 300; i++)); do
    api_ready && break
    pid_alive api || fail "the API exited; see $LOGS/api.log"
    sleep 0.2
  done
  api_ready || fail "the API is not ready after 60 s; see $LOGS/api.log"
  ok "API on $MES_API_PUBLIC_URL (log: $LOGS/api.log)"
}

# --- simulators ----------------------------------------------------------------------------------
sim_status() { curl -fsS "http://$MES_SIM_CONTROL_HOST:$MES_SIM_CONTROL_PORT/status" 2>/dev/null; }
sim_ready() { sim_status | grep -q '"ready":true'; }

# every server the running scenario has accepts connections on its port
sim_ports_open() {
  local status
  status=$(sim_status) || return 1
  if [[ $status == *'"opcua":'* ]]; then port_open "$MES_SIM_OPCUA_HOST" "$MES_SIM_OPCUA_PORT" || return 1; fi
  if [[ $status == *'"modbus":'* ]]; then port_open "$MES_SIM_MODBUS_HOST" "$MES_SIM_MODBUS_PORT" || return 1; fi
  return 0
}

ensure_sim() {
  local i port
  if pid_alive sim && sim_ready && sim_ports_open; then
    ok "simulated plant '$MES_SIM_SCENARIO' already running (control: http://$MES_SIM_CONTROL_HOST:$MES_SIM_CONTROL_PORT/status)"
    return 0
  fi
  if ! pid_alive sim; then
    for port in "$MES_SIM_CONTROL_PORT" "$MES_SIM_OPCUA_PORT" "$MES_SIM_MODBUS_PORT"; do
      port_open "$MES_SIM_CONTROL_HOST" "$port" &&
        fail "port $port (MES_SIM_CONTROL_PORT / MES_SIM_OPCUA_PORT / MES_SIM_MODBUS_PORT) is taken by another process"
    done
    start_bg sim "$VENV/bin/mes" sim
  fi
  for ((i = 0; i < 600; i++)); do
    sim_ready && sim_ports_open && break
    pid_alive sim || fail "the simulators exited: $(tail -1 "$LOGS/sim.log")"
    sleep 0.2
  done
  sim_ready && sim_ports_open || fail "the simulators are not ready after 120 s; see $LOGS/sim.log"
  ok "simulated plant '$MES_SIM_SCENARIO' (seed $MES_SIM_SEED, x$MES_SIM_SPEED): OPC UA opc.tcp://$MES_SIM_OPCUA_HOST:$MES_SIM_OPCUA_PORT/knu-mes/, Modbus TCP $MES_SIM_MODBUS_HOST:$MES_SIM_MODBUS_PORT, MQTT devices on $MES_MQTT_HOST:$MES_MQTT_PORT"
  info "control http://$MES_SIM_CONTROL_HOST:$MES_SIM_CONTROL_PORT/status, ground truth $MES_SIM_EVENT_LOG, log $LOGS/sim.log"
}

# --- edge gateway --------------------------------------------------------------------------------
gateway_ready() { curl -fsS "http://$MES_GATEWAY_METRICS_HOST:$MES_GATEWAY_METRICS_PORT/healthz" >/dev/null 2>&1; }

# The configuration: generated for the simulated plant (and regenerated on every run, so it follows
# the scenario) unless MES_GATEWAY_CONFIG is a file of the operator's own, which is left alone.
gateway_config() {
  local generated="written by \`mes sim export-gateway-config\`"
  if [ -f "$MES_GATEWAY_CONFIG" ] && ! head -3 "$MES_GATEWAY_CONFIG" | grep -qF "$generated"; then
    info "using $MES_GATEWAY_CONFIG (not generated: left as it is)"
    return 0
  fi
  if "$VENV/bin/mes" sim --help >/dev/null 2>&1; then
    mkdir -p "$(dirname "$MES_GATEWAY_CONFIG")"
    "$VENV/bin/mes" sim export-gateway-config --scenario "$MES_SIM_SCENARIO" --out "$MES_GATEWAY_CONFIG.tmp" \
      >>"$LOGS/gateway.log" 2>&1 || fail "mes sim export-gateway-config failed; see $LOGS/gateway.log"
    mv "$MES_GATEWAY_CONFIG.tmp" "$MES_GATEWAY_CONFIG"
    info "configuration for the simulated plant '$MES_SIM_SCENARIO' written to $MES_GATEWAY_CONFIG"
    return 0
  fi
  return 1
}

ensure_gateway() {
  if ! gateway_config; then
    pending "no configuration at MES_GATEWAY_CONFIG=$MES_GATEWAY_CONFIG (and no simulators to generate one)"
    return 0
  fi
  "$VENV/bin/mes" gateway --config "$MES_GATEWAY_CONFIG" --check >>"$LOGS/gateway.log" 2>&1 ||
    fail "invalid gateway configuration: $(tail -1 "$LOGS/gateway.log")"
  if pid_alive gateway && gateway_ready; then
    kill -HUP "$(cat "$RUN/gateway.pid")" # pick up a regenerated configuration (buffers are kept)
    ok "gateway already running; configuration reloaded (metrics: http://$MES_GATEWAY_METRICS_HOST:$MES_GATEWAY_METRICS_PORT/metrics)"
    return 0
  fi
  if port_open "$MES_GATEWAY_METRICS_HOST" "$MES_GATEWAY_METRICS_PORT" && ! pid_alive gateway; then
    fail "port MES_GATEWAY_METRICS_PORT=$MES_GATEWAY_METRICS_PORT is taken by another process"
  fi
  stop_bg gateway || true
  start_bg gateway "$VENV/bin/mes" gateway --config "$MES_GATEWAY_CONFIG"
  local i
  for ((i = 0; i < 300; i++)); do
    gateway_ready && break
    pid_alive gateway || fail "the gateway exited; see $LOGS/gateway.log"
    sleep 0.2
  done
  gateway_ready || fail "the gateway /healthz does not answer after 60 s; see $LOGS/gateway.log"
  ok "gateway on $MES_GATEWAY_CONFIG (health: http://$MES_GATEWAY_METRICS_HOST:$MES_GATEWAY_METRICS_PORT/healthz, log: $LOGS/gateway.log)"
}

# --- commands ------------------------------------------------------------------------------------
cmd_up() {
  step "Prerequisites (system packages, Python venv, UI build)"
  ensure_apt "${APT_RUNTIME[@]}"
  ensure_python ""
  ok "Python $("$VENV/bin/python" -c 'import platform; print(platform.python_version())') in $VENV"
  ensure_ui_build

  step "Secrets"
  ok "generated once into $MES_SECRETS_FILE (mode $(stat -c %a "$MES_SECRETS_FILE"), git-ignored)"

  step "PostgreSQL"
  ensure_postgres

  step "MQTT broker (Mosquitto)"
  ensure_mosquitto

  step "Keycloak"
  ensure_keycloak

  step "Database migrations and demo data"
  "$VENV/bin/mes" db upgrade >>"$LOGS/migrate.log" 2>&1 || fail "migrations failed; see $LOGS/migrate.log"
  ok "schema $("$VENV/bin/mes" db current 2>/dev/null)"
  if [ "$MES_DEMO_DATA" = true ]; then
    "$VENV/bin/mes" demo load >"$LOGS/demo.log" 2>&1 || fail "demo data failed; see $LOGS/demo.log"
    ok "$(tail -1 "$LOGS/demo.log")"
  else
    ok "demo data skipped (MES_DEMO_DATA=$MES_DEMO_DATA)"
  fi

  step "Simulators"
  ensure_sim

  step "Edge gateway"
  ensure_gateway

  step "API"
  ensure_api

  step "UI"
  pending "not built yet (issue: 14-menu React UI)"

  step "Verification"
  pg_login_ok || fail "PostgreSQL login failed"
  port_open "$MES_MQTT_HOST" "$MES_MQTT_PORT" || fail "MQTT broker not reachable"
  api_ready || fail "API /readyz not OK"
  ok "PostgreSQL, MQTT broker and API /readyz healthy"
  summary
}

summary() {
  cat <<EOF

${B}KNU MES is up.${N}
  API          $MES_API_PUBLIC_URL   (OpenAPI: $MES_API_PUBLIC_URL/docs, health: /readyz)
  UI           $MES_UI_PUBLIC_URL   (pending)
$(keycloak_summary)
  PostgreSQL   $MES_DB_HOST:$MES_DB_PORT/$MES_DB_NAME (user $MES_DB_USER)
  MQTT         $MES_MQTT_HOST:$MES_MQTT_PORT
  Secrets      $MES_SECRETS_FILE
  Logs         $LOGS
Stop with ./init.sh stop; status with ./init.sh status; tests with ./init.sh test.
EOF
}

cmd_stop() {
  local name stopped=()
  for name in ui api gateway sim keycloak mosquitto; do
    stop_bg "$name" && stopped+=("$name")
  done
  if [ -f "$RUN/postgres.owned" ]; then
    if [ -f "$PGDATA_PRIVATE/postmaster.pid" ]; then
      as_pg_owner "$(pg_bin)/pg_ctl" -D "$PGDATA_PRIVATE" -m fast -w stop >/dev/null && stopped+=(postgres)
    fi
    rm -f "$RUN/postgres.owned"
  fi
  if [ ${#stopped[@]} -eq 0 ]; then echo "nothing started by init.sh is running"; else echo "stopped: ${stopped[*]}"; fi
}

cmd_status() {
  local name state
  printf '%-11s %s\n' "service" "state"
  if pg_login_ok; then state="up ($MES_DB_HOST:$MES_DB_PORT$([ -f "$RUN/postgres.owned" ] && echo ', private cluster'))"; else state=down; fi
  printf '%-11s %s\n' postgres "$state"
  for name in mosquitto keycloak sim gateway api ui; do
    if pid_alive "$name"; then state="up (pid $(cat "$RUN/$name.pid"))"; else state=down; fi
    [ "$name" = mosquitto ] && ! pid_alive mosquitto && port_open "$MES_MQTT_HOST" "$MES_MQTT_PORT" && state="up (not started by init.sh)"
    [ "$name" = api ] && pid_alive api && { api_ready && state="$state, ready" || state="$state, NOT ready"; }
    [ "$name" = keycloak ] && pid_alive keycloak && { keycloak_ready && state="$state, ready" || state="$state, NOT ready"; }
    printf '%-11s %s\n' "$name" "$state"
  done
}

cmd_test() {
  TOTAL=5
  step "Prerequisites for the tests"
  ensure_apt "${APT_RUNTIME[@]}" "${APT_TEST[@]}"
  ensure_python "dev"
  ok "system packages and Python dev dependencies"
  step "Lint (ruff)"
  ruff check . && ruff format --check . >/dev/null && ok "ruff clean" || fail "ruff found problems"
  step "Types (mypy)"
  mypy . >"$LOGS/mypy.log" 2>&1 && ok "$(tail -1 "$LOGS/mypy.log")" || { cat "$LOGS/mypy.log"; fail "mypy found problems"; }
  step "Architecture contracts (import-linter)"
  lint-imports --no-cache >"$LOGS/lint-imports.log" 2>&1 && ok "contracts kept" || { cat "$LOGS/lint-imports.log"; fail "import contracts broken"; }
  step "Test suite (pytest, real services)"
  local rc=0
  python -m pytest "$@" || rc=$?
  [ $rc -eq 5 ] && fail "pytest collected no tests"
  [ $rc -eq 0 ] || fail "pytest failed (exit $rc)"
  ok "all tests passed"
}

case "${1:-up}" in
  up | start) cmd_up ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  test) shift; cmd_test "$@" ;;
  -h | --help | help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) echo "unknown command: $1 (try ./init.sh help)" >&2; exit 2 ;;
esac
