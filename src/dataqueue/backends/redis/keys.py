"""Every Redis key name, as a function of the queue's ``key_prefix``.

``lua/_lib.lua`` builds the same names inside the scripts (a test checks that
both agree). Every name starts with the prefix as one hash tag (``base``):
prefix ``dq:`` gives ``{dq:}job:7``, so a queue's keys share one Redis
Cluster slot. Layout, with ``{p}`` that tagged prefix and times in epoch
microseconds:

* ``{p}job:{id}`` hash of one job (JSON for payload, output, tags,
  error_history, step_data; absent field = NULL; ``lease_token`` while it is
  processing); ``{p}id`` the id counter; ``{p}instance`` the dataset's
  instance marker (see ``backend.py`` on resets).
* ``{p}all``, ``{p}status:{status}``, ``{p}type:{job_type}``,
  ``{p}type_status:{status}:{job_type}``, ``{p}tag:{tag}``: zsets of ids
  scored by id, so each one lists newest first. Filtered reads, counts and
  bulk changes are served from them (see ``filter_source`` in ``_lib.lua``).
* ``{p}idempotency`` hash key → id.
* ``{p}dedupe`` hash dedupe key → ``<job id>|<expires_at>`` (expires_at
  empty: held until the job finishes); the holder's hash has ``dedupe_key``.
* Claiming: ``{p}ready:{job_type}`` (the type's due jobs, score -priority,
  member ``<run_at>:<id>`` zero-padded; a claim reads only its types' zsets),
  ``{p}scheduled`` (pending jobs not yet due when written, by run_at),
  ``{p}retry`` (failed with a next attempt, by next_attempt_at); the claim
  promotes due ones from the last two into ready. ``{p}ready`` is the single
  ready zset of earlier releases: claims move what is left in it to the
  types' zsets. ``{p}processing`` (by
  locked_at, refreshed by heartbeats), ``{p}finished`` (completed, cancelled,
  failed for good; by updated_at).
* Events: ``{p}events:{id}`` list of one job's events, each ``event_id TAB
  type TAB created_at TAB metadata``, oldest first; ``{p}event_times`` zset of
  job ids by their oldest event's created_at; ``{p}event_id`` the counter.
* Tokens: ``{p}token:{id}`` hash (id, job_id, status, output, timeout_at,
  created_at, completed_at, tags); ``{p}token_timeouts`` zset of waiting
  tokens by timeout_at; ``{p}job_tokens:{job id}`` set of a job's tokens.
* ``{p}waits``: jobs waiting until a time, by wait_until (the claim makes
  them pending once due); a job waiting on a token is in no claim zset.
* ``{p}wakeup`` pub/sub channel: a message when jobs are added (directly,
  by cron, by a flow or its join) or resumed by a token.
* ``{p}job_finished`` pub/sub channel: a message from each script that made
  jobs final (completed, failed with no next attempt, cancelled).
* Cron: ``{p}cron:{id}`` hash of one schedule (encoded like a job);
  ``{p}cron_id`` the id counter; ``{p}cron_names`` hash name → id;
  ``{p}cron_all`` zset of ids (by id); ``{p}cron_due`` zset of active
  schedules by next_run_at; ``{p}cron_jobs:{id}`` set of the schedule's job
  ids that may still run (for the overlap check).

* Flows: ``{p}flow:{id}`` hash of one flow (id, status, failure_policy,
  total_steps, remaining_steps, aborted and timed_out as 1/0, timeout_at,
  join_job_type, join_spec, join_job_id, entity as JSON, created_at,
  updated_at, and ``seq``: its place in creation order);
  ``{p}flow_seq`` the counter of ``seq``; ``{p}flow_steps:{id}`` list of the
  steps in step order, each ``job id TAB job type``; ``{p}flow_outcomes:{id}``
  hash step index → ``success`` | ``fail``, written once per step (HSETNX);
  ``{p}flows`` and ``{p}flow_status:{status}`` zsets of flow ids by seq;
  ``{p}flow_timeouts`` running flows with a deadline, by timeout_at. A flow
  step's job hash has ``flow_id`` and ``flow_step_index``; a join's has
  ``flow_id`` only. ``cleanup_old_flows`` deletes a joined flow's keys and
  index entries, not its jobs.
* Workers: ``{p}worker:{id}`` hash of one registered processor (id, host,
  pid, started_at, last_heartbeat, job_types as JSON (absent: every type),
  concurrency, running_job_ids as JSON, processed, failed, quiet "1" once
  asked to stop taking jobs); ``{p}workers`` zset of worker ids by
  last_heartbeat.
* ``{p}minute_stats:{minute}`` hash ``type TAB started|completed|failed|
  first_starts|start_delay_seconds`` → what workers reported for that
  minute since the epoch (expires a day and an hour after it).
* ``{p}actions`` list of the recorded actions (``record_action``), newest
  first, each JSON text ``{"at": epoch micros, "who", "action",
  "details"}``; trimmed to the newest ``keep`` as each is pushed.
* Flow control: ``{p}limits`` hash job type → its limits as JSON
  (``concurrency``, ``rate`` and ``group_rate`` as ``[count, per]``,
  ``group_concurrency``, ``paused``; absent: none; ``*``: the pause of every
  type); ``{p}limit_buckets:{job_type}`` hash group key (``""``: the type's
  own) → ``tokens:updated_at`` of a rate's token bucket (absent: full). A
  job's group key is its hash's ``group_id``.
* Read by ``job_type_stats`` with the type+status index (and by
  ``held_counts``, which reads the front of each type's line): ``{p}types``
  set of the job types that have jobs; ``{p}type_pending:{job_type}`` zset
  of the type's pending jobs by run_at; ``{p}ended:{minute}`` hash ``type TAB
  completed|failed`` → attempts that ended so in that minute since the
  epoch (expires after two hours).

Upgrades: keys are only ever added. A job hash written before a field
existed (``flow_step_index``, ``entity``) reads as NULL there. Indexes added
later are filled for older jobs by ``migrate()`` (schema version 2 added
``type_status``; 3 ``types`` and ``type_pending``). Keys named without the
hash tag (``dq:job:7``) are renamed by ``migrate()`` (``upgrade.py``).
"""

from __future__ import annotations


def base(prefix: str) -> str:
    """What every key and channel of the queue starts with: its prefix as one
    hash tag, so Redis Cluster keeps the whole queue in one slot and every
    script touches one slot only."""
    return "{" + prefix + "}"


def pattern(prefix: str) -> str:
    """A SCAN pattern for every key of the queue (the prefix has no glob
    characters, see ``_validate.check_key_prefix``)."""
    return base(prefix) + "*"


def _key(prefix: str, name: str) -> str:
    return base(prefix) + name


def job(prefix: str, job_id: int | str) -> str:
    return _key(prefix, f"job:{job_id}")


def events(prefix: str, job_id: int | str) -> str:
    return _key(prefix, f"events:{job_id}")


def status(prefix: str, name: str) -> str:
    return _key(prefix, f"status:{name}")


def job_type(prefix: str, name: str) -> str:
    return _key(prefix, f"type:{name}")


def type_status(prefix: str, status_name: str, job_type_name: str) -> str:
    return _key(prefix, f"type_status:{status_name}:{job_type_name}")


def tag(prefix: str, name: str) -> str:
    return _key(prefix, f"tag:{name}")


def token(prefix: str, token_id: str) -> str:
    return _key(prefix, f"token:{token_id}")


def token_timeouts(prefix: str) -> str:
    return _key(prefix, "token_timeouts")


def job_tokens(prefix: str, job_id: int | str) -> str:
    return _key(prefix, f"job_tokens:{job_id}")


def waits(prefix: str) -> str:
    return _key(prefix, "waits")


def all_jobs(prefix: str) -> str:
    return _key(prefix, "all")


def idempotency(prefix: str) -> str:
    return _key(prefix, "idempotency")


def dedupe(prefix: str) -> str:
    return _key(prefix, "dedupe")


def legacy_ready(prefix: str) -> str:
    return _key(prefix, "ready")


def ready(prefix: str, job_type: str) -> str:
    return _key(prefix, f"ready:{job_type}")


def wakeup(prefix: str) -> str:
    return _key(prefix, "wakeup")


def schema_version(prefix: str) -> str:
    return _key(prefix, "schema_version")


def job_id_counter(prefix: str) -> str:
    return _key(prefix, "id")


def scheduled(prefix: str) -> str:
    return _key(prefix, "scheduled")


def retry(prefix: str) -> str:
    return _key(prefix, "retry")


def processing(prefix: str) -> str:
    return _key(prefix, "processing")


def finished(prefix: str) -> str:
    return _key(prefix, "finished")


def event_id_counter(prefix: str) -> str:
    return _key(prefix, "event_id")


def event_times(prefix: str) -> str:
    return _key(prefix, "event_times")


def instance(prefix: str) -> str:
    return _key(prefix, "instance")


def cron(prefix: str, cron_job_id: int | str) -> str:
    return _key(prefix, f"cron:{cron_job_id}")


def cron_jobs(prefix: str, cron_job_id: int | str) -> str:
    return _key(prefix, f"cron_jobs:{cron_job_id}")


def cron_id_counter(prefix: str) -> str:
    return _key(prefix, "cron_id")


def cron_names(prefix: str) -> str:
    return _key(prefix, "cron_names")


def cron_all(prefix: str) -> str:
    return _key(prefix, "cron_all")


def cron_due(prefix: str) -> str:
    return _key(prefix, "cron_due")


def job_finished(prefix: str) -> str:
    return _key(prefix, "job_finished")


def flow(prefix: str, flow_id: str) -> str:
    return _key(prefix, f"flow:{flow_id}")


def flow_seq(prefix: str) -> str:
    return _key(prefix, "flow_seq")


def flow_steps(prefix: str, flow_id: str) -> str:
    return _key(prefix, f"flow_steps:{flow_id}")


def flow_outcomes(prefix: str, flow_id: str) -> str:
    return _key(prefix, f"flow_outcomes:{flow_id}")


def flows(prefix: str) -> str:
    return _key(prefix, "flows")


def flow_status(prefix: str, name: str) -> str:
    return _key(prefix, f"flow_status:{name}")


def flow_timeouts(prefix: str) -> str:
    return _key(prefix, "flow_timeouts")


def worker(prefix: str, worker_id: str) -> str:
    return _key(prefix, f"worker:{worker_id}")


def workers(prefix: str) -> str:
    return _key(prefix, "workers")


def types(prefix: str) -> str:
    return _key(prefix, "types")


def limits(prefix: str) -> str:
    return _key(prefix, "limits")


def limit_buckets(prefix: str, job_type: str) -> str:
    return _key(prefix, f"limit_buckets:{job_type}")


def type_pending(prefix: str, job_type: str) -> str:
    return _key(prefix, f"type_pending:{job_type}")


def ended(prefix: str, minute: int | str) -> str:
    return _key(prefix, f"ended:{minute}")


def minute_stats(prefix: str, minute: int | str) -> str:
    return _key(prefix, f"minute_stats:{minute}")


def actions(prefix: str) -> str:
    return _key(prefix, "actions")
