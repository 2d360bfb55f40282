"""The SQLite write gate: context request writers go before the history writer, which still gets its turn,
and a request's turn ends with its transaction (commit, rollback) before the bus hands out its events."""

from __future__ import annotations

import threading
import time

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from cityhub.context import write_gate
from cityhub.context.write_gate import WriteGate


def _until(check) -> None:  # noqa: ANN001
    deadline = time.monotonic() + 30
    while not check():
        assert time.monotonic() < deadline, "condition never came true"
        time.sleep(0.005)


def _run(target) -> threading.Thread:  # noqa: ANN001
    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t


def test_a_waiting_request_goes_before_the_history_writer():
    gate, order = WriteGate(), []
    assert gate.enter_request()
    bg = _run(lambda: (gate.enter_background(patience=30), order.append("history"), gate.leave()))
    req = _run(lambda: (gate.enter_request(), order.append("request"), gate.leave()))
    _until(lambda: gate._requests_waiting == 1)
    gate.leave()
    for t in (req, bg):
        t.join(30)
    assert order == ["request", "history"]


def test_the_history_writer_takes_its_turn_after_its_patience():
    gate, order = WriteGate(), []
    assert gate.enter_request()
    bg = _run(lambda: (gate.enter_background(patience=0.01), order.append("history"), gate.leave()))
    _until(lambda: gate._background_due)
    req = _run(lambda: (gate.enter_request(), order.append("request"), gate.leave()))
    _until(lambda: gate._requests_waiting == 1)
    gate.leave()
    for t in (bg, req):
        t.join(30)
    assert order == ["history", "request"]


def test_a_request_holds_the_gate_until_its_transaction_ends(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'g.db'}")
    gate = write_gate.gate_for(engine)
    with Session(engine) as db:
        db.execute(text("CREATE TABLE t (x INTEGER)"))
        db.commit()
    seen_in_commit = []
    for end in ("commit", "rollback", "close"):
        db = Session(engine)
        db.execute(text("SELECT 1"))
        write_gate.hold_for_request(db)
        assert gate._held
        db.execute(text("INSERT INTO t VALUES (1)"))
        if end == "commit":
            from sqlalchemy import event

            event.listen(db, "after_commit", lambda s: seen_in_commit.append(gate._held))
            db.commit()
        elif end == "rollback":
            db.rollback()
        db.close()
        assert not gate._held, end
    assert seen_in_commit == [False]  # the bus's after-commit subscribers already find it free
    assert write_gate.gate_for(create_engine("postgresql+psycopg://u@127.0.0.1/x")) is None
    engine.dispose()
