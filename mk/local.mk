# Local stack: the real handlers on an embedded AWS emulation (moto) on loopback.
.PHONY: local integration

local: install ## run the API on http://127.0.0.1:3000 with Kinesis, tables and handlers locally (Ctrl-C stops)
	$(VENV)/bin/guardian local

integration: install ## local-stack tests over HTTP (also part of `make test`)
	$(PY) -m pytest tests/integration -q
