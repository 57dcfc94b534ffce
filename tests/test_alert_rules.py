"""deploy/prometheus/alerts.yml: every rule names only metrics and labels the app exports, and
(with promtool) the rules are valid and fire on the series alerts_test.yml feeds them."""

import os
import re
import shutil
import subprocess

import pytest
import yaml
from prometheus_client import Counter, Histogram
from prometheus_client.metrics import MetricWrapperBase

from chatapp import metrics
from tests.helpers.missing import skip_unless_ci

RULES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         "deploy", "prometheus")
RULES = os.path.join(RULES_DIR, "alerts.yml")
# Labels Prometheus itself adds to every scraped series, and the histogram bucket label.
SCRAPE_LABELS = {"job", "instance", "le"}
PROMQL_WORDS = {
    "sum", "by", "without", "rate", "increase", "histogram_quantile", "max_over_time", "and",
    "or", "unless", "on", "ignoring", "max", "min", "avg", "count",
}


def exported():
    """{series name: its label names} for every series chatapp's metrics can expose."""
    names = {}
    for metric in vars(metrics).values():
        if not isinstance(metric, MetricWrapperBase):
            continue
        # prometheus_client has no public accessor for a metric's declared label names.
        labels = set(metric._labelnames)
        if isinstance(metric, Counter):
            names[metric._name + "_total"] = labels
        elif isinstance(metric, Histogram):
            for suffix in ("_bucket", "_sum", "_count"):
                names[metric._name + suffix] = labels
        else:
            names[metric._name] = labels
    for family in metrics.REGISTRY.collect():  # collectors without wrappers (process_*)
        for sample in family.samples:
            names.setdefault(sample.name, set(sample.labels))
    return names


def rules():
    with open(RULES) as handle:
        document = yaml.safe_load(handle)
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_every_rule_names_only_exported_metrics_and_their_labels():
    series = exported()
    assert "chatapp_http_requests_total" in series  # the helper sees the registry
    for rule in rules():
        expr = rule["expr"]
        for name, selector in re.findall(r"\b([a-z_:][a-z0-9_:]*)\s*(\{[^}]*\})?", expr):
            if name in PROMQL_WORDS or not name.startswith(("chatapp_", "process_")):
                continue
            assert name in series, f"{rule['alert']}: {name} is not exported"
            for label in re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", selector):
                assert label in series[name] | SCRAPE_LABELS, f"{rule['alert']}: {name}{{{label}}}"
        watched = re.findall(r"\b(?:chatapp|process)_\w+|\bup\{", expr)
        assert watched, f"{rule['alert']} watches nothing of ours"
        for grouping in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
            for label in (item.strip() for item in grouping.split(",")):
                known = set().union(*series.values()) | SCRAPE_LABELS
                assert label in known, f"{rule['alert']}: groups by unknown label {label}"


def test_every_rule_says_how_bad_and_what_happened():
    for rule in rules():
        assert rule["labels"]["severity"] in ("page", "ticket", "info"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert re.fullmatch(r"\d+m", rule["for"]), rule["alert"]


PROMTOOL = shutil.which("promtool")


@pytest.fixture
def needs_promtool():
    if PROMTOOL is None:
        skip_unless_ci("needs promtool (Debian package prometheus; .ci/run installs it)")


@pytest.mark.usefixtures("needs_promtool")
def test_promtool_accepts_the_rules():
    result = subprocess.run([PROMTOOL, "check", "rules", RULES], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.usefixtures("needs_promtool")
def test_the_alerts_fire_on_the_series_they_watch():
    result = subprocess.run([PROMTOOL, "test", "rules", "alerts_test.yml"], cwd=RULES_DIR,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
