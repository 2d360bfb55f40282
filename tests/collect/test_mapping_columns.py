"""Column-wise mapping of a page gives, record by record, what mapping each record alone gives: the same
rows, and for the quarantine the same reason and field (the first failing field in field order)."""

from __future__ import annotations

from collections import OrderedDict

from cityhub.collect.connectors import mqtt
from cityhub.collect.mapping import FieldSpec, Mapper

FIELDS = [FieldSpec(name="sensor", path="payload.sensor"), FieldSpec(name="seq", path="payload.seq", type="integer"),
          FieldSpec(name="pm10", path="payload.pm10", type="number"),
          FieldSpec(name="first", path="payload.list.0", type="number"),
          FieldSpec(name="at", path="payload.at", type="datetime"),
          FieldSpec(name="ok", path="payload.ok", type="boolean")]
RECORDS = [
    {"payload": {"sensor": " s1 ", "seq": 1, "pm10": 3, "list": [1.5], "at": "2025-05-09 24:00", "ok": "예"}},
    {"payload": {"sensor": "-", "seq": 2, "pm10": 3.5}},  # key field sensor empty
    {"payload": {"sensor": "s2", "seq": "3", "pm10": "1,234.5", "list": []}},  # casts from text
    {"payload": {"sensor": "s3", "seq": 1.5, "pm10": "x"}},  # seq has a fraction
    {"payload": {"sensor": "s4", "seq": True, "pm10": float("inf")}},  # a boolean is not an integer
    {"payload": {"sensor": "s5", "seq": 5, "pm10": "abc", "at": "never"}},  # pm10 fails first
    {"payload": {"sensor": "s6", "seq": 6, "pm10": {"nested": 1}}},
    {"payload": "not json"},  # a text payload: every path misses
    {"topic": "t"},
    OrderedDict(payload=OrderedDict(sensor="s7", seq=7, pm10=None, ok="maybe")),
    {"payload": {"sensor": 8, "seq": 8, "pm10": 8}},
]


def test_map_many_agrees_with_map_record_by_record() -> None:
    mapper = Mapper(FIELDS, ["sensor", "seq"])
    rows, failed = mapper.map_many(RECORDS)
    for i, record in enumerate(RECORDS):
        row, reason, field = mapper.map(record)
        assert rows[i] == row, (i, rows[i], row)
        assert failed.get(i) == ((reason, field) if reason else None), (i, failed.get(i), reason)
    assert 0 not in failed and {1, 3, 4, 5, 6, 7, 8, 9} <= set(failed)


def test_frame_parse_keeps_bad_payloads_as_text() -> None:
    payloads = [b'{"seq": 1}', b"plain text", b"\xff\xfe", b'{"seq": 2}']
    body = (mqtt.FRAME + b'{"topic":"a","qos":0,"sizes":[%s]}\n' % b",".join(b"%d" % len(p) for p in payloads)
            + b"".join(payloads) + b"\n" + b'{"topic":"b","qos":1,"sizes":[3]}\n[1]\n')
    assert mqtt._parse_frame(body) == [{"topic": "a", "payload": {"seq": 1}}, {"topic": "a", "payload": "plain text"},
                                       {"topic": "a", "payload": None}, {"topic": "a", "payload": {"seq": 2}},
                                       {"topic": "b", "payload": [1]}]
