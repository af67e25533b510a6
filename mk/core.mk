# Detection core: demo (until the local stack exists), evaluation and benchmarks.
.PHONY: demo eval bench

demo: install ## run the whole pipeline locally (no AWS account)
	$(VENV)/bin/guardian demo

eval: install ## per-type recall/precision and false-positive rate on a labelled stream
	$(VENV)/bin/guardian eval --events 60000

bench: install ## throughput and latency figures, printed
	$(PY) tests/bench/run.py
