#!/usr/bin/env bash
# scripts/mocks-check.sh: fails when a mockery mock is stale. It
# regenerates every mock (go tool mockery, .mockery.yaml) and asks git
# whether anything changed; a stale mock is left regenerated in the work
# tree, so `git diff` shows what moved.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
go tool mockery --log-level warn >/dev/null
if ! git diff --quiet -- '*_mock_test.go' || [ -n "$(git ls-files --others --exclude-standard -- '*_mock_test.go')" ]; then
	echo "mocks-check: mocks are stale (make mocks regenerated them; commit the result):" >&2
	git status --short -- '*_mock_test.go' >&2
	exit 1
fi
echo "mocks-check: mocks are up to date"
