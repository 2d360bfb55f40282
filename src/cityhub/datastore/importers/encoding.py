"""Which text encoding a file uses, confirmed over the whole file (not guessed from a sample alone).

UTF-8 (with or without BOM) is read in place; anything else (CP949/EUC-KR for most Korean public
data) is transcoded once to a temporary UTF-8 file. A byte that does not decode names its line.
"""

from __future__ import annotations

import codecs
import uuid
from pathlib import Path

from charset_normalizer import from_bytes

from cityhub.errors import Invalid

SAMPLE_BYTES = 1 << 20
CHUNK_BYTES = 4 << 20
BOM = codecs.BOM_UTF8
# Encodings we accept from detection; Korean files are CP949 (a superset of EUC-KR) in practice.
_ALIASES = {"euc_kr": "cp949", "euc-kr": "cp949", "cp949": "cp949", "utf_8": "utf-8", "ascii": "utf-8",
            "utf-8": "utf-8"}


def detect_encoding(path: Path) -> str:
    """'utf-8-sig', 'utf-8' or the codec charset-normalizer finds on a sample (Korean → cp949)."""
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    if sample.startswith(BOM):
        return "utf-8-sig"
    try:
        # A sample cut inside a multi-byte character is still UTF-8: decode incrementally.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    best = from_bytes(sample, cp_isolation=["cp949", "euc_kr", "utf_8", "cp1252", "latin_1"]).best()
    if best is not None:
        name = best.encoding.lower()
        return _ALIASES.get(name, name)
    # Nothing decodes the whole sample (mixed encodings): take the one that decodes the longer prefix,
    # so confirming it over the whole file names the first line that breaks.
    reach = {enc: _decodable_prefix(sample, enc) for enc in ("utf-8", "cp949")}
    if max(reach.values()) == 0:
        raise Invalid.field("encoding", "the file's text encoding could not be recognised (use UTF-8 or CP949)")
    return max(reach, key=lambda enc: reach[enc])


def _decodable_prefix(sample: bytes, encoding: str) -> int:
    try:
        codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
        return len(sample)
    except UnicodeDecodeError as exc:
        return exc.start


def _decode_error(exc: UnicodeDecodeError, chunk: bytes, lines_before: int, encoding: str) -> Invalid:
    line = lines_before + chunk[: exc.start].count(b"\n") + 1
    return Invalid(
        f"line {line}: bytes that are not valid {encoding} (the file mixes encodings or is damaged)",
        details={f"line {line}": [f"not valid {encoding}; save the whole file as UTF-8 or CP949"]},
    )


def verify_utf8(path: Path) -> None:
    """Decode the whole file as UTF-8 in chunks; raise Invalid naming the first bad line."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            try:
                decoder.decode(chunk, final=False)
            except UnicodeDecodeError as exc:
                raise _decode_error(exc, chunk, lines, "UTF-8") from None
            lines += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise _decode_error(exc, b"", lines, "UTF-8") from None


def transcode_to_utf8(path: Path, encoding: str, tmp_dir: Path) -> Path:
    """Write a UTF-8 copy of `path` into tmp_dir (caller deletes it); Invalid names the first bad line."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    target = tmp_dir / f"transcode-{uuid.uuid4().hex}.csv"
    decoder = codecs.getincrementaldecoder(encoding)()
    lines = 0
    try:
        with path.open("rb") as src, target.open("wb") as dst:
            while chunk := src.read(CHUNK_BYTES):
                try:
                    dst.write(decoder.decode(chunk, final=False).encode())
                except UnicodeDecodeError as exc:
                    raise _decode_error(exc, chunk, lines, encoding.upper()) from None
                lines += chunk.count(b"\n")
            dst.write(decoder.decode(b"", final=True).encode())
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target
