"""The worker protocol through the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import time

from tests.service.helpers import API, call, claim, complete, create_search, get_search, report
from tests.support.worker_routes import BOTH_WORKER_ROUTES

pytestmark = BOTH_WORKER_ROUTES


def lose_a_lease(first, second) -> tuple[dict, dict, dict]:
    """A one-trial search whose trial, claimed through `first` and reported once, outlives
    its 0.3 s lease and is claimed again through `second`: the search and both assignments."""
    search = create_search(first, budget={"max_trials": 1, "max_parallel": 1,
                                          "max_attempts": 3})
    lost = claim(first, search["id"], worker_id="slow")
    report(first, lost, 0, 0.4)
    time.sleep(0.5)
    again = claim(second, search["id"], worker_id="fast")
    assert again["trial_id"] == lost["trial_id"] and again["attempt"] == 2
    return search, lost, again


def test_claim_hands_out_a_full_assignment_under_a_lease(client):
    search = create_search(client)
    assignment = claim(client, search["id"], worker_id="node-1/42")
    assert assignment["number"] == 0 and assignment["attempt"] == 1
    assert assignment["search_id"] == search["id"]
    assert set(assignment["params"]) == {"learning_rate", "hidden_units", "optimizer", "epochs"}
    assert 1e-4 <= assignment["params"]["learning_rate"] <= 1
    assert assignment["dataset"] == {"kind": "builtin", "name": "digits", "options": {}}
    assert assignment["split"] == {"dev": 0.15, "test": 0.15, "seed": 0}
    assert assignment["objective"] == {"metric": "dev_accuracy", "goal": "maximize"}
    assert len(assignment["lease_token"]) == 32 and assignment["heartbeat_interval"] == 10.0
    trial = client.get(f"{API}/trials/{assignment['trial_id']}").json()
    assert trial["status"] == "running" and trial["worker_id"] == "node-1/42"
    assert trial["lease_expires_at"] == assignment["lease_expires_at"]
    assert get_search(client, search["id"])["counts"]["running"] == 1


def test_a_claim_retried_with_its_key_gets_the_same_trial_under_the_same_lease(client):
    """The worker lost the first answer (a timeout): its retry must not take a second trial
    and leave the first held by nobody until its lease runs out."""
    search = create_search(client, budget={"max_trials": 4, "max_parallel": 4})
    first = claim(client, search["id"], worker_id="w/1", claim_key="key-0001")
    again = claim(client, search["id"], worker_id="w/1", claim_key="key-0001")
    assert again == first
    assert get_search(client, search["id"])["counts"]["running"] == 1
    without_search = claim(client, worker_id="w/1", claim_key="key-0001")
    assert without_search == first


def test_a_claim_key_takes_a_new_trial_for_another_key_worker_or_once_the_trial_ended(client):
    search = create_search(client, budget={"max_trials": 4, "max_parallel": 4})
    first = claim(client, search["id"], worker_id="w/1", claim_key="key-0001")
    other_key = claim(client, search["id"], worker_id="w/1", claim_key="key-0002")
    other_worker = claim(client, search["id"], worker_id="w/2", claim_key="key-0001")
    assert len({first["trial_id"], other_key["trial_id"], other_worker["trial_id"]}) == 3
    complete(client, first, 0.5)
    after_completion = claim(client, search["id"], worker_id="w/1", claim_key="key-0001")
    assert after_completion["trial_id"] not in {first["trial_id"], other_key["trial_id"],
                                                other_worker["trial_id"]}
    counts = get_search(client, search["id"])["counts"]
    assert (counts["running"], counts["completed"]) == (3, 1)


def test_a_claim_key_whose_lease_ran_out_takes_a_trial_as_any_claim_does(make_client):
    client = make_client(lease_seconds=0.3, heartbeat_seconds=0.1)
    search = create_search(client, budget={"max_trials": 1, "max_parallel": 1,
                                           "max_attempts": 3})
    first = claim(client, search["id"], worker_id="w/1", claim_key="key-0001")
    time.sleep(0.5)
    again = claim(client, search["id"], worker_id="w/1", claim_key="key-0001")
    assert again["trial_id"] == first["trial_id"] and again["attempt"] == 2
    assert again["lease_token"] != first["lease_token"]


def test_a_claim_key_whose_trial_ran_out_of_lease_in_another_search_still_gets_a_trial(
        make_client):
    """The key's trial is still running (its lease ran out, nothing requeued it yet) in a
    search the claim does not touch: the new trial cannot hold the key too, so the claim
    takes it without one rather than failing."""
    client = make_client(lease_seconds=0.3, heartbeat_seconds=0.1)
    first_search = create_search(client)
    second_search = create_search(client)
    first = claim(client, first_search["id"], worker_id="w/1", claim_key="key-0001")
    time.sleep(0.5)
    other = claim(client, second_search["id"], worker_id="w/1", claim_key="key-0001")
    assert other["search_id"] == second_search["id"]
    assert client.get(f"{API}/trials/{first['trial_id']}").json()["status"] == "running"
    again = claim(client, second_search["id"], worker_id="w/1", claim_key="key-0001")
    assert again["trial_id"] != other["trial_id"]  # the key named no trial of its own


def test_a_bad_claim_key_is_a_422_naming_it(client):
    for key in ["short", "x" * 65, "has space!"]:
        answer = client.post(f"{API}/trials/claim", json={"worker_id": "w", "claim_key": key})
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"][0]["loc"] == ["body", "claim_key"], answer.text


def test_claim_respects_max_parallel_and_the_budget(client):
    search = create_search(client, budget={"max_trials": 3, "max_parallel": 2})
    first, second = claim(client, search["id"]), claim(client, search["id"])
    assert first and second and first["trial_id"] != second["trial_id"]
    assert claim(client, search["id"]) is None  # two running: max_parallel reached
    complete(client, first, 0.5)
    third = claim(client, search["id"])
    assert third["number"] == 2
    complete(client, second, 0.6)
    assert claim(client, search["id"]) is None  # budget spent
    assert claim(client) is None


def test_claim_without_search_takes_the_oldest_search_with_work(client):
    old = create_search(client, budget={"max_trials": 1, "max_parallel": 1})
    new = create_search(client)
    assert claim(client)["search_id"] == old["id"]
    assert claim(client)["search_id"] == new["id"]


def test_same_seed_gives_the_same_params(client):
    first = create_search(client, name="a")
    second = create_search(client, name="b")
    assert claim(client, first["id"])["params"] == claim(client, second["id"])["params"]


def test_heartbeat_extends_the_lease(client):
    search = create_search(client)
    assignment = claim(client, search["id"])
    time.sleep(0.01)
    answer = call(client, assignment, "heartbeat").json()
    assert answer["action"] == "continue" and answer["reason"] is None
    assert answer["lease_expires_at"] > assignment["lease_expires_at"]


def test_a_repeated_report_changes_nothing_and_other_metrics_are_a_409(client):
    search = create_search(client)
    assignment = claim(client, search["id"])
    assert report(client, assignment, 0, 0.5)["action"] == "continue"
    before = client.get(f"{API}/trials/{assignment['trial_id']}").json()
    assert report(client, assignment, 0, 0.5)["action"] == "continue"  # a retry: the same
    response = call(client, assignment, "report", epoch=0, metrics={"dev_accuracy": 0.9})
    assert response.status_code == 409
    assert response.json()["detail"] == (f"trial {assignment['trial_id']}: epoch 0 was already "
                                         "reported with different metrics; an epoch's metrics "
                                         "cannot change")
    after = client.get(f"{API}/trials/{assignment['trial_id']}").json()
    assert after == before
    assert after["intermediate"] == [{"epoch": 0, "dev_accuracy": 0.5, "train_loss": 0.5,
                                      "dev_loss": 0.5, "learning_rate": 0.01, "seconds": 0.1}]
    assert after["value"] == 0.5 and after["last_epoch"] == 0


def test_report_keeps_the_best_value_so_far(client):
    search = create_search(client)
    assignment = claim(client, search["id"])
    for epoch, accuracy in enumerate([0.5, 0.7, 0.6]):
        report(client, assignment, epoch, accuracy)
    trial = client.get(f"{API}/trials/{assignment['trial_id']}").json()
    assert trial["value"] == 0.7 and trial["last_epoch"] == 2
    assert [row["epoch"] for row in trial["intermediate"]] == [0, 1, 2]


def test_an_earlier_epoch_reported_late_is_stored_once(client):
    search = create_search(client)
    assignment = claim(client, search["id"])
    report(client, assignment, 2, 0.6)
    report(client, assignment, 0, 0.8)  # earlier than the latest, but new: stored
    report(client, assignment, 0, 0.8)  # a repeat: nothing changes
    assert call(client, assignment, "report", epoch=0,
                metrics={"dev_accuracy": 0.1}).status_code == 409  # another value: refused
    trial = client.get(f"{API}/trials/{assignment['trial_id']}").json()
    assert [(r["epoch"], r["dev_accuracy"]) for r in trial["intermediate"]] == [(0, 0.8), (2, 0.6)]
    assert trial["value"] == 0.8 and trial["last_epoch"] == 2
    stored_2 = client.get(f"{API}/trials/{assignment['trial_id']}").json()["intermediate"][1]
    entries_ = [
        {"epoch": 1, "metrics": {"dev_accuracy": 0.7}},
        {"epoch": 2, "metrics": {"dev_accuracy": 0.9}},
        {"epoch": 3, "metrics": {"dev_accuracy": 0.5}},
        {"epoch": 4, "metrics": {"dev_accuracy": 0.4}},
    ]
    response = call(client, assignment, "report", reports=entries_)
    assert response.status_code == 409 and "epoch 2 " in response.json()["detail"]
    entries_[1]["metrics"] = {k: v for k, v in stored_2.items() if k != "epoch"}
    response = call(client, assignment, "report", reports=entries_)
    assert response.status_code == 200
    trial = client.get(f"{API}/trials/{assignment['trial_id']}").json()
    assert [(r["epoch"], r["dev_accuracy"]) for r in trial["intermediate"]] == [
        (0, 0.8), (1, 0.7), (2, 0.6), (3, 0.5), (4, 0.4)]
    assert trial["value"] == 0.8 and trial["last_epoch"] == 4


def test_a_stop_between_reports_reaches_the_next_report(client):
    """A server process remembers the trials it handed out and wrote reports of; a change
    made meanwhile by another call (here a user's stop) must still decide the next report."""
    search = create_search(client)
    assignment = claim(client, search["id"])
    assert report(client, assignment, 0, 0.5)["action"] == "continue"
    assert report(client, assignment, 1, 0.6)["action"] == "continue"
    assert client.post(f"{API}/trials/{assignment['trial_id']}/stop").status_code == 200
    answer = report(client, assignment, 2, 0.7)
    assert answer["action"] == "stop" and answer["reason"] == "stopped by user"
    trial = client.get(f"{API}/trials/{assignment['trial_id']}").json()
    assert [row["epoch"] for row in trial["intermediate"]] == [0, 1, 2]
    assert trial["value"] == 0.7 and trial["last_epoch"] == 2


def test_reports_through_two_server_processes_each_count_once(make_client):
    """A worker that reconnects may reach another server process: what each process
    remembers of the trial goes stale, and every report must still be stored once."""
    first, second = make_client(), make_client()
    search = create_search(first)
    assignment = claim(first, search["id"])
    for client, epoch, accuracy in [(first, 0, 0.5), (second, 1, 0.7), (first, 2, 0.6),
                                    (second, 3, 0.65), (first, 3, 0.65)]:  # a retry
        assert report(client, assignment, epoch, accuracy)["action"] == "continue"
    trial = first.get(f"{API}/trials/{assignment['trial_id']}").json()
    assert [(r["epoch"], r["dev_accuracy"]) for r in trial["intermediate"]] == [
        (0, 0.5), (1, 0.7), (2, 0.6), (3, 0.65)]
    assert trial["value"] == 0.7 and trial["last_epoch"] == 3
    assert complete(second, assignment, 0.7)["status"] == "completed"


def test_a_trial_requeued_by_another_process_refuses_the_old_lease(make_client):
    """The process that handed out the lost lease still remembers it: its next report
    must get 409, and the new lease must work through that process too."""
    first = make_client(lease_seconds=0.3, heartbeat_seconds=0.1)
    second = make_client(lease_seconds=0.3, heartbeat_seconds=0.1)
    _, lost, again = lose_a_lease(first, second)
    response = call(first, lost, "report", epoch=1, metrics={"dev_accuracy": 0.9})
    assert response.status_code == 409 and "lease token" in response.json()["detail"]
    assert report(first, again, 0, 0.8)["action"] == "continue"
    trial = first.get(f"{API}/trials/{lost['trial_id']}").json()
    assert [(r["epoch"], r["dev_accuracy"]) for r in trial["intermediate"]] == [(0, 0.8)]
    assert trial["value"] == 0.8


def test_complete_is_idempotent_for_the_same_call(client):
    search = create_search(client)
    assignment = claim(client, search["id"])
    first = complete(client, assignment, 0.8)
    assert first["status"] == "completed" and first["value"] == 0.8
    again = complete(client, assignment, 0.8)
    assert again == first  # stored once: same seq, same finish time
    different = call(client, assignment, "complete", metrics={"dev_accuracy": 0.9})
    assert different.status_code == 409
    assert get_search(client, search["id"])["counts"]["completed"] == 1


def test_complete_needs_the_objective_metric(client):
    search = create_search(client)
    assignment = claim(client, search["id"])
    response = call(client, assignment, "complete", metrics={"dev_loss": 0.1})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "metrics", "dev_accuracy"]
    response = call(client, assignment, "complete", metrics={"dev_accuracy": None})
    assert response.status_code == 422 and "finite" in response.json()["detail"][0]["msg"]
    response = client.post(f"{API}/trials/{assignment['trial_id']}/complete",
                           content=b'{"lease_token": "%s", "metrics": {"dev_accuracy": NaN}}'
                           % assignment["lease_token"].encode(),
                           headers={"content-type": "application/json"})
    assert response.status_code == 422
    trial = client.get(f"{API}/trials/{assignment['trial_id']}").json()
    assert trial["status"] == "running"
    response = call(client, assignment, "complete",
                    metrics={"dev_accuracy": 0.5, "dev_loss": None})  # a non-finite loss
    assert response.status_code == 200 and response.json()["metrics"]["dev_loss"] is None


def test_an_expired_lease_requeues_the_trial_and_the_old_token_gets_409(make_client):
    client = make_client(lease_seconds=0.3, heartbeat_seconds=0.1)
    search, lost, again = lose_a_lease(client, client)
    assert again["params"] == lost["params"] and again["lease_token"] != lost["lease_token"]
    trial = client.get(f"{API}/trials/{lost['trial_id']}").json()
    assert trial["intermediate"] == [] and trial["value"] is None  # the lost attempt's rows
    for verb, body in [("heartbeat", {}), ("report", {"epoch": 1, "metrics": {}}),
                       ("complete", {"metrics": {"dev_accuracy": 0.9}}),
                       ("fail", {"error": "late"})]:
        response = call(client, lost, verb, **body)
        assert response.status_code == 409, verb
        assert "lease token" in response.json()["detail"]
    assert complete(client, again, 0.7)["attempt"] == 2
    assert get_search(client, search["id"])["status"] == "completed"


def test_a_trial_completed_after_a_lost_attempt_shows_no_error(make_client):
    client = make_client(lease_seconds=0.3, heartbeat_seconds=0.1)
    _, lost, again = lose_a_lease(client, client)
    trial = client.get(f"{API}/trials/{lost['trial_id']}").json()
    assert trial["status"] == "running" and "lease expired" in trial["error"]  # while it runs
    done = complete(client, again, 0.7)
    assert done["status"] == "completed" and done["attempt"] == 2 and done["error"] is None
    assert client.get(f"{API}/trials/{lost['trial_id']}").json()["error"] is None


def _stopped_then_lost(client, accuracies: list[float]) -> tuple[dict, dict]:
    """A two-trial search whose first trial reports `accuracies`, is stopped by its user,
    and loses its worker (its lease runs out); the second completes with 0.5. The search
    and the first trial, as they end."""
    search = create_search(client, budget={"max_trials": 2, "max_parallel": 2,
                                           "max_attempts": 3})
    lost = claim(client, search["id"], worker_id="dies")
    for epoch, accuracy in enumerate(accuracies):
        report(client, lost, epoch, accuracy)
    assert client.post(f"{API}/trials/{lost['trial_id']}/stop").status_code == 200
    time.sleep(0.5)
    other = claim(client, search["id"])  # the claim takes back the expired lease first
    assert other["trial_id"] != lost["trial_id"]
    complete(client, other, 0.5)
    return get_search(client, search["id"]), client.get(f"{API}/trials/{lost['trial_id']}").json()


def test_a_stopped_trial_whose_worker_died_completes_with_its_last_epoch(make_client):
    client = make_client(lease_seconds=0.3, heartbeat_seconds=0.1)
    search, trial = _stopped_then_lost(client, [0.9, 0.8])
    last = {k: v for k, v in trial["intermediate"][-1].items() if k != "epoch"}
    assert trial["status"] == "completed" and trial["stop_cause"] == "user"
    assert trial["metrics"] == last and trial["value"] == 0.8 and trial["error"] is None
    assert search["status"] == "completed" and search["best_trial"]["id"] == trial["id"]
    assert search["best_trial"]["metrics"]["dev_accuracy"] == 0.8


def test_a_stopped_trial_whose_worker_died_before_any_epoch_is_cancelled(make_client):
    client = make_client(lease_seconds=0.3, heartbeat_seconds=0.1)
    search, trial = _stopped_then_lost(client, [])
    assert trial["status"] == "cancelled" and trial["stop_cause"] == "user"
    assert trial["metrics"] is None and trial["value"] is None
    assert "lease expired" in trial["error"] and "stopped by user before it had a result" in (
        trial["error"])
    assert search["status"] == "completed" and search["counts"]["cancelled"] == 1
    assert search["best_trial"]["id"] != trial["id"]
    assert search["best_trial"]["metrics"] is not None


def test_a_stopped_trial_given_back_ends_with_what_it_reached(client):
    search = create_search(client, budget={"max_trials": 2, "max_parallel": 2})
    reached, nothing = claim(client, search["id"]), claim(client, search["id"])
    report(client, reached, 0, 0.6)
    for assignment in (reached, nothing):
        client.post(f"{API}/trials/{assignment['trial_id']}/stop")
    given_back = [call(client, assignment, "fail", error="worker shutting down",
                       retry=True).json() for assignment in (reached, nothing)]
    assert [(t["status"], t["value"]) for t in given_back] == [("completed", 0.6),
                                                                ("cancelled", None)]
    assert given_back[0]["metrics"]["dev_accuracy"] == 0.6
    assert given_back[1]["error"] == ("worker shutting down: stopped by user before it had a "
                                      "result")
    assert get_search(client, search["id"])["best_trial"]["id"] == reached["trial_id"]


def test_a_lease_expiring_past_max_attempts_fails_the_trial(make_client):
    client = make_client(lease_seconds=0.2, heartbeat_seconds=0.05)
    search = create_search(client, budget={"max_trials": 1, "max_parallel": 1,
                                           "max_attempts": 2})
    claim(client, search["id"])
    time.sleep(0.3)
    assert claim(client, search["id"])["attempt"] == 2
    time.sleep(0.3)
    assert claim(client, search["id"]) is None
    trials = client.get(f"{API}/searches/{search['id']}/trials").json()["items"]
    assert trials[0]["status"] == "failed" and "attempt 2 of 2" in trials[0]["error"]
    assert "lease expired" in trials[0]["error"]
    assert get_search(client, search["id"])["status"] == "completed"


def test_the_background_sweep_requeues_expired_leases(make_client):
    client = make_client(lease_seconds=0.2, heartbeat_seconds=0.05, requeue_seconds=0.1)
    search = create_search(client)
    claim(client, search["id"])
    deadline = time.monotonic() + 5
    while get_search(client, search["id"])["counts"]["pending"] != 1:
        assert time.monotonic() < deadline, "the sweep never requeued the trial"
        time.sleep(0.05)
    assert get_search(client, search["id"])["counts"]["running"] == 0


def test_fail_with_retry_requeues_and_without_fails(client):
    search = create_search(client, budget={"max_trials": 2, "max_parallel": 2,
                                           "max_attempts": 2})
    first = claim(client, search["id"])
    response = call(client, first, "fail", error="worker shutting down", retry=True)
    assert response.status_code == 200
    assert response.json()["status"] == "pending" and response.json()["attempt"] == 2
    again = claim(client, search["id"])
    assert again["trial_id"] == first["trial_id"] and again["attempt"] == 2
    response = call(client, again, "fail", error="still down", retry=True)
    assert response.json()["status"] == "failed"  # attempts spent
    second = claim(client, search["id"])
    failed = call(client, second, "fail", error="ValueError: boom (epoch 3)").json()
    assert failed["status"] == "failed" and failed["error"] == "ValueError: boom (epoch 3)"
    final = get_search(client, search["id"])
    assert final["counts"]["failed"] == 2 and final["status"] == "completed"
    assert final["best_trial"] is None


def test_cancel_stops_pending_and_running_trials(make_client):
    client = make_client(lease_seconds=0.2, heartbeat_seconds=0.05)
    search = create_search(client, budget={"max_trials": 5, "max_parallel": 3})
    first = claim(client, search["id"])
    claim(client, search["id"])
    time.sleep(0.3)
    running = claim(client, search["id"])  # requeues both expired leases, takes one back
    assert running["trial_id"] == first["trial_id"] and running["attempt"] == 2
    assert get_search(client, search["id"])["counts"]["pending"] == 1  # the second
    response = client.post(f"{API}/searches/{search['id']}/cancel")
    assert response.status_code == 200
    cancelled = response.json()
    assert cancelled["status"] == "cancelled" and cancelled["finished_at"] is not None
    assert cancelled["counts"]["pending"] == 0 and cancelled["counts"]["cancelled"] == 1
    assert claim(client, search["id"]) is None
    answer = call(client, running, "heartbeat").json()
    assert answer["action"] == "stop" and answer["reason"] == "search cancelled"
    assert report(client, running, 0, 0.5)["action"] == "stop"
    assert complete(client, running, 0.5)["status"] == "cancelled"
    final = get_search(client, search["id"])
    assert final["counts"]["cancelled"] == 2 and final["counts"]["running"] == 0
    again = client.post(f"{API}/searches/{search['id']}/cancel")
    assert again.status_code == 200 and again.json()["status"] == "cancelled"


def test_a_user_stop_reaches_the_worker(client):
    search = create_search(client)
    assignment = claim(client, search["id"])
    response = client.post(f"{API}/trials/{assignment['trial_id']}/stop")
    assert response.status_code == 200 and response.json()["stop_reason"] == "stopped by user"
    answer = report(client, assignment, 0, 0.5)
    assert answer["action"] == "stop" and answer["reason"] == "stopped by user"
    assert call(client, assignment, "heartbeat").json()["action"] == "stop"
    assert complete(client, assignment, 0.5)["status"] == "completed"
    response = client.post(f"{API}/trials/{assignment['trial_id']}/stop")
    assert response.status_code == 409 and "not running" in response.json()["detail"]


def test_the_median_rule_prunes_a_poor_trial(client):
    search = create_search(
        client, budget={"max_trials": 4, "max_parallel": 1},
        early_stopping={"kind": "median", "min_trials": 2, "min_epochs": 2},
    )
    for final in (0.8, 0.9):
        good = claim(client, search["id"])
        for epoch in range(3):
            assert report(client, good, epoch, final - 0.1 * (2 - epoch))["action"] == "continue"
        complete(client, good, final)
    poor = claim(client, search["id"])
    assert report(client, poor, 0, 0.1)["action"] == "continue"  # before min_epochs
    answer = report(client, poor, 1, 0.2)
    assert answer["action"] == "stop" and answer["reason"] == "pruned by median rule"
    assert report(client, poor, 2, 0.95)["action"] == "stop"  # told once, stays told
    pruned = complete(client, poor, 0.2)
    assert pruned["status"] == "pruned" and pruned["stop_reason"] == "pruned by median rule"
    fine = claim(client, search["id"])
    for epoch, accuracy in enumerate([0.75, 0.85, 0.9]):
        assert report(client, fine, epoch, accuracy)["action"] == "continue"


def test_a_search_completes_and_names_its_best_trial(client):
    search = create_search(client, budget={"max_trials": 3, "max_parallel": 3})
    assignments = [claim(client, search["id"]) for _ in range(3)]
    for assignment, accuracy in zip(assignments, [0.7, 0.9, 0.8], strict=True):
        assert get_search(client, search["id"])["status"] == "running"
        complete(client, assignment, accuracy)
    final = get_search(client, search["id"])
    assert final["status"] == "completed" and final["finished_at"] is not None
    assert final["best_trial"]["id"] == assignments[1]["trial_id"]
    assert final["best_trial"]["value"] == 0.9 and final["n_trials"] == 3


def test_the_best_trial_respects_a_minimize_goal(client):
    search = create_search(client, objective={"metric": "dev_loss", "goal": "minimize"},
                           budget={"max_trials": 2, "max_parallel": 2})
    first, second = claim(client, search["id"]), claim(client, search["id"])
    complete(client, first, 0.7)  # dev_loss 0.3
    complete(client, second, 0.9)  # dev_loss 0.1
    assert get_search(client, search["id"])["best_trial"]["id"] == second["trial_id"]


def test_grid_budget_is_capped_by_the_grid_size(client):
    search = create_search(
        client, sampler={"kind": "grid"}, budget={"max_trials": 100, "max_parallel": 10},
        parameters={"batch_size": {"type": "choice", "values": [64, 128, 256]}},
    )
    assert search["max_trials"] == 3
    sizes = [claim(client, search["id"])["params"]["batch_size"] for _ in range(3)]
    assert sorted(sizes) == [64, 128, 256]
    assert claim(client, search["id"]) is None


def test_coarse_to_fine_rounds_and_boxes_are_visible(client):
    search = create_search(
        client, sampler={"kind": "coarse_to_fine", "seed": 3, "round_size": 4,
                         "top_fraction": 0.25, "shrink": 0.5},
        budget={"max_trials": 8, "max_parallel": 6},
        parameters={"learning_rate": {"type": "float", "low": 1e-4, "high": 1.0,
                                      "scale": "log"}},
    )
    first_round = [claim(client, search["id"]) for _ in range(4)]
    assert claim(client, search["id"]) is None  # round 1 waits for round 0 to finish
    assert get_search(client, search["id"])["max_trials"] == 8
    best = max(first_round, key=lambda a: -abs(a["params"]["learning_rate"] - 0.01))
    for assignment in first_round:
        complete(client, assignment, 0.9 if assignment is best else 0.5)
    second_round = [claim(client, search["id"]) for _ in range(4)]
    rounds = get_search(client, search["id"])["rounds"]
    assert [r["round"] for r in rounds] == [0, 1]
    assert rounds[0]["box"] == {"learning_rate": [0.0, 1.0]}
    low, high = rounds[1]["box"]["learning_rate"]
    assert high - low == 0.5
    best_unit = (math.log10(best["params"]["learning_rate"]) + 4) / 4
    assert low <= best_unit <= high
    for assignment in second_round:
        unit = (math.log10(assignment["params"]["learning_rate"]) + 4) / 4
        assert low - 1e-9 <= unit <= high + 1e-9
    trials = client.get(f"{API}/searches/{search['id']}/trials").json()["items"]
    assert [t["round"] for t in trials] == [0, 0, 0, 0, 1, 1, 1, 1]


def test_unknown_trials_and_searches_are_404(client):
    for method, path, body in [
        ("post", f"{API}/trials/999/heartbeat", {"lease_token": "x"}),
        ("post", f"{API}/trials/999/complete", {"lease_token": "x", "metrics": {"a": 1}}),
        ("post", f"{API}/trials/999/stop", None),
        ("get", f"{API}/trials/999", None),
        ("get", f"{API}/searches/999", None),
        ("get", f"{API}/searches/999/trials?since=0", None),
        ("post", f"{API}/searches/999/cancel", None),
        ("post", f"{API}/trials/claim", {"worker_id": "w", "search_id": 999}),
    ]:
        response = client.request(method, path, json=body)
        assert response.status_code == 404, path
        assert "999 not found" in response.json()["detail"]


def entries(*accuracies: float, first: int = 0) -> list[dict]:
    """Entries of a batched report: consecutive epochs from `first`."""
    return [{"epoch": first + i, "metrics": {"dev_accuracy": a, "dev_loss": 1 - a}}
            for i, a in enumerate(accuracies)]


def test_a_batched_report_stores_every_epoch_once(client):
    search = create_search(client)
    assignment = claim(client, search["id"])
    response = call(client, assignment, "report", reports=entries(0.5, 0.7, 0.6))
    assert response.status_code == 200 and response.json()["action"] == "continue"
    trial = client.get(f"{API}/trials/{assignment['trial_id']}").json()
    assert [(r["epoch"], r["dev_accuracy"]) for r in trial["intermediate"]] == [
        (0, 0.5), (1, 0.7), (2, 0.6)]
    assert trial["value"] == 0.7 and trial["last_epoch"] == 2
    # Epochs 1-2 again with other values: a 409, and nothing of the batch is stored.
    response = call(client, assignment, "report", reports=entries(0.1, 0.1, 0.8, first=1))
    assert response.status_code == 409 and "epoch 1 " in response.json()["detail"]
    # Epochs 1-2 again as stored (a retry) and a new epoch 3: only epoch 3 is stored.
    response = call(client, assignment, "report", reports=entries(0.7, 0.6, 0.8, first=1))
    assert response.status_code == 200
    trial = client.get(f"{API}/trials/{assignment['trial_id']}").json()
    assert [(r["epoch"], r["dev_accuracy"]) for r in trial["intermediate"]] == [
        (0, 0.5), (1, 0.7), (2, 0.6), (3, 0.8)]
    assert trial["value"] == 0.8 and trial["last_epoch"] == 3
    before = trial
    assert call(client, assignment, "report", reports=entries(0.5, 0.7)).status_code == 200
    assert client.get(f"{API}/trials/{assignment['trial_id']}").json() == before
    assert report(client, assignment, 4, 0.85)["action"] == "continue"  # the single form
    assert complete(client, assignment, 0.85)["last_epoch"] == 4


def test_a_batched_report_bumps_the_change_cursor_once(client):
    search = create_search(client)
    assignment = claim(client, search["id"])
    cursor = client.get(f"{API}/searches/{search['id']}/trials?since=0").json()["cursor"]
    call(client, assignment, "report", reports=entries(0.5, 0.6, 0.7, 0.8))
    changes = client.get(f"{API}/searches/{search['id']}/trials?since={cursor}").json()
    assert [t["id"] for t in changes["items"]] == [assignment["trial_id"]]
    assert changes["cursor"] == cursor + 1


def test_a_batched_report_answers_stop(client):
    search = create_search(client)
    assignment = claim(client, search["id"])
    client.post(f"{API}/trials/{assignment['trial_id']}/stop")
    answer = call(client, assignment, "report", reports=entries(0.5, 0.6)).json()
    assert answer["action"] == "stop" and answer["reason"] == "stopped by user"


def test_the_median_rule_prunes_within_a_batch(client):
    search = create_search(
        client, budget={"max_trials": 3, "max_parallel": 1},
        early_stopping={"kind": "median", "min_trials": 2, "min_epochs": 2},
    )
    for final in (0.8, 0.9):
        good = claim(client, search["id"])
        call(client, good, "report", reports=entries(final - 0.2, final - 0.1, final))
        complete(client, good, final)
    poor = claim(client, search["id"])
    # Poor at epochs 0-1 (pruned after epoch 1, the first past min_epochs), fine at epoch 2.
    answer = call(client, poor, "report", reports=entries(0.1, 0.2, 0.95)).json()
    assert answer["action"] == "stop" and answer["reason"] == "pruned by median rule"
    assert complete(client, poor, 0.95)["status"] == "pruned"


def test_a_batched_report_with_a_stale_lease_is_409_and_stores_nothing(make_client):
    client = make_client(lease_seconds=0.2, heartbeat_seconds=0.05)
    search = create_search(client, budget={"max_trials": 1, "max_parallel": 1})
    lost = claim(client, search["id"])
    time.sleep(0.3)
    again = claim(client, search["id"])
    response = call(client, lost, "report", reports=entries(0.5, 0.6))
    assert response.status_code == 409 and "lease token" in response.json()["detail"]
    assert client.get(f"{API}/trials/{again['trial_id']}").json()["intermediate"] == []


def test_bad_batched_reports_are_422_naming_the_field(client):
    search = create_search(client)
    assignment = claim(client, search["id"])
    decreasing = entries(0.1, 0.2, 0.3)
    decreasing[2]["epoch"] = 1
    negative = entries(0.1, 0.2)
    negative[1]["epoch"] = -1
    infinite = entries(0.1, 0.2)
    infinite[1]["metrics"]["dev_loss"] = "Infinity"
    cases = [
        ({"reports": decreasing}, ["body", "reports", 2, "epoch"], "strictly increasing"),
        ({"reports": negative}, ["body", "reports", 1, "epoch"], "greater than or equal"),
        # "Infinity" as a string: metric values are JSON numbers only (a string is not
        # read as the number it spells).
        ({"reports": infinite}, ["body", "reports", 1, "metrics", "dev_loss"],
         "json number or null, not a string"),
        ({"reports": []}, ["body", "reports"], "at least 1"),
        ({"reports": entries(*[0.5] * 1001)}, ["body", "reports"], "at most 1000"),
        ({"reports": [{"epoch": 0}]}, ["body", "reports", 0, "metrics"], "required"),
        ({"reports": entries(0.5), "epoch": 0}, ["body", "epoch"], "not both"),
        ({"metrics": {"dev_accuracy": 0.5}}, ["body", "epoch"], "required"),
        ({"epoch": 0}, ["body", "metrics"], "required"),
    ]
    for body, loc, words in cases:
        response = call(client, assignment, "report", **body)
        assert response.status_code == 422, (body, response.text)
        detail = response.json()["detail"][0]
        assert detail["loc"] == loc and words in detail["msg"].lower(), (loc, detail)
    trial = client.get(f"{API}/trials/{assignment['trial_id']}").json()
    assert trial["intermediate"] == [] and trial["status"] == "running"
