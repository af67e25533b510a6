# Automated response: ASL validation with the pinned npm asl-validator (tools/asl/package-lock.json),
# installed into .tools/node (project-local; never global).
.PHONY: asl-tools asl-validate test-response

ASL_TOOLS := .tools/node
ASL_VALIDATOR := $(ASL_TOOLS)/node_modules/.bin/asl-validator
ASL_FILES := $(sort $(wildcard statemachines/*.asl.json))

$(ASL_VALIDATOR): tools/asl/package.json tools/asl/package-lock.json
	mkdir -p $(ASL_TOOLS)
	cp tools/asl/package.json tools/asl/package-lock.json $(ASL_TOOLS)/
	cd $(ASL_TOOLS) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

asl-tools: $(ASL_VALIDATOR) ## install the pinned asl-validator into .tools/node

asl-validate: $(ASL_VALIDATOR) ## validate every statemachines/*.asl.json (JSONPath, no JSONata)
	@for f in $(ASL_FILES); do $(ASL_VALIDATOR) --json-path $$f && echo "ok $$f" || exit 1; done

test-response: install $(ASL_VALIDATOR) ## response tests only (unit, functions, ASL)
	$(PY) -m pytest tests/unit/response tests/functions/test_remediation*.py tests/functions/test_actions*.py \
		tests/functions/test_webhooks*.py tests/functions/test_correlator*.py tests/functions/test_response*.py \
		tests/infra/test_asl.py -q

TEST_CHECKS += asl-validate
