"""Personal data detection (with the RRN check digit and Luhn) and masking."""

from __future__ import annotations

import pyarrow as pa

from cityhub.governance import personal


def _rrn_with_check(first12: str) -> str:
    weights = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
    check = (11 - sum(int(d) * w for d, w in zip(first12, weights, strict=False)) % 11) % 10
    return f"{first12[:6]}-{first12[6:]}{check}"


def test_detects_each_kind_and_never_carries_the_value() -> None:
    rrn = _rrn_with_check("900101123456")
    table = pa.table({
        "비고": [f"주민번호 {rrn}", "없음", None],
        "연락처": ["010-1234-5678", "02-123-4567", "없음"],
        "email": ["kim@example.com", "", None],
        "카드": ["4111 1111 1111 1111", "1234 5678 9012 3456", None],  # second fails Luhn
        "성명": ["김철수", "이영희", "ABC"],
        "주소": ["부산광역시 해운대구 센텀중앙로 79", "중앙대로 1001-3", None],
        "count": [1, 2, 3],
    })
    found = {(f.column, f.kind): f for f in personal.scan_table(table)}
    assert found[("비고", "rrn")].matches == 1 and rrn not in found[("비고", "rrn")].example
    assert found[("비고", "rrn")].example == "900101-1******"
    assert found[("연락처", "phone")].matches == 2 and found[("연락처", "phone")].example == "010-****-5678"
    assert found[("email", "email")].example == "k**@example.com"
    assert found[("카드", "card")].matches == 1
    assert found[("성명", "name")].matches == 2 and found[("성명", "name")].example == "김*수"
    assert ("주소", "address") in found
    assert not any(col == "count" for col, _ in found)


def test_rrn_with_a_wrong_check_digit_is_not_flagged() -> None:
    good = _rrn_with_check("851224234567")
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    assert personal.scan_column("x", [bad]) == []
    assert personal.scan_column("x", [good])[0].kind == "rrn"


def test_masking_and_pseudonymisation() -> None:
    assert personal.mask_value("phone", "010-1234-5678") == "010-****-5678"
    assert personal.mask_value("phone", "연락 01012345678 주세요") == "연락 010-****-5678 주세요"
    assert personal.mask_value("name", "홍길동") == "홍*동"
    assert personal.mask_value("card", "4111-1111-1111-1111") == "4111-****-****-1111"
    assert "79" not in personal.mask_value("address", "해운대구 센텀중앙로 79")
    a = personal.pseudonymise("홍길동", "k1")
    assert a == personal.pseudonymise("홍길동", "k1") != personal.pseudonymise("홍길동", "k2")
    assert a.startswith("p_") and "홍" not in a
