#!/usr/bin/env bash
# Runs Logto's own integration tests (packages/integration-tests/src/tests/api of
# logto-io/logto) against a fresh `latch serve` on 127.0.0.1, for the groups of issue 20.
# Opt-in, not part of `make test`: it needs Node.js 20+, npm, and a copy of Logto's repository.
#
#   LOGTO_GIT_DIR=/path/to/logto/.git scripts/logto-integration.sh [test path ...]
#
# LOGTO_GIT_DIR   a git dir (bare or not) of logto-io/logto; LOGTO_REF (default HEAD)
# WORK            scratch directory (default /tmp/latch-logto-integration)
# PORT            Latch's HTTP port (default 3301)
# SECRETS_FROM_CREATION=1  also shim createApplicationWithSecret (src/api/application.ts) to
#                 take the secret from the creation answer: Latch keeps secrets hashed at rest
#                 (a deliberate departure, README), so GET .../secrets has no values; this
#                 shows what the tests that need a secret find behind that departure.
# Test paths are relative to src/tests/api without .test.ts (e.g. role.user,
# application/application.secrets); none: the issue 20 groups.
#
# The tests run unchanged. Three shims (scripts/logto-integration/): src/api/api.ts, whose
# authedAdminApi sends a client_credentials token of the bootstrap admin app (Logto's tests
# use a dev-only header), and jest.setup.api.js, which resets the sign-in experience through
# the Management API instead of Logto's admin tenant, and jest.config.js (module paths). Output: $WORK/results.json (jest) and
# a per-file table on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
: "${LOGTO_GIT_DIR:?set LOGTO_GIT_DIR to a git dir of logto-io/logto}"
LOGTO_REF=${LOGTO_REF:-HEAD}
WORK=${WORK:-/tmp/latch-logto-integration}
PORT=${PORT:-3301}

groups=("$@")
if [ ${#groups[@]} -eq 0 ]; then
  groups=(resource resource.scope role role.scope role.user role.application role.is-default
    admin-user admin-user.roles admin-user.search
    application/application application/application.secrets application/application.roles
    application/application-custom-data
    oidc/client-credentials-grant oidc/discovery oidc/comma-separated-resource
    oidc/content-type-json health-check)
fi

mkdir -p "$WORK"
pkg="$WORK/packages/integration-tests"
# 1. the tests' sources, unchanged, and the shims
rm -rf "$pkg"
git --git-dir="$LOGTO_GIT_DIR" archive "$LOGTO_REF" packages/integration-tests | tar -x -C "$WORK" || true
test -f "$pkg/package.json"
cp "$here/logto-integration/api.shim.ts" "$pkg/src/api/api.ts"
cp "$here/logto-integration/jest.setup.api.js" "$pkg/jest.setup.api.js"
cp "$here/logto-integration/jest.config.js" "$pkg/jest.config.js"
if [ "${SECRETS_FROM_CREATION:-}" = 1 ]; then
  node - "$pkg/src/api/application.ts" <<'JS'
const fs = require('fs');
const file = process.argv[2];
const from = `  const application = await createApplication(...args);
  const [secret] = await getApplicationSecrets(application.id);
  assert(secret);

  return { ...application, secret: secret.value };`;
const source = fs.readFileSync(file, 'utf8');
if (!source.includes(from)) throw new Error('createApplicationWithSecret changed upstream');
fs.writeFileSync(file, source.replace(from, '  return createApplication(...args);'));
JS
fi
# 2. dependencies: the published @logto packages of the repository's versions (pinned in
# scripts/logto-integration/package.json), installed beside the package, not in it
cp "$here/logto-integration/package.json" "$WORK/package.json"
if [ ! -d "$WORK/node_modules/@logto/schemas" ]; then
  (cd "$WORK" && PUPPETEER_SKIP_DOWNLOAD=1 npm install --no-audit --no-fund >/dev/null)
fi
# 3. transpile (what the package's tsup does: esm, one file per source, into lib/)
(cd "$pkg" && find src -name '*.ts' ! -name '*.d.ts' -print0 |
  xargs -0 "$WORK/node_modules/.bin/esbuild" --format=esm --platform=node --target=node20 \
    --tsconfig-raw='{}' --sourcemap --outdir=lib --outbase=src --log-level=warning)
# 4. a fresh Latch
go build -o "$WORK/latch" "$repo/cmd/latch"
rm -rf "$WORK/data"
export LATCH_ADMIN_CLIENT_ID=logto-it-admin
export LATCH_ADMIN_CLIENT_SECRET=logto-it-admin-secret-0123456789
"$WORK/latch" serve --data "$WORK/data" --http "127.0.0.1:$PORT" \
  --endpoint "http://localhost:$PORT" --gossip "127.0.0.1:$((PORT + 4600))" \
  --durability nosync --log-level warn >"$WORK/latch.log" 2>&1 &
latch_pid=$!
trap 'kill "$latch_pid" 2>/dev/null || true; wait "$latch_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null
# 5. the tests, one file after another (-i), as Logto's CI runs them
paths=()
for g in "${groups[@]}"; do paths+=("lib/tests/api/$g.test.js"); done
set +e
(cd "$pkg" && INTEGRATION_TESTS_LOGTO_URL="http://localhost:$PORT" \
  NODE_OPTIONS=--experimental-vm-modules timeout 1800 \
  "$WORK/node_modules/.bin/jest" -i --ci --json --outputFile="$WORK/results.json" \
  --runTestsByPath "${paths[@]}" >"$WORK/jest.log" 2>&1)
set -e
# 6. per-file table
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const rows = r.testResults.map((f) => {
  const c = (s) => f.assertionResults.filter((a) => a.status === s).length;
  const name = f.name.replace(/.*lib\/tests\/api\//, "").replace(/\.test\.js$/, "");
  return [name, c("passed"), c("failed"), c("pending") + c("skipped") + c("todo"),
    f.status === "failed" && f.assertionResults.length === 0 ? "suite failed" : ""];
}).sort((a, b) => a[0].localeCompare(b[0]));
console.log("| file | passed | failed | skipped | |\n| --- | ---: | ---: | ---: | --- |");
for (const x of rows) console.log("| " + x.join(" | ") + " |");
console.log(`| total | ${r.numPassedTests} | ${r.numFailedTests} | ${r.numPendingTests + r.numTodoTests} | |`);
' "$WORK/results.json"
