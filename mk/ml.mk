# Machine learning (issue 6): `make train` runs the SageMaker script-mode programs (ml/src) locally on a
# generated labelled stream and writes the artifact the detector loads (MODEL_PATH=ml/artifacts/model.npz).
.PHONY: train ml-report ml-pipeline ml-image ml-backtest
ML_DIR := ml/artifacts
ML_EVENTS ?= 60000
ML_SOURCE ?= scenario

train: install ## train the models locally with the ml/src scripts -> ml/artifacts/model.npz, then report
	$(VENV)/bin/guardian train --generate-only --source $(ML_SOURCE) --events $(ML_EVENTS) --seed 7 --workdir $(ML_DIR)
	$(PY) ml/src/preprocess.py --input-dir $(ML_DIR)/data --output-dir $(ML_DIR)/processed
	$(PY) ml/src/train.py --train $(ML_DIR)/processed/train --model-dir $(ML_DIR)/model
	$(PY) ml/src/evaluate.py --model $(ML_DIR)/model --test $(ML_DIR)/processed/test --output-dir $(ML_DIR)/evaluation
	cp $(ML_DIR)/model/model.npz $(ML_DIR)/model.npz
	$(MAKE) --no-print-directory ml-report
	@echo "model: $(ML_DIR)/model.npz (run the detector with MODEL_PATH=$(ML_DIR)/model.npz)"

ml-report: install ## model vs statistical detectors at equal FPR on unseen streams of both generators
	$(VENV)/bin/guardian train --report-only --workdir $(ML_DIR) --source $(ML_SOURCE) --events $(ML_EVENTS) --eval-seed 8
	@# The ML generator's behavioural anomalies sit below the statistical thresholds: a model trained on it.
	$(VENV)/bin/guardian train --report --workdir $(ML_DIR)/synth --source synth --events 40000 --seed 7 --eval-seed 8

ml-pipeline: install ## upsert the SageMaker retraining pipeline in ENV= (START=1 also starts a run)
	@case "$(ENV)" in dev|staging|prod) ;; *) echo "ml-pipeline: set ENV=dev|staging|prod" >&2; exit 2;; esac
	$(PY) ml/upsert.py --env $(ENV) $(if $(START),--start,)

ml-backtest: install ## upsert the backtest pipeline in ENV= and start it: ARCHIVE=s3://<archive>/events/dt=2026-0 INSTANCES=4 (docs/backtests.md)
	@case "$(ENV)" in dev|staging|prod) ;; *) echo "ml-backtest: set ENV=dev|staging|prod" >&2; exit 2;; esac
	$(PY) ml/backtest.py --env $(ENV) --start --instances $(or $(INSTANCES),1) $(if $(ARCHIVE),--archive-uri $(ARCHIVE),)

ml-image: install ## build ml/container/Dockerfile, push it to ENV='s ECR repository, write its URI into the contract (needs Docker)
	@case "$(ENV)" in dev|staging|prod) ;; *) echo "ml-image: set ENV=dev|staging|prod" >&2; exit 2;; esac
	@command -v $${DOCKER:-docker} >/dev/null || { echo "ml-image: needs Docker (or DOCKER=<compatible CLI>)" >&2; exit 2; }
	$(PY) ml/image.py --env $(ENV) $(if $(TAG),--tag $(TAG),)
