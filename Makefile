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

# The web app (gunicorn, on the address it prints) and a Celery worker, until Ctrl-C, which stops both
# within seconds; a worker that dies is started again (manage.py serve). The worker gets only the file
# and matching keys; it logs warnings only, since Celery's line for each task received would time a submission.
run: $(VENV)/.installed
	$(BIN)/python manage.py initkeys
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@$(BIN)/python manage.py serve

# axe-core, the accessibility checker that the browser tests (tests/browser) inject into each page.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

test: $(VENV)/.installed node_modules/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy intake config
	$(BIN)/python -m pytest

# Extract every message of the code and templates into the Arabic catalogue, then compile it.
messages: $(VENV)/.installed
	$(BIN)/python manage.py makemessages --locale ar --no-obsolete --add-location file \
	  --ignore .venv --ignore staticfiles --ignore var --ignore tests --ignore benchmarks --ignore docs
	$(BIN)/python manage.py compilemessages --locale ar --ignore .venv

clean:
	rm -rf $(VENV) staticfiles
