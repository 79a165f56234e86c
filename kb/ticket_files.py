"""Reading resolved tickets from JSONL and CSV files, with errors that name the line."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from kb.errors import InvalidInput
from kb.tickets import validate_import_record

CSV_REQUIRED_COLUMNS = ("title", "description", "resolution")
_BOOL_TEXT = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False, "": False}


def read_ticket_file(path: Path) -> list[dict[str, Any]]:
    """Parse and validate every record of a .jsonl or .csv file; raise InvalidInput listing all problems."""
    text = _read_utf8(path)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        records = _parse_jsonl(text, path.name)
    elif suffix == ".csv":
        records = _parse_csv(text, path.name)
    else:
        raise InvalidInput(f"{path.name}: unsupported file type '{suffix}'; use .jsonl or .csv")
    problems = [
        problem
        for number, record in records
        for problem in validate_import_record(record, f"{path.name} line {number}")
    ]
    if problems:
        raise InvalidInput(f"{path.name}: {len(problems)} problem(s); nothing was imported", problems)
    if not records:
        raise InvalidInput(f"{path.name}: the file holds no tickets")
    return [record for _, record in records]


def _read_utf8(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path}: is a directory; give a .jsonl or .csv file") from None
    except UnicodeDecodeError as error:
        line = path.read_bytes()[: error.start].count(b"\n") + 1
        raise InvalidInput(
            f"{path.name}: not valid UTF-8 (byte {error.start}, line {line}); save it as UTF-8"
        ) from None


def _parse_jsonl(text: str, name: str) -> list[tuple[int, Any]]:
    records, problems = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append((number, json.loads(line)))
        except json.JSONDecodeError as error:
            problems.append(f"{name} line {number}: malformed JSON ({error.msg} at column {error.colno})")
    if problems:
        raise InvalidInput(f"{name}: {len(problems)} malformed line(s); nothing was imported", problems)
    return records


def _parse_csv(text: str, name: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in CSV_REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise InvalidInput(
            f"{name}: missing column(s) {', '.join(missing)}; the header must include "
            f"{', '.join(CSV_REQUIRED_COLUMNS)}"
        )
    records = []
    for row in reader:
        if None in row:
            raise InvalidInput(f"{name} line {reader.line_num}: more values than header columns")
        records.append((reader.line_num, _csv_record(row)))
    return records


def _csv_record(row: dict[str, str]) -> dict[str, Any]:
    record: dict[str, Any] = {k.strip(): (v or "").strip() for k, v in row.items()}
    record = {k: v for k, v in record.items() if v != "" or k in CSV_REQUIRED_COLUMNS}
    if "error_codes" in record:
        record["error_codes"] = [c.strip() for c in record["error_codes"].split(";") if c.strip()]
    for field in ("escalated", "onsite_visit"):
        if field in record:
            record[field] = _BOOL_TEXT.get(record[field].lower(), record[field])
    if "satisfaction" in record:
        value = record["satisfaction"]
        record["satisfaction"] = int(value) if value.isdigit() else value
    return record
