# tests/train: Check tests of src/train (included by tests/local.mk)
# command-line behaviour: malformed jobs (one line, exit 2), --set, --print-config,
# --dry-run, progress lines, metrics.jsonl, TensorBoard events, traces
TESTS += tests/train/test_cli.sh
EXTRA_DIST += tests/train/test_cli.sh
