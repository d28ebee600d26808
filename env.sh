# KNU MES settings: the one place for every MES_* setting and its default.
#
# Sourced by init.sh, the test suite and the Kubernetes manifest generator. Any variable already set
# in the environment wins over the default here. Secrets are never written in this file: they are
# generated on first use into $MES_SECRETS_FILE (git-ignored, mode 600) and sourced from there.
#
# Usage: `source env.sh` (bash). Settings are exported so that child processes see them.

MES_ROOT="${MES_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"

# --- general -------------------------------------------------------------------------------------
: "${MES_ENV:=development}"                     # development | production
: "${MES_HOME:=$MES_ROOT/.mes}"                 # state: private PostgreSQL, logs, pids, spool
: "${MES_SECRETS_FILE:=$MES_HOME/secrets.env}"  # generated secrets (mode 600, git-ignored)
: "${MES_LOG_LEVEL:=INFO}"                      # DEBUG | INFO | WARNING | ERROR
: "${MES_LOG_FORMAT:=json}"                     # json | text
: "${MES_BIND_HOST:=127.0.0.1}"                 # interface the local services listen on
: "${MES_PUBLIC_HOST:=localhost}"               # host name browsers use to reach the services
: "${MES_DEMO_DATA:=true}"                       # true | false: ./init.sh loads the demo plant

# --- PostgreSQL / TimescaleDB ---------------------------------------------------------------------
: "${MES_DB_HOST:=127.0.0.1}"
: "${MES_DB_PORT:=5432}"
: "${MES_DB_NAME:=mes}"
: "${MES_DB_USER:=mes}"
: "${MES_DB_POOL_SIZE:=10}"
: "${MES_DB_RANDOM_PAGE_COST:=1.1}"            # the API's planner: data cached or on SSD
: "${MES_DB_CONNECT_TIMEOUT:=5}"               # seconds
: "${MES_TIMESCALEDB:=auto}"                    # auto | on | off: use the extension when present
: "${MES_TELEMETRY_PARTITION_DAYS_AHEAD:=7}"    # plain PostgreSQL: daily partitions made ahead
: "${MES_TELEMETRY_RETENTION_DAYS:=400}"        # raw readings kept this long
: "${MES_TELEMETRY_COMPRESS_AFTER_DAYS:=7}"     # TimescaleDB: compress chunks older than this
: "${MES_TELEMETRY_MAINTENANCE_INTERVAL:=60}"   # seconds between partition/rollup maintenance runs

# --- MQTT broker (Mosquitto) ----------------------------------------------------------------------
: "${MES_MQTT_HOST:=127.0.0.1}"
: "${MES_MQTT_PORT:=1883}"
: "${MES_MQTT_TLS:=false}"
: "${MES_MQTT_USERNAME:=}"

# --- simulators -----------------------------------------------------------------------------------
: "${MES_SIM_SCENARIO:=demo}"
: "${MES_SIM_SEED:=42}"
: "${MES_SIM_SPEED:=1}"
: "${MES_SIM_OPCUA_HOST:=127.0.0.1}"
: "${MES_SIM_OPCUA_PORT:=4840}"
: "${MES_SIM_MODBUS_HOST:=127.0.0.1}"
: "${MES_SIM_MODBUS_PORT:=5020}"
: "${MES_SIM_CONTROL_HOST:=$MES_BIND_HOST}"      # control endpoint (status, commands, faults)
: "${MES_SIM_CONTROL_PORT:=30463}"              # fault-injection control endpoint
: "${MES_SIM_EVENT_LOG:=$MES_HOME/sim-events.jsonl}"
: "${MES_SIM_OPCUA_SECURITY:=none}"             # none | sign-encrypt | both (Basic256Sha256)
: "${MES_SIM_PKI_DIR:=$MES_HOME/sim-pki}"       # generated OPC UA server and client certificates

# --- edge gateway ---------------------------------------------------------------------------------
: "${MES_GATEWAY_CONFIG:=$MES_HOME/gateway.yaml}"
: "${MES_GATEWAY_METRICS_HOST:=127.0.0.1}"
: "${MES_GATEWAY_METRICS_PORT:=30462}"
: "${MES_GATEWAY_SPOOL_DIR:=$MES_HOME/spool}"
: "${MES_GATEWAY_SPOOL_MAX_BYTES:=1073741824}"  # 1 GiB, then the oldest batches are dropped
: "${MES_GATEWAY_WRITE_TIMEOUT:=30}"            # seconds a batch write may take before it is spooled

# --- API ------------------------------------------------------------------------------------------
: "${MES_API_HOST:=$MES_BIND_HOST}"
: "${MES_API_PORT:=30461}"
: "${MES_API_WORKERS:=1}"
: "${MES_UI_PORT:=30173}"
: "${MES_API_PUBLIC_URL:=http://$MES_PUBLIC_HOST:$MES_API_PORT}"
: "${MES_UI_PUBLIC_URL:=http://$MES_PUBLIC_HOST:$MES_UI_PORT}"
: "${MES_CORS_ORIGINS:=http://$MES_PUBLIC_HOST:$MES_UI_PORT,http://127.0.0.1:$MES_UI_PORT}"
: "${MES_BOM_CACHE_ENTRIES:=64}"              # BOM explosion/where-used results cached per API process (LRU; 0: off)
: "${MES_BOM_CACHE_REFRESH_S:=0.25}"          # seconds between checks for BOM changes; recently read answers are then recomputed ahead of readers (0: off)

# --- live MES: machine states, downtime, counters, OEE, WebSockets ---------------------------------
: "${MES_LIVE_ENGINE:=true}"                     # true | false: this API process may lead the derivation
: "${MES_LIVE_ENGINE_INTERVAL:=1.0}"            # seconds between derivation passes of the leader
: "${MES_LIVE_KPI_INTERVAL:=5}"                 # seconds between current-shift OEE publications
: "${MES_LIVE_MICRO_STOP_S:=120}"               # stops shorter than this are minor stops (default)
: "${MES_LIVE_STARTUP_S:=300}"                  # scrap this soon after a setup or repair is reduced yield
: "${MES_LIVE_STALE_S:=900}"                    # no reading for this long: equipment shown as stale
: "${MES_LIVE_RECOMPUTE_HOURS:=48}"             # hours recomputed after calendar/configuration changes
: "${MES_LIVE_LEADER_RETRY_S:=2}"               # followers try to take the derivation lead this often
: "${MES_LIVE_WS_SEND_TIMEOUT:=10}"             # seconds a WebSocket send may take before the client is dropped

# --- Keycloak -------------------------------------------------------------------------------------
: "${MES_KEYCLOAK_VERSION:=26.7.3}"
: "${MES_KEYCLOAK_CACHE:=$HOME/.cache/knu-mes/keycloak}"
: "${MES_KEYCLOAK_HOST:=$MES_BIND_HOST}"
: "${MES_KEYCLOAK_PORT:=30080}"
: "${MES_KEYCLOAK_MANAGEMENT_PORT:=30090}"
: "${MES_KEYCLOAK_URL:=http://$MES_PUBLIC_HOST:$MES_KEYCLOAK_PORT}"
: "${MES_KEYCLOAK_REALM:=mes}"
: "${MES_KEYCLOAK_DB_NAME:=keycloak}"
: "${MES_KEYCLOAK_ADMIN_USER:=admin}"
: "${MES_KEYCLOAK_UI_CLIENT:=mes-ui}"
: "${MES_KEYCLOAK_API_AUDIENCE:=mes-api}"
: "${MES_KEYCLOAK_GATEWAY_CLIENT:=mes-gateway}"
: "${MES_KEYCLOAK_TEST_CLIENT:=mes-test}"       # password-grant client, only for the test suite
: "${MES_JWT_LEEWAY_SECONDS:=30}"               # allowed clock skew when checking exp/nbf
: "${MES_JWKS_CACHE_SECONDS:=300}"
: "${MES_KEYCLOAK_ACCESS_TOKEN_SECONDS:=300}"   # access token lifetime (short: roles apply on renewal)
: "${MES_KEYCLOAK_SSO_IDLE_SECONDS:=1800}"      # UI session (refresh token) idle timeout
: "${MES_KEYCLOAK_SSO_MAX_SECONDS:=36000}"      # UI session maximum (a long shift), then log in again
: "${MES_KEYCLOAK_HEAP_MAX:=768m}"              # JVM -Xmx of the local Keycloak
: "${MES_KEYCLOAK_START_TIMEOUT:=240}"          # seconds to wait for Keycloak readiness
: "${MES_TEST_KEYCLOAK_URL:=}"                  # tests: reuse this running Keycloak (empty: start one)

export MES_ROOT MES_ENV MES_HOME MES_SECRETS_FILE MES_LOG_LEVEL MES_LOG_FORMAT MES_BIND_HOST \
  MES_DEMO_DATA \
  MES_PUBLIC_HOST MES_DB_HOST MES_DB_PORT MES_DB_NAME MES_DB_USER MES_DB_POOL_SIZE MES_DB_RANDOM_PAGE_COST \
  MES_DB_CONNECT_TIMEOUT MES_TIMESCALEDB MES_TELEMETRY_PARTITION_DAYS_AHEAD \
  MES_TELEMETRY_RETENTION_DAYS MES_TELEMETRY_COMPRESS_AFTER_DAYS \
  MES_TELEMETRY_MAINTENANCE_INTERVAL MES_MQTT_HOST MES_MQTT_PORT MES_MQTT_TLS MES_MQTT_USERNAME \
  MES_SIM_SCENARIO MES_SIM_SEED MES_SIM_SPEED MES_SIM_OPCUA_HOST MES_SIM_OPCUA_PORT \
  MES_SIM_MODBUS_HOST MES_SIM_MODBUS_PORT MES_SIM_CONTROL_HOST MES_SIM_CONTROL_PORT \
  MES_SIM_EVENT_LOG MES_SIM_OPCUA_SECURITY MES_SIM_PKI_DIR \
  MES_GATEWAY_CONFIG MES_GATEWAY_METRICS_HOST MES_GATEWAY_METRICS_PORT MES_GATEWAY_SPOOL_DIR \
  MES_GATEWAY_SPOOL_MAX_BYTES MES_GATEWAY_WRITE_TIMEOUT MES_API_HOST MES_API_PORT MES_API_WORKERS MES_UI_PORT \
  MES_API_PUBLIC_URL MES_UI_PUBLIC_URL MES_CORS_ORIGINS MES_BOM_CACHE_ENTRIES MES_BOM_CACHE_REFRESH_S MES_LIVE_ENGINE MES_LIVE_ENGINE_INTERVAL \
  MES_LIVE_KPI_INTERVAL MES_LIVE_MICRO_STOP_S MES_LIVE_STARTUP_S MES_LIVE_STALE_S \
  MES_LIVE_RECOMPUTE_HOURS MES_LIVE_LEADER_RETRY_S MES_LIVE_WS_SEND_TIMEOUT MES_KEYCLOAK_VERSION MES_KEYCLOAK_CACHE \
  MES_KEYCLOAK_HOST MES_KEYCLOAK_PORT MES_KEYCLOAK_MANAGEMENT_PORT MES_KEYCLOAK_URL \
  MES_KEYCLOAK_REALM MES_KEYCLOAK_DB_NAME MES_KEYCLOAK_ADMIN_USER MES_KEYCLOAK_UI_CLIENT \
  MES_KEYCLOAK_API_AUDIENCE MES_KEYCLOAK_GATEWAY_CLIENT MES_KEYCLOAK_TEST_CLIENT \
  MES_JWT_LEEWAY_SECONDS MES_JWKS_CACHE_SECONDS MES_KEYCLOAK_ACCESS_TOKEN_SECONDS \
  MES_KEYCLOAK_SSO_IDLE_SECONDS MES_KEYCLOAK_SSO_MAX_SECONDS MES_KEYCLOAK_HEAP_MAX \
  MES_KEYCLOAK_START_TIMEOUT MES_TEST_KEYCLOAK_URL

# --- secrets: generated once, reused after --------------------------------------------------------
# Names of the generated secrets; each gets a random value on first use.
MES_SECRET_NAMES="MES_DB_PASSWORD MES_KEYCLOAK_ADMIN_PASSWORD MES_KEYCLOAK_DB_PASSWORD
MES_KEYCLOAK_GATEWAY_SECRET MES_KEYCLOAK_TEST_SECRET MES_DEMO_PASSWORD_OPERATOR
MES_DEMO_PASSWORD_ENGINEER MES_DEMO_PASSWORD_QUALITY MES_DEMO_PASSWORD_PLANNER
MES_DEMO_PASSWORD_SUPERVISOR MES_DEMO_PASSWORD_ADMIN"

mes_secrets_ensure() {
  local name missing=()
  mkdir -p "$(dirname "$MES_SECRETS_FILE")"
  for name in $MES_SECRET_NAMES; do
    grep -q "^export $name=" "$MES_SECRETS_FILE" 2>/dev/null || missing+=("$name")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  (
    umask 077
    for name in "${missing[@]}"; do
      printf 'export %s=%s\n' "$name" "$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    done >>"$MES_SECRETS_FILE"
  )
  chmod 600 "$MES_SECRETS_FILE"
}

mes_secrets_load() {
  local key value
  while IFS='=' read -r key value; do
    key=${key#export }
    [ -n "$key" ] && [ -z "${!key:-}" ] && export "$key=$value"
  done <"$MES_SECRETS_FILE"
  return 0
}

mes_secrets_ensure
mes_secrets_load   # a secret already in the environment (e.g. from a Kubernetes Secret) wins
