# Two commands for a fresh machine: `make run` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Keep bytecode out of the source tree.
export PYTHONPYCACHEPREFIX := $(CURDIR)/.venv/pycache

.PHONY: install run console test lint bench faq-eval lock i18n-extract i18n-update clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -qq --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/pip install -qq --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## Run the bot: Telegram when TELEGRAM_BOT_TOKEN is set, else the terminal sandbox.
run: $(STAMP)
	$(BIN)/hanchot migrate
	$(BIN)/hanchot run

## Run the tests (SQLite; also PostgreSQL when TEST_DATABASE_URL is set).
test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check bot storage tests bench
	$(BIN)/mypy bot storage

bench: $(STAMP)
	$(BIN)/python -m bench

faq-eval: $(STAMP)
	$(BIN)/python -m bench.faq_eval

## Re-resolve the pinned dependencies after editing pyproject.toml (needs uv).
lock:
	$(PYTHON) -m venv .tools && .tools/bin/pip install -q uv
	.tools/bin/uv pip compile pyproject.toml --group dev --generate-hashes \
		--python-version 3.11 --no-header -q -o requirements.lock

i18n-extract: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg -k N_ -k n_:1,2 -o bot/locales/messages.pot bot

i18n-update: i18n-extract
	$(BIN)/pybabel -q update -i bot/locales/messages.pot -d bot/locales -D messages -l vi --no-fuzzy-matching

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
