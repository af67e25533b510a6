# Reports: the HTML report is checked in a real headless browser (Debian's chromium driven by selenium,
# tests/integration/test_reports_local.py). `make test` installs the browser first.

CHROMIUM ?= /usr/bin/chromium
CHROMEDRIVER ?= /usr/bin/chromedriver

browser-deps: ## Debian's chromium + chromium-driver for the report screenshot test (apt-get; needs root or sudo)
	@if [ -x $(CHROMIUM) ] && [ -x $(CHROMEDRIVER) ]; then exit 0; fi; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver

report-browser-test: install browser-deps ## the local-stack report test, HTML screenshot in headless chromium
	$(PY) -m pytest tests/integration/test_reports_local.py -q

test: browser-deps
