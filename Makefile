# The two commands of README.md: `make run` (controller) and `make test` (whole suite).
ARGS ?=
PYTEST_ARGS ?=

.PHONY: run test setup bench

run: setup
	.venv/bin/naas-sdn serve $(ARGS)

test: setup
	.venv/bin/python -m pytest -q -rs $(PYTEST_ARGS)

bench: setup
	.venv/bin/python bench/run.py
	.venv/bin/python bench/dhcp.py
	.venv/bin/python bench/routing.py
	.venv/bin/python bench/policy.py
	.venv/bin/python bench/polling.py
	.venv/bin/python bench/authorization.py
	.venv/bin/python bench/slow_clients.py

setup:
	bash scripts/setup.sh
