"""The job's state machine as data, its event builders and the flow
barrier's rule: pure, checked without a store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest

from dataqueue import _transitions as t
from dataqueue._commands import CronRun, NewJob
from dataqueue.models import (
    EventType,
    FailureReason,
    FlowStatus,
    JobRecord,
    JobStatus,
    StepOutcome,
)

NOW = datetime(2030, 1, 2, 3, 4, 5, 600, tzinfo=UTC)


def test_every_transition_has_a_unique_name_and_every_event_type_a_transition() -> None:
    names = [tr.name for tr in t.TRANSITIONS]
    assert len(names) == len(set(names))
    assert {tr.event for tr in t.TRANSITIONS} == set(EventType)


def test_a_transition_is_final_exactly_when_it_reports_to_the_barrier() -> None:
    for tr in t.TRANSITIONS:
        assert (tr.barrier is not None) == tr.final, tr.name
        assert tr.final == t.is_final(tr.to_status, None if tr.final else NOW), tr.name


def test_only_failures_append_to_error_history() -> None:
    for tr in t.TRANSITIONS:
        assert tr.error_entry == (tr.event is EventType.FAILED), tr.name


def test_a_running_attempt_ends_only_from_processing() -> None:
    for tr in (
        t.COMPLETE,
        t.FAIL_AND_RETRY,
        t.FAIL_FOR_GOOD,
        t.SUSPEND,
        t.RECLAIM_TO_RETRY,
        t.RECLAIM_AS_WORKER_LOST,
        t.RELEASE,
        t.PROLONG,
    ):
        assert tr.from_statuses == {JobStatus.PROCESSING}, tr.name


def test_cancel_and_retry_start_from_the_documented_statuses() -> None:
    assert {JobStatus.PENDING, JobStatus.WAITING} == t.CANCELLABLE
    assert {JobStatus.FAILED, JobStatus.CANCELLED} == t.RETRYABLE
    assert t.ADD.from_statuses == frozenset()
    assert t.CLAIM.from_statuses == {
        JobStatus.PENDING,
        JobStatus.FAILED,
        JobStatus.WAITING,
    }


def test_a_failure_is_final_when_no_attempt_is_planned() -> None:
    assert t.failure(None) is t.FAIL_FOR_GOOD
    assert t.failure(NOW) is t.FAIL_AND_RETRY
    assert t.FAIL_FOR_GOOD.step_outcome == "fail"
    assert t.COMPLETE.step_outcome == "success"
    with pytest.raises(ValueError, match="fail and retry does not finish a job"):
        _ = t.FAIL_AND_RETRY.step_outcome


@pytest.mark.parametrize(
    ("status", "next_attempt_at", "final"),
    [
        (JobStatus.COMPLETED, None, True),
        (JobStatus.CANCELLED, None, True),
        (JobStatus.FAILED, None, True),
        (JobStatus.FAILED, NOW, False),
        (JobStatus.PENDING, None, False),
        (JobStatus.PROCESSING, None, False),
        (JobStatus.WAITING, None, False),
    ],
)
def test_is_final(
    status: JobStatus, next_attempt_at: datetime | None, final: bool
) -> None:
    assert t.is_final(status, next_attempt_at) is final


def new_job(cron: CronRun | None = None) -> NewJob:
    return NewJob(
        "email", {}, 0, None, 3, None, False, [], None, None, None, None, cron=cron
    )


def test_event_metadata_as_documented_by_the_store_contract() -> None:
    assert t.added_metadata(new_job()) == {"job_type": "email"}
    assert t.added_metadata(new_job(CronRun(4, NOW, 2))) == {
        "job_type": "email",
        "cron_job_id": 4,
        "cron_due_at": "2030-01-02T03:04:05.000600+00:00",
        "cron_skipped": 2,
    }
    assert t.processing_metadata("w1", 2) == {"worker_id": "w1", "attempt": 2}
    assert t.failed_metadata("boom", FailureReason.TIMEOUT, NOW) == {
        "message": "boom",
        "failure_reason": "timeout",
        "next_attempt_at": "2030-01-02T03:04:05.000600+00:00",
    }
    assert t.failed_metadata("gone", FailureReason.WORKER_LOST, None) == {
        "message": "gone",
        "failure_reason": "worker_lost",
        "next_attempt_at": None,
    }
    assert t.error_entry("boom", NOW) == {
        "message": "boom",
        "timestamp": "2030-01-02T03:04:05.000600+00:00",
    }
    assert t.waiting_metadata(NOW, None) == {
        "wait_until": "2030-01-02T03:04:05.000600+00:00"
    }
    assert t.waiting_metadata(None, "tok") == {"token_id": "tok"}
    assert t.resumed_at_time_metadata(NOW) == {
        "wait_until": "2030-01-02T03:04:05.000600+00:00"
    }
    assert t.resumed_on_token_metadata("tok", timed_out=True) == {
        "token_id": "tok",
        "timed_out": True,
    }
    assert t.cancelled_metadata() == {}
    assert t.retried_metadata() == {}
    assert t.reclaimed_metadata("w1") == {"reclaimed_from": "w1"}
    assert t.released_metadata("w2") == {"released_by": "w2"}
    assert t.prolonged_metadata(2.5) == {"timeout": 2.5}


# -- the barrier's rule ---------------------------------------------------------


def test_the_barrier_counts_down_to_ready_under_continue() -> None:
    state = t.BarrierState.started(3)
    state = t.flow_barrier(state, "continue", [(0, "success"), (1, "fail")])
    assert state == t.BarrierState(
        FlowStatus.RUNNING, 1, False, {0: "success", 1: "fail"}
    )
    state = t.flow_barrier(state, "continue", [(2, "success")])
    assert state.status is FlowStatus.READY
    assert state.remaining_steps == 0
    assert not state.aborted


def test_the_barrier_ignores_a_step_reported_twice() -> None:
    state = t.flow_barrier(
        t.BarrierState.started(2), "continue", [(0, "success"), (0, "fail")]
    )
    assert state == t.BarrierState(FlowStatus.RUNNING, 1, False, {0: "success"})


def test_under_abort_the_first_fail_decides_and_later_outcomes_are_dropped() -> None:
    outcomes: list[tuple[int, StepOutcome]] = [(0, "success"), (2, "fail"), (1, "fail")]
    state = t.flow_barrier(t.BarrierState.started(4), "abort", outcomes)
    assert state == t.BarrierState(FlowStatus.READY, 2, True, {0: "success", 2: "fail"})
    assert t.flow_barrier(state, "abort", [(3, "success")]) == state


def test_a_fail_under_continue_does_not_abort() -> None:
    state = t.flow_barrier(t.BarrierState.started(1), "continue", [(0, "fail")])
    assert state == t.BarrierState(FlowStatus.READY, 0, False, {0: "fail"})


def test_the_architecture_doc_shows_the_table_as_it_is() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "architecture.md").read_text()
    for tr in t.TRANSITIONS:
        start = ", ".join(sorted(s.value for s in tr.from_statuses)) or "(new)"
        row = (
            f"| {tr.name} | {start} | {tr.to_status.value} | `{tr.event.value}` "
            f"| {'yes' if tr.error_entry else ''} | {'yes' if tr.final else ''} "
            f"| {tr.barrier or ''} | {tr.made_by} |"
        )
        assert row in doc, row


def _failed_job(**values: object) -> JobRecord:
    fields = {
        "id": 7,
        "job_type": "email",
        "payload": {"to": "a"},
        "status": JobStatus.PROCESSING,
        "created_at": NOW,
        "updated_at": NOW,
        "locked_at": NOW,
        "locked_by": "w",
        "attempts": 3,
        "max_attempts": 3,
        "next_attempt_at": None,
        "priority": 5,
        "run_at": NOW,
        "pending_reason": None,
        "error_history": [],
        "timeout": None,
        "force_kill_on_timeout": False,
        "failure_reason": None,
        "completed_at": None,
        "started_at": NOW,
        "last_retried_at": None,
        "last_failed_at": None,
        "last_cancelled_at": None,
        "tags": ["t"],
        "idempotency_key": "k",
        "progress": None,
        "output": None,
        "step_data": None,
        "retry_delay": None,
        "retry_backoff": None,
        "retry_delay_max": None,
        "wait_until": None,
        "wait_token_id": None,
        "flow_id": None,
        "dead_letter_job_type": "email_dead",
        **values,
    }
    return JobRecord(**fields)  # type: ignore[arg-type]


def test_every_way_to_fail_a_job_for_good_adds_its_dead_letter() -> None:
    failing = {
        tr for tr in t.TRANSITIONS if tr.to_status is JobStatus.FAILED and tr.final
    }
    assert failing == t.LETTERED
    for tr in t.LETTERED:
        assert tr.made_by.split(":")[0] in t.DEAD_LETTER.made_by


def test_a_lost_worker_s_letter_is_a_failure_s_letter_with_its_reason() -> None:
    job = _failed_job()
    letter = t.lost_worker_letter(job, "worker lost: 60s", NOW)
    assert letter == t.dead_letter(
        job, "worker lost: 60s", FailureReason.WORKER_LOST, NOW, None
    )
    assert letter is not None
    assert letter.payload["failure"]["reason"] == "worker_lost"  # type: ignore[index,call-overload]
    assert (
        t.lost_worker_letter(_failed_job(dead_letter_job_type=None), "x", NOW) is None
    )


def test_a_dead_letter_is_made_only_for_good_and_only_when_asked() -> None:
    job = _failed_job()
    reason = FailureReason.TIMEOUT
    assert t.dead_letter(job, "slow", reason, NOW, NOW) is None
    assert (
        t.dead_letter(_failed_job(dead_letter_job_type=None), "x", reason, NOW, None)
        is None
    )
    letter = t.dead_letter(job, "slow", reason, NOW, None)
    assert letter is not None
    assert (letter.job_type, letter.max_attempts, letter.priority) == (
        "email_dead",
        1,
        0,
    )
    assert (letter.tags, letter.idempotency_key, letter.dead_letter_job_type) == (
        [],
        None,
        None,
    )
    assert letter.payload == {
        "original_job": {
            "id": 7,
            "job_type": "email",
            "attempts": 3,
            "max_attempts": 3,
        },
        "original_payload": {"to": "a"},
        "failure": {
            "message": "slow",
            "reason": "timeout",
            "failed_at": NOW.isoformat(),
        },
    }
    assert t.added_metadata(letter) == {"job_type": "email_dead", "dead_letter_of": 7}
    assert t.dead_lettered_metadata(letter, 8) == {
        "dead_letter_job_type": "email_dead",
        "dead_letter_job_id": 8,
    }


@pytest.mark.parametrize(
    ("mode", "status", "retry", "held"),
    [
        ("until_done", JobStatus.PENDING, False, True),
        ("until_done", JobStatus.PROCESSING, False, True),
        ("until_done", JobStatus.WAITING, False, True),
        ("until_done", JobStatus.FAILED, True, True),
        ("until_done", JobStatus.FAILED, False, False),
        ("until_done", JobStatus.COMPLETED, False, False),
        ("until_done", JobStatus.CANCELLED, False, False),
        ("throttle", JobStatus.COMPLETED, False, True),
        ("throttle", JobStatus.CANCELLED, False, True),
        ("debounce", JobStatus.PENDING, False, True),
        ("debounce", JobStatus.PROCESSING, False, False),
        ("debounce", JobStatus.COMPLETED, False, False),
    ],
)
def test_a_dedupe_key_is_held_by_its_mode_and_its_job(
    mode: str, status: JobStatus, retry: bool, held: bool
) -> None:
    rule = t.dedupe_rule("k", mode, 30, NOW)  # type: ignore[arg-type]
    retry_at = NOW if retry else None
    assert rule.expires_at == NOW + timedelta(seconds=30)
    assert t.dedupe_holds(rule, rule.expires_at, status, retry_at, NOW) == held
    # a gone job or an ended window holds nothing
    assert not t.dedupe_holds(rule, rule.expires_at, None, retry_at, NOW)
    late = NOW + timedelta(seconds=30)
    assert not t.dedupe_holds(rule, rule.expires_at, status, retry_at, late)
    # no expiry: only the job decides
    assert t.dedupe_holds(rule, None, status, retry_at, late) == held


def test_a_drain_is_covered_only_by_every_one_of_its_tags() -> None:
    assert t.covers(["wave:1", "eu"], ["wave:1"])
    assert not t.covers(["wave:1"], ["wave:1", "eu"])
    assert not t.covers(["wave:1"], [])
    assert not t.covers([], ["wave:1"])


def test_only_a_final_end_other_than_completed_dooms_a_dependent() -> None:
    assert t.dooms(JobStatus.CANCELLED, None)
    assert t.dooms(JobStatus.FAILED, None)
    assert not t.dooms(JobStatus.FAILED, NOW)  # a retry is planned
    assert not t.dooms(JobStatus.COMPLETED, None)
    assert not t.dooms(JobStatus.PENDING, None)


def test_a_held_job_depends_on_what_it_lists_or_what_covers_its_drain() -> None:
    held = t.Held(5, (1, 2), ("wave:1",))
    assert t.depends_on(held, t.Ended(1, (), False))
    assert t.depends_on(held, t.Ended(9, ("wave:1", "x"), True))
    assert not t.depends_on(held, t.Ended(9, ("x",), True))
    assert not t.depends_on(held, t.Ended(5, ("wave:1",), False))  # itself


def test_a_held_job_stays_held_until_its_prerequisites_and_drain_are_done() -> None:
    held = t.Held(5, (1, 2), ("wave:1",))
    done = {1: JobStatus.COMPLETED, 2: JobStatus.COMPLETED}
    assert not t.dependency_hold(held, done, [])
    assert not t.dependency_hold(held, done, [5])  # it does not block itself
    assert t.dependency_hold(held, done, [7])
    assert t.dependency_hold(held, {**done, 2: JobStatus.PROCESSING}, [])
    assert t.dependency_hold(held, {1: JobStatus.COMPLETED}, [])  # 2 is gone
    assert t.dependency_hold(held, {**done, 2: JobStatus.FAILED}, [])


def test_a_metadata_template_filled_with_a_value_is_its_metadata() -> None:
    before, after = t.metadata_template(t.dependent_cancelled_metadata, json.dumps)
    assert json.loads(f"{before}42{after}") == t.dependent_cancelled_metadata(42)
    before, after = t.metadata_template(t.reclaimed_metadata, json.dumps)
    for worker in ("w1", 'host "a"\\b/\x00é', None):
        filled = f"{before}{json.dumps(worker)}{after}"
        assert json.loads(filled) == t.reclaimed_metadata(worker)
    before, after = t.metadata_template(t.released_metadata, json.dumps)
    for worker in ("w1", None):
        filled = f"{before}{json.dumps(worker)}{after}"
        assert json.loads(filled) == t.released_metadata(worker)


def test_the_store_only_values_of_claims_timeouts_and_letters_fill_templates() -> None:
    processing = t.metadata_template(partial(t.processing_metadata, "w1"), json.dumps)
    assert json.loads("3".join(processing)) == t.processing_metadata("w1", 3)
    iso = json.dumps(NOW.isoformat())
    resumed = t.metadata_template(t.resumed_at_time_metadata, json.dumps)
    assert json.loads(iso.join(resumed)) == t.resumed_at_time_metadata(NOW)
    timed_out = partial(t.resumed_on_token_metadata, timed_out=True)
    resumed = t.metadata_template(timed_out, json.dumps)
    assert json.loads('"tok"'.join(resumed)) == timed_out("tok")
    lettered = partial(t.dead_lettered_metadata, new_job())
    assert json.loads("8".join(t.metadata_template(lettered, json.dumps))) == {
        "dead_letter_job_type": "email",
        "dead_letter_job_id": 8,
    }


def test_a_claimed_job_was_lost_before_when_an_attempt_left_no_outcome() -> None:
    entry = t.error_entry("boom", NOW)

    def claimed(attempts: int, failures: int) -> JobRecord:
        return _failed_job(attempts=attempts, error_history=[entry] * failures)

    assert not t.lost_before(claimed(1, 0))  # a first attempt
    assert not t.lost_before(claimed(3, 2))  # after two failures
    assert not t.lost_before(claimed(3, 3))  # retried by hand after failing for good
    assert t.lost_before(claimed(2, 0))  # the first attempt's worker died
    assert t.lost_before(claimed(4, 2))  # one of three attempts lost
