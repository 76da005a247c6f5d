#!/bin/sh
# Build orchestrator/web/static/app.css from GOV.UK Frontend (no CDN, no GOV.UK font or crown).
# Run by `make assets`. The output is committed, so running the service needs no Node.
set -eu
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund
npx sass --no-source-map --style=compressed --quiet-deps \
  --load-path=node_modules/govuk-frontend/dist \
  orchestrator/web/assets/app.scss orchestrator/web/static/app.css
# GOV.UK Frontend's JavaScript (an ES module), loaded by staff.js.
cp node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js orchestrator/web/static/govuk-frontend.min.js
echo "built orchestrator/web/static/app.css ($(wc -c < orchestrator/web/static/app.css) bytes)"
