"""Ticket attachments: files on disk under the data folder, metadata and an audit event in the database."""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, UploadFile
from fastapi.responses import FileResponse
from starlette.exceptions import HTTPException

from kb import activity
from kb.errors import InvalidInput
from service.deps import RuntimeDep, ViewerDep
from service.schemas import PathId

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])
CHUNK = 1 << 20


@router.post("/{ticket_id}/attachments", status_code=201)
async def upload(ticket_id: PathId, file: UploadFile, runtime: RuntimeDep, viewer: ViewerDep) -> dict[str, Any]:
    """Attach a file (multipart field `file`; at most CASEWISE_MAX_ATTACHMENT_BYTES)."""
    runtime.database.read(lambda db: activity.attachments_for(db, ticket_id, viewer))  # 404 before any write
    folder = runtime.settings.attachments_dir / str(ticket_id)
    folder.mkdir(parents=True, exist_ok=True)
    stored = folder / secrets.token_hex(16)
    size, digest = await _save(file, stored, runtime.settings.max_attachment_bytes)
    if size == 0:
        stored.unlink()
        raise InvalidInput("the file is empty; attach a file with content")
    try:
        return runtime.database.write(lambda db: activity.add_attachment(
            db, ticket_id, file.filename or "attachment", file.content_type or "", size, digest,
            str(stored.relative_to(runtime.settings.data_dir)), viewer, datetime.now(UTC)))
    except BaseException:
        stored.unlink(missing_ok=True)
        raise


async def _save(file: UploadFile, target, limit: int) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with open(target, "wb") as handle:
        while chunk := await file.read(CHUNK):
            size += len(chunk)
            if size > limit:
                handle.close()
                target.unlink()
                raise HTTPException(413, f"the file is larger than {limit} bytes (setting CASEWISE_MAX_ATTACHMENT_BYTES)")
            digest.update(chunk)
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    return size, digest.hexdigest()


@router.get("/{ticket_id}/attachments")
def list_attachments(ticket_id: PathId, runtime: RuntimeDep, viewer: ViewerDep) -> list[dict[str, Any]]:
    """The ticket's attachments: name, size, type, checksum, who added them and when."""
    return runtime.database.read(lambda db: activity.attachments_for(db, ticket_id, viewer))


@router.get("/{ticket_id}/attachments/{attachment_id}", response_class=FileResponse)
def download(ticket_id: PathId, attachment_id: PathId, runtime: RuntimeDep, viewer: ViewerDep) -> FileResponse:
    """The file itself, always as a download (never rendered inline)."""
    row = runtime.database.read(lambda db: activity.get_attachment(db, ticket_id, attachment_id, viewer))
    return FileResponse(runtime.settings.data_dir / row["stored_as"], filename=row["name"],
                        media_type="application/octet-stream", content_disposition_type="attachment")
