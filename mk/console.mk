# The analyst console (functions/console: Vite + TypeScript, pinned in its package-lock.json, `npm ci` from the
# npm registry; docs/console.md). `make console` type-checks and builds it into build/console, which the local
# stack serves at /console/ and `make deploy` uploads to the console bucket (terraform/modules/console).
.PHONY: console console-typecheck console-publish
CONSOLE_SRC := functions/console
CONSOLE_DIST := build/console
CONSOLE_DEPS := $(CONSOLE_SRC)/node_modules/.installed
CONSOLE_INPUTS := $(shell find $(CONSOLE_SRC)/src -type f 2>/dev/null) $(CONSOLE_SRC)/index.html \
	$(CONSOLE_SRC)/vite.config.ts $(CONSOLE_SRC)/tsconfig.json layers/core/anomaly_guardian/geo/locations.json

$(CONSOLE_DEPS): $(CONSOLE_SRC)/package.json $(CONSOLE_SRC)/package-lock.json
	@command -v npm >/dev/null || { echo "make console needs Node 20 and npm on PATH" >&2; exit 2; }
	cd $(CONSOLE_SRC) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

$(CONSOLE_DIST)/index.html: $(CONSOLE_DEPS) $(CONSOLE_INPUTS)
	cd $(CONSOLE_SRC) && npx --no-install tsc --noEmit && npx --no-install vite build --logLevel warn
	@test -f $@

console: $(CONSOLE_DIST)/index.html ## build the analyst console into build/console (served at /console/ by make local)

console-typecheck: $(CONSOLE_DEPS) ## tsc --noEmit on the console (part of make lint)
	cd $(CONSOLE_SRC) && npx --no-install tsc --noEmit

lint: console-typecheck
test: console
local: console
demo: console

# Deployed environments: `make deploy` runs this after the SAM stack (the API URL it writes is in config.json).
console-publish: install console ## upload build/console to ENV's console bucket, write config.json, invalidate CloudFront
	$(call require_env)
	$(VENV)/bin/guardian console publish --env $(ENV) --build $(CONSOLE_DIST)
