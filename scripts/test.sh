#!/usr/bin/env bash
# The project's test command: static checks, then every vitest suite against real Temporal servers.
# Ends with the plain line "N passed, N failed" that CI reads.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }
# setup.sh installs a pinned Node 24 under .tools/ when the machine's Node is older; everything below uses it.
if [ -x .tools/node/bin/node ]; then export PATH="$PWD/.tools/node/bin:$PATH"; fi

passed=0
failed=0
check() {
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "check ok: $name"; else failed=$((failed + 1)); echo "check FAILED: $name"; fi
}
check "tsc --noEmit" npx tsc --noEmit -p .
check "eslint" npx eslint .
check "prettier --check" npx prettier --check . --log-level warn
check "actionlint" .tools/go/bin/actionlint
check "zizmor" .tools/venv/bin/zizmor --offline --persona pedantic --quiet .github/workflows action.yml

# The Kubernetes control plane the kubernetes suites start (cached outside the repository; a fresh machine pays
# the ~20 min compile here, once, instead of inside a test hook).
check "kube-plane build" bash scripts/kube-plane.sh build
# Temporal on PostgreSQL for the cluster tier (test/cluster), built the same way: once, cached by version.
check "temporal-cluster build" bash scripts/temporal-cluster.sh build

report=$(mktemp)
npx vitest run --reporter=default --reporter=json --outputFile="$report" "$@"
vitest_rc=$?
read -r vp vf vs < <(node -e '
  const fs = require("fs");
  try {
    const r = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    // A file that failed to load has no failed tests of its own: count it once, never a test twice.
    const brokenFiles = r.testResults.filter(
      (f) => f.status === "failed" && !f.assertionResults.some((a) => a.status === "failed"),
    ).length;
    console.log(r.numPassedTests, r.numFailedTests + brokenFiles, r.numPendingTests + r.numTodoTests);
  } catch { console.log(0, 1, 0); }
' "$report")
rm -f "$report"
passed=$((passed + vp))
failed=$((failed + vf))
if [ "$vitest_rc" -ne 0 ] && [ "$vf" -eq 0 ]; then failed=$((failed + 1)); fi
echo "$passed passed, $failed failed, $vs skipped"
[ "$failed" -eq 0 ]
