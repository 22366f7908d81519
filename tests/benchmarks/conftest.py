# Benchmarks are scripts run by hand (`uv run python tests/benchmarks/bench_<thing>.py`); they
# print a table with targets and are not part of the test run.
collect_ignore_glob = ["*.py"]
