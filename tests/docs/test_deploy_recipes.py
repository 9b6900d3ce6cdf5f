"""The recipes of docs/deploy.md, each checked as far as this machine allows:
the unit by systemd, YAML and JSON parsed, every dataqueue command line
parsed by the real command, the KEDA SQL run on PostgreSQL, and every metric
and label the dashboard and the alerts use found in a real scrape."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import dataqueue as dq
from dataqueue.cli import main as cli_main
from tests.conftest import PG_URL, drop_namespace, eventually, namespace

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
_TITLED = re.compile(r'^```\w*\s+title="([^"]+)"\n(.*?)^```', re.MULTILINE | re.DOTALL)
RECIPES = {title: code for title, code in _TITLED.findall(PAGE)}
METRIC = re.compile(r"\b(dataqueue_[a-z_]+)(\{[^}]*\})?")


def test_the_page_has_every_recipe() -> None:
    assert set(RECIPES) == {
        "dataqueue-worker.service",
        "Dockerfile",
        "compose.yaml",
        "worker.yaml",
        "keda-postgresql.sql",
        "keda-postgresql.yaml",
        "keda-prometheus.yaml",
        "grafana-dashboard.json",
        "dataqueue-alerts.yaml",
    }


def parse_command(words: list[str]) -> click.Context:
    """Parse a ``dataqueue ...`` command line as the CLI would (values
    checked), without running it."""
    assert words[0] == "dataqueue", words
    group: click.Group = cli_main
    parent = group.make_context("dataqueue", [], resilient_parsing=True)
    name, *rest = words[1:]
    command = group.get_command(parent, name)
    assert command is not None, f"no command {name!r} in {words}"
    return command.make_context(name, rest, parent=parent)


def drain_timeout(context: click.Context) -> float:
    return float(context.params["drain_timeout"])


def test_systemd_unit(tmp_path: Path) -> None:
    unit = RECIPES["dataqueue-worker.service"]
    [exec_start] = [x for x in unit.splitlines() if x.startswith("ExecStart=")]
    words = shlex.split(exec_start.removeprefix("ExecStart="))
    assert words[0].endswith("/dataqueue")
    context = parse_command(["dataqueue", *words[1:]])
    [stop] = [x for x in unit.splitlines() if x.startswith("TimeoutStopSec=")]
    assert int(stop.split("=")[1]) >= drain_timeout(context) + 10

    analyze = shutil.which("systemd-analyze")
    if analyze is None:  # no systemd here: at least a well-formed unit
        import configparser

        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.read_string(unit)
        assert {"Unit", "Service", "Install"} <= set(parser.sections())
        return
    # verify checks that ExecStart's program exists: use this checkout's.
    here = Path(sys.executable).with_name("dataqueue")
    path = tmp_path / "dataqueue-worker.service"
    path.write_text(unit.replace("/srv/app/.venv/bin/dataqueue", str(here)))
    done = subprocess.run(
        [analyze, "verify", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "dataqueue-worker.service" not in done.stderr, done.stderr


def test_dockerfile() -> None:
    instructions = [
        line.split(None, 1)
        for line in RECIPES["Dockerfile"].splitlines()
        if line.strip() and not line.startswith("#")
    ]
    known = {"FROM", "WORKDIR", "COPY", "RUN", "USER", "CMD", "ENV", "EXPOSE"}
    assert {word for word, _ in instructions} <= known
    assert instructions[0][0] == "FROM"
    [command] = [json.loads(rest) for word, rest in instructions if word == "CMD"]
    parse_command(command)


def test_compose_file() -> None:
    compose = yaml.safe_load(RECIPES["compose.yaml"])
    services = compose["services"]
    assert set(services) == {"db", "migrate", "worker", "dashboard"}
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        for dependency in service.get("depends_on", {}):
            assert dependency in services
        if "command" in service:
            parse_command(service["command"])
        test = service.get("healthcheck", {}).get("test")
        if test and test[1] == "dataqueue":
            parse_command(test[1:])
    worker = services["worker"]
    assert int(worker["stop_grace_period"].removesuffix("s")) >= 30 + 10


def test_kubernetes_manifests() -> None:
    documents = list(yaml.safe_load_all(RECIPES["worker.yaml"]))
    assert [d["kind"] for d in documents] == ["Deployment", "Job"]
    for document in documents:
        assert document["apiVersion"] and document["metadata"]["name"]
        spec = document["spec"]["template"]["spec"]
        for container in spec["containers"]:
            assert container["name"] and container["image"]
            env = {e["name"] for e in container.get("env", [])}
            args = [re.sub(r"\$\((\w+)\)", r"pod-0", a) for a in container["args"]]
            assert all(
                name in env for name in re.findall(r"\$\((\w+)\)", str(container))
            )
            context = parse_command(args)
            if document["kind"] != "Deployment":
                continue
            deployment = document["spec"]
            labels = deployment["template"]["metadata"]["labels"]
            assert deployment["selector"]["matchLabels"].items() <= labels.items()
            grace = spec["terminationGracePeriodSeconds"]
            assert grace >= drain_timeout(context) + 10
            for probe in ("readinessProbe", "livenessProbe"):
                command = container[probe]["exec"]["command"]
                if command[:2] == ["sh", "-c"]:
                    command = shlex.split(command[2].replace('"$POD_NAME"', "pod-0"))
                    command = command[1:] if command[0] == "exec" else command
                probe_context = parse_command(command)
                assert (
                    probe_context.params["timeout"] < container[probe]["timeoutSeconds"]
                )


def test_keda_manifests_name_the_worker_and_the_documented_query() -> None:
    sql = " ".join(RECIPES["keda-postgresql.sql"].split())
    for title in ("keda-postgresql.yaml", "keda-prometheus.yaml"):
        scaled = yaml.safe_load(RECIPES[title])
        assert scaled["kind"] == "ScaledObject"
        assert scaled["spec"]["scaleTargetRef"]["name"] == "dataqueue-worker"
        [trigger] = scaled["spec"]["triggers"]
        if trigger["type"] == "postgresql":
            assert " ".join(trigger["metadata"]["query"].split()) == sql


@pytest.mark.postgres
async def test_keda_postgresql_query_counts_due_and_running_jobs() -> None:
    ns = namespace()
    queue = dq.connect(PG_URL, schema=ns)  # the real clock: the query uses now()
    gate = asyncio.Event()

    async def hold(payload: Any) -> None:
        await gate.wait()

    try:
        await queue.migrate()
        await queue.add_jobs([dq.JobSpec("due", {}) for _ in range(3)])
        await queue.add_job("later", {}, run_at=datetime.now(UTC) + timedelta(hours=1))
        await queue.add_job("done", {})
        await queue.add_job("broken", {}, max_attempts=1)
        await queue.add_job("retrying", {}, max_attempts=2, retry_delay=3600)
        await queue.create_processor(
            {
                "done": lambda p: None,
                "broken": lambda p: 1 / 0,
                "retrying": lambda p: 1 / 0,
            },
            job_type=["done", "broken", "retrying"],
        ).start()
        await queue.add_job("running", {})
        processor = queue.create_processor({"running": hold}, job_type="running")
        processor.start_in_background()
        try:

            async def running() -> bool:
                return (await queue.count_jobs())[dq.JobStatus.PROCESSING] == 1

            await eventually(running)
            query = RECIPES["keda-postgresql.sql"].replace("public.", f"{ns}.")
            async with queue.get_pool().connection() as conn:
                row = await (await conn.execute(query)).fetchone()
            assert row is not None
            assert row[0] == 3 + 1  # three due, one running
        finally:
            gate.set()
            await processor.stop_and_drain(5)
    finally:
        await queue.close()
        await drop_namespace("postgres", ns)


async def exposed_samples(tmp_path: Path) -> dict[str, set[str]]:
    """Every sample name a worker's metrics endpoint serves, with its labels."""
    async with dq.connect(f"sqlite:///{tmp_path / 'm.db'}") as queue:
        await queue.add_jobs(
            [dq.JobSpec("ok", {}), dq.JobSpec("bad", {}, max_attempts=1)]
        )
        processor = queue.create_processor(
            {"ok": lambda p: None, "bad": lambda p: 1 / 0}
        )
        await processor.start()
        registry = CollectorRegistry()
        registry.register(dq.QueueCollector(queue))
        registry.register(dq.PrometheusCollector(processor))
        text = (await asyncio.to_thread(generate_latest, registry)).decode()
    samples: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, set()).update(sample.labels)
    return samples


def used_metrics(expressions: list[str]) -> list[tuple[str, set[str]]]:
    """(metric, label names in its selector and in by/without clauses) per use."""
    uses = []
    for expr in expressions:
        grouped = {
            label.strip()
            for clause in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr)
            for label in clause.split(",")
        }
        for name, selector in METRIC.findall(expr):
            labels = set(re.findall(r"(\w+)\s*[=!~]", selector or ""))
            uses.append((name, labels | grouped))
    return uses


async def test_dashboard_alerts_and_keda_use_exposed_metrics(tmp_path: Path) -> None:
    dashboard = json.loads(RECIPES["grafana-dashboard.json"])
    expressions = [
        target["expr"] for panel in dashboard["panels"] for target in panel["targets"]
    ]
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(
        dashboard["panels"]
    )
    variables = dashboard["templating"]["list"]
    expressions += [
        re.sub(r"label_values\((\w+), (\w+)\)", r"\1{\2=~''}", v["query"])
        for v in variables
    ]
    rules = yaml.safe_load(RECIPES["dataqueue-alerts.yaml"])["groups"][0]["rules"]
    assert all(rule["alert"] and rule["for"] for rule in rules)
    expressions += [rule["expr"] for rule in rules]
    keda = yaml.safe_load(RECIPES["keda-prometheus.yaml"])
    expressions += [keda["spec"]["triggers"][0]["metadata"]["query"]]

    samples = await exposed_samples(tmp_path)
    uses = used_metrics(expressions)
    assert len(uses) >= len(expressions)
    for name, labels in uses:
        assert name in samples, f"{name} is not exposed"
        # the per-type histograms group by le, which only their buckets have
        have = samples[name] | samples.get(
            name.removesuffix("_count") + "_bucket", set()
        )
        assert labels <= have | {"le"}, f"{name} has no label {labels - have}"
