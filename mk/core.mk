# Detection core: evaluation and benchmarks (`make demo` runs the local-stack demo, see mk/local.mk).
.PHONY: demo eval eval-metrics eval-usage bench

demo: install ## run the whole pipeline locally (no AWS account)
	$(VENV)/bin/guardian demo

eval: install ## per-type recall/precision and false-positive rate on a labelled stream
	$(VENV)/bin/guardian eval --events 60000 --variants --no-progress

eval-usage: install ## usage path on generated CloudTrail trails: episodes found, false alarms per day (3 shapes x 3 seeds)
	$(VENV)/bin/guardian eval-usage --seeds 1,2,3 --shapes small,busy,org --days 5 --compare-velocity

eval-metrics: install ## system detector on your own metric series: DIR=<timestamp,value CSVs + windows JSON, NAB format>
	@test -n "$(DIR)" || { echo "usage: make eval-metrics DIR=<directory of timestamp,value CSVs with windows.json>" >&2; exit 2; }
	$(VENV)/bin/guardian eval-metrics --dir "$(DIR)"

bench: install ## throughput and latency figures, printed
	$(PY) tests/bench/run.py
