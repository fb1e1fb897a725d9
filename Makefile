# Two commands for a fresh machine (see README): `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test messages clean

$(VENV)/.installed: requirements.txt requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	touch $@

# The web app (gunicorn on http://127.0.0.1:8000) and a Celery worker, until Ctrl-C. The worker gets only
# the file keys; it logs warnings only, since Celery's line for each task received would time a submission.
run: $(VENV)/.installed
	$(BIN)/python manage.py initkeys
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@echo "Serving on http://127.0.0.1:8000/ (staff: http://127.0.0.1:8000/staff/). Ctrl-C stops."
	@trap 'kill 0' INT TERM EXIT; \
	INTAKE_KEYS="$${INTAKE_WORKER_KEYS:-}" \
	INTAKE_KEYS_FILE="$${INTAKE_WORKER_KEYS_FILE:-$${INTAKE_DATA_DIR:-var}/keys/worker-keys.json}" \
	  $(BIN)/celery -A config worker --beat --concurrency 2 --loglevel WARNING & \
	$(BIN)/gunicorn --config config/gunicorn.py config.wsgi & \
	wait

# axe-core, the accessibility checker that the browser tests (tests/browser) inject into each page.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

test: $(VENV)/.installed node_modules/.installed
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# Extract every message of the code and templates into the Arabic catalogue, then compile it.
messages: $(VENV)/.installed
	$(BIN)/python manage.py makemessages --locale ar --no-obsolete --add-location file \
	  --ignore .venv --ignore staticfiles --ignore var --ignore tests --ignore benchmarks --ignore docs
	$(BIN)/python manage.py compilemessages --locale ar --ignore .venv

clean:
	rm -rf $(VENV) staticfiles
