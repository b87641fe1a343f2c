# The two commands of README.md: `make run` (controller) and `make test` (whole suite).
# `make lint` (run by .ci/run before the tests) and `make format` keep the code's habits.
ARGS ?=
PYTEST_ARGS ?=

.PHONY: run test lint format setup bench conformance

run: setup
	.venv/bin/naas-sdn serve $(ARGS)

# Unit, API and plugin tests on two workers side by side (the API's and the model's once on
# SQLite and once on PostgreSQL, the openstack CLI's on SQLite); then the dataplane tests one
# at a time (one Open vSwitch).
test: setup
	.venv/bin/python -m pytest -q -rs --durations=15 -n 2 --dist loadgroup tests/unit tests/api tests/plugins $(PYTEST_ARGS)
	.venv/bin/python -m pytest -q -rs --durations=15 tests/dataplane $(PYTEST_ARGS)

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

# Imports sorted, then the formatter: what `make lint` checks, applied.
format: setup
	.venv/bin/ruff check --select I --fix .
	.venv/bin/ruff format .

bench: setup
	.venv/bin/python bench/run.py
	.venv/bin/python bench/dhcp.py
	.venv/bin/python bench/routing.py
	.venv/bin/python bench/policy.py
	.venv/bin/python bench/polling.py
	.venv/bin/python bench/authorization.py
	.venv/bin/python bench/writes.py
	.venv/bin/python bench/scale.py
	.venv/bin/python bench/port_up.py
	.venv/bin/python bench/slow_clients.py
	.venv/bin/python bench/sharing.py
	.venv/bin/python bench/gateway.py
	.venv/bin/python bench/floating.py
	.venv/bin/python bench/ip_availability.py
	.venv/bin/python bench/subnet_pools.py
	.venv/bin/python bench/shared_database.py
	.venv/bin/python bench/keystone.py

setup:
	bash scripts/setup.sh

# The OpenStack clients' own functional network tests against a private controller
# (docs/conformance.md); not part of `make test`: it takes minutes and needs no OVS.
conformance: setup
	.venv/bin/pip install -q -e '.[conformance]'
	.venv/bin/python scripts/conformance.py
