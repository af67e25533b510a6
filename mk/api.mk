# Public API: the OpenAPI document is generated from the resolver (anomaly_guardian.api.app) and committed.
.PHONY: openapi

openapi: install ## regenerate docs/openapi.json from the API resolver (tests fail when it drifts)
	$(PY) -m anomaly_guardian.api.app > docs/openapi.json.tmp
	mv docs/openapi.json.tmp docs/openapi.json
