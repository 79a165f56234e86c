"""The `casewise` command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from kb.demo_history import play_demo_history
from kb.importing import DEMO_PASSWORD, create_demo_users, import_article_folder, import_ticket_file
from kb.sla_watch import check_sla
from kb.visibility import DEFAULT_VIEWER
from service import cli_users
from service.cli_common import console, out, user_errors
from service.runtime import Runtime, desk_rules, open_database, open_runtime
from service.settings import MAX_WORKERS, Settings, cpu_cores, describe_settings, settings_problems

app = typer.Typer(
    help="Casewise: support desk with bilingual knowledge-base search.\n\n"
    "Settings come from CASEWISE_* environment variables:\n\n" + describe_settings().replace("\n", "\n\n"),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
ACTOR = "cli"


@app.callback()
def _settings_are_valid() -> None:
    """Refuse to run any command with a setting out of range, naming it (exit 2), before any work."""
    from pydantic import ValidationError

    try:
        Settings()
    except ValidationError as error:
        console.print(f"error: invalid settings\n{settings_problems(error)}", style="red", highlight=False,
                      markup=False)
        raise typer.Exit(2) from None


@contextmanager
def _progress(description: str) -> Iterator[Progress]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        bar.add_task(description, total=None)
        yield bar


def _open_with_progress(settings: Settings, rebuild: bool = False) -> Runtime:
    with _progress("indexing") as bar:
        task = bar.task_ids[0]
        phase = {"total": -1, "done": 0}

        def advance(done: int, total: int) -> None:
            # each kind (tickets, articles) reports its own total: start the bar again for each
            if total != phase["total"] or phase["done"] >= total:
                bar.reset(task, total=total)
                phase.update(total=total, done=0)
            phase["done"] += done
            bar.update(task, advance=done)

        return open_runtime(settings, progress=advance, rebuild=rebuild)


@app.command()
def init() -> None:
    """Create the data folder and database (applies migrations)."""
    settings = Settings()
    database = open_database(settings)
    database.close()
    out.print(f"database ready: {settings.database_path}")


@app.command("import-tickets")
def import_tickets(file: Annotated[Path, typer.Argument(help="A .jsonl or .csv file of resolved tickets.")]) -> None:
    """Import resolved tickets (JSONL or CSV). A bad file imports nothing and lists every problem."""
    settings = Settings()
    with user_errors():
        database = open_database(settings)
        try:
            with _progress(f"importing {file.name}") as bar:
                task = bar.task_ids[0]
                report = import_ticket_file(database, file, ACTOR, settings.ticket_prefix,
                                            lambda done: bar.update(task, advance=done))
        finally:
            database.close()
    out.print(f"{file.name}: {report.created} imported, {report.skipped_existing} already present. "
              "Run `casewise index` (or keep the server running) to make them searchable.")


@app.command("import-articles")
def import_articles(folder: Annotated[Path, typer.Argument(help="Folder of markdown articles.")]) -> None:
    """Import markdown articles (front matter: title, product, category, tags, language, status, audience)."""
    settings = Settings()
    with user_errors():
        database = open_database(settings)
        try:
            counts = import_article_folder(database, folder, ACTOR)
        finally:
            database.close()
    out.print(f"{folder}: {counts['created']} created, {counts['updated']} updated, "
              f"{counts['unchanged']} unchanged.")


@app.command()
def index(rebuild: Annotated[bool, typer.Option("--rebuild", help="Rewrite every chunk from the database and re-embed everything.")] = False) -> None:
    """Bring the search index level with the database (catch up, or rebuild)."""
    settings = Settings()
    with user_errors():
        runtime = _open_with_progress(settings, rebuild=rebuild)
    _print_index_summary(runtime)
    runtime.close()


def _print_index_summary(runtime: Runtime) -> None:
    index = runtime.index
    counts = {kind: index.store.count(kind) for kind in ("ticket", "article")}
    reason = f" (rebuilt: {index.rebuilt_reason})" if index.rebuilt_reason else ""
    out.print(f"index ready{reason}: {counts['ticket']} ticket vectors, {counts['article']} article "
              f"section vectors, model {index.embedder.name}")


@app.command()
def verify(as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """Compare the saved index with the database; exit 1 on drift (0 missing, 0 extra is healthy)."""
    from indexer.index import verify_saved

    settings = Settings()
    database = open_database(settings)
    try:
        drift, manifest = verify_saved(database, settings.index_dir, bool(settings.english_embedding_model),
                                       bool(settings.extra_embedding_model), bool(settings.chinese_embedding_model))
        integrity = database.integrity_check()
    finally:
        database.close()
    report = {"healthy": drift.healthy and integrity == "ok", "missing": drift.missing,
              "extra": drift.extra, "pending_outbox": drift.pending_outbox,
              "manifest_behind": drift.manifest_behind, "integrity_check": integrity,
              "model": manifest.model if manifest else None}
    if as_json:
        out.print_json(json.dumps(report))
    else:
        state = "healthy" if report["healthy"] else "DRIFT"
        out.print(f"{state}: missing {drift.missing}, extra {drift.extra}, outbox rows not indexed "
                  f"{drift.pending_outbox}, manifest behind {drift.manifest_behind}, "
                  f"integrity {integrity}, model {report['model']}")
    raise typer.Exit(0 if report["healthy"] else 1)


@app.command()
def search(
    text: Annotated[str, typer.Argument(help="Problem text, e.g. '打印机无法连接网络'.")],
    k: Annotated[int, typer.Option(min=1, max=100, help="Hits per list.")] = 5,
) -> None:
    """Show similar resolved cases and matching article sections for a problem text."""
    from indexer.search import suggest

    settings = Settings()
    with user_errors():
        runtime = _open_with_progress(settings)
    try:
        found = suggest(runtime.index, text, k, DEFAULT_VIEWER, runtime.weights)
    finally:
        runtime.close()
    out.print("[bold]Similar cases[/bold]")
    for hit in found.cases:
        out.print(f"  {hit.score:.4f}  {hit.entity['number']}  {hit.entity['title']}", highlight=False)
        out.print(f"          → {hit.snippet}", highlight=False, style="dim")
    out.print("[bold]Articles[/bold]")
    for hit in found.articles:
        path = " / ".join(hit.heading_path)
        out.print(f"  {hit.score:.4f}  {hit.entity['slug']}  [{path}]", highlight=False)


@app.command("eval")
def eval_command(
    folder: Annotated[Path, typer.Argument(help="BEIR-like folder: queries.jsonl, qrels.tsv, corpus.jsonl here or in the parent.")],
    baseline_model: Annotated[list[str] | None, typer.Option(
        "--baseline-model", help="Also run this embedding model alone as a baseline (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object: metrics per system.")] = False,
) -> None:
    """Evaluate Casewise retrieval and its baselines (BM25 alone, each dense model alone)."""
    from indexer.evaluation import evaluate, load_eval_set
    from indexer.search import fusion_weights
    from service.runtime import open_chinese_embedder, open_embedder, open_english_embedder, open_extra_embedder

    settings = Settings()
    with user_errors():
        eval_set = load_eval_set(folder)
        embedders = [open_embedder(settings)]
        for name in baseline_model or []:
            embedders.append(open_embedder(settings.model_copy(update={"embedding_model": name})))
        with _progress("evaluating") as bar:
            tasks: dict[str, int] = {}

            def advance(label: str, done: int, total: int) -> None:
                if label not in tasks:
                    tasks[label] = bar.add_task(label, total=total)
                bar.update(tasks[label], advance=done)

            results = evaluate(eval_set, embedders, advance, open_english_embedder(settings),
                               open_extra_embedder(settings), open_chinese_embedder(settings),
                               fusion_weights(settings.feedback_weight))
    if as_json:
        out.print_json(json.dumps({"dataset": str(folder), "queries": len(eval_set.queries), "systems": results}))
        return
    _print_eval_table(results)


def _print_eval_table(results: dict[str, dict[str, float]]) -> None:
    from rich.table import Table

    names = ["recall@1", "recall@5", "recall@10", "hit@1", "hit@5", "hit@10", "mrr@10", "ndcg@10"]
    table = Table("system", *names)
    for system, figures in results.items():
        table.add_row(system, *(f"{figures[n]:.3f}" for n in names))
    out.print(table)


bench_app = typer.Typer(help="Benchmarks: a large corpus, a real server, figures measured side by side.")
app.add_typer(bench_app, name="bench")


@bench_app.command("suggest")
def bench_suggest(
    tickets: Annotated[int, typer.Option(min=100, help="Tickets to generate from the demo history.")] = 100_000,
    article_copies: Annotated[int, typer.Option(min=1, help="Copies of the demo articles (~520 sections each).")] = 20,
    clients: Annotated[int, typer.Option(min=1, max=256, help="Concurrent clients in the load phase.")] = 16,
    seconds: Annotated[float, typer.Option(min=1, help="Length of the load phase.")] = 30.0,
    output: Annotated[Path | None, typer.Option(help="Also write the figures to this JSON file.")] = None,
    reuse_index: Annotated[bool, typer.Option(
        help="Serve the index already built in the bench folder (skip the build phase and its figures).")] = False,
    workers: Annotated[int | None, typer.Option(
        min=1, max=MAX_WORKERS, help="Server processes of the measured server (default: one per CPU core, the "
                            "production advice; overrides CASEWISE_WORKERS).")] = None,
) -> None:
    """Suggest latency over HTTP (single client vs bare encode; concurrent load) and index build throughput.

    Uses CASEWISE_DATA_DIR as the bench folder: the corpus is generated there when it holds no database.
    """
    from service.bench import run_suggest_bench, write_json

    settings = Settings(workers=workers or min(cpu_cores(), MAX_WORKERS))
    with user_errors():
        figures = run_suggest_bench(settings, tickets, article_copies, clients, seconds,
                                    lambda line: console.print(line, highlight=False), reuse_index)
    out.print(write_json(figures, output), highlight=False)


@bench_app.command("ann")
def bench_ann(
    vectors: Annotated[int, typer.Option(min=1000, help="Vectors in the index.")] = 1_000_000,
    dim: Annotated[int, typer.Option(min=8, help="Dimensions kept from the embeddings.")] = 512,
    queries: Annotated[int, typer.Option(min=10, help="Queries for recall and latency.")] = 500,
    output: Annotated[Path | None, typer.Option(help="Also write the figures to this JSON file.")] = None,
) -> None:
    """Recall@10 against exact search, search latency and memory of the index chosen at that size."""
    from service.bench import run_ann_bench, write_json

    figures = run_ann_bench(vectors, dim, queries, lambda line: console.print(line, highlight=False))
    out.print(write_json(figures, output), highlight=False)


@bench_app.command("mix")
def bench_mix(
    clients: Annotated[int, typer.Option(min=1, max=256, help="Concurrent clients, each with its own account.")] = 16,
    seconds: Annotated[float, typer.Option(min=1, help="How long the clients keep sending.")] = 60.0,
    output: Annotated[Path | None, typer.Option(help="Also write the figures to this JSON file.")] = None,
) -> None:
    """Clients mixing suggest, create and transition over HTTP: throughput, p99, 5xx, lost writes.

    Uses CASEWISE_DATA_DIR as the bench folder (the demo history is played there if it is empty).
    """
    from service.bench import write_json
    from service.bench_mix import run_mix_bench

    figures = run_mix_bench(Settings(), clients, seconds, lambda line: console.print(line, highlight=False))
    out.print(write_json(figures, output), highlight=False)


@app.command("sla-check")
def sla_check(as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """Check SLA targets of every open ticket now: warnings, breaches, escalation on breach.

    The server runs the same check every CASEWISE_SLA_CHECK_INTERVAL_SECONDS; this
    command is for installations that prefer cron, or to check at once.
    """
    settings = Settings()
    with user_errors():
        database = open_database(settings)
        try:
            report = database.write(lambda db: check_sla(db, desk_rules(settings), datetime.now(UTC)))
        finally:
            database.close()
    if as_json:
        out.print_json(data=asdict(report))
        return
    out.print(f"checked {report.checked} open tickets: {len(report.warnings)} warnings, "
              f"{len(report.breaches)} breaches, {len(report.escalated)} escalated")
    for label, numbers in (("warning", report.warnings), ("breach", report.breaches),
                           ("escalated", report.escalated)):
        for number in numbers:
            out.print(f"  {label}: {number}")


@app.command("export-articles")
def export_articles(
    folder: Annotated[Path, typer.Argument(help="Folder to write <slug>.md files into (created if missing).")],
    status: Annotated[list[str] | None, typer.Option(help="Only these states (repeatable; default: all).")] = None,
) -> None:
    """Write articles as markdown with front matter; `casewise import-articles` reads them back."""
    from kb.article_io import export_article_folder

    settings = Settings()
    with user_errors():
        database = open_database(settings)
        try:
            written = export_article_folder(database, folder, *([status] if status else []))
        finally:
            database.close()
    out.print(f"exported {len(written)} articles to {folder}")


@app.command("backup")
def backup_command(file: Annotated[Path, typer.Argument(help="Where to write the backup (an SQLite file).")]) -> None:
    """Copy the database consistently, also while the server is running (the index is rebuilt from it)."""
    from service.backup import backup

    with user_errors():
        report = backup(Settings(), file)
    out.print(f"backed up {report['tickets']} tickets, {report['articles']} articles, "
              f"{report['audit_events']} audit events to {report['file']} ({report['bytes']} bytes, integrity ok)")


@app.command("restore")
def restore_command(file: Annotated[Path, typer.Argument(help="A file written by `casewise backup`.")]) -> None:
    """Replace the database with a backup (stop the server first); the old one is kept beside it."""
    from service.backup import restore

    with user_errors():
        report = restore(Settings(), file)
    out.print(f"restored {report['tickets']} tickets, {report['articles']} articles; previous database kept as "
              f"{report['previous_database_kept_as']}; the index is rebuilt when the server starts")


@app.command()
def demo() -> None:
    """Load the demo desk, accounts, knowledge base and 12+ weeks of ticket history, then build the index.

    The history is played through the real lifecycle (triage, assignment, waits, escalations,
    visits, SLA checks, surveys) and shifted so that it ends last week.
    """
    settings = Settings()
    with user_errors():
        database = open_database(settings)
        try:
            report = play_demo_history(database, desk_rules(settings), until=datetime.now(UTC))
            demo_users = create_demo_users(database, datetime.now(UTC))
        finally:
            database.close()
        out.print(report.note if not report.played else
                  f"demo history: {report.tickets} tickets ({report.open_tickets} still open), "
                  f"{report.events} audit events, played in {report.seconds} s")
        _print_demo_users(demo_users)
        runtime = _open_with_progress(settings)
    _print_index_summary(runtime)
    runtime.close()


def _print_demo_users(created: list[dict]) -> None:
    if not created:
        return
    out.print(f"demo accounts (password '{DEMO_PASSWORD}'), sign in at http://{Settings().host}:{Settings().port}/login:")
    for user in created:
        out.print(f"  {user['username']:<14} {user['role']:<13} {user['display_name']}", highlight=False)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (default: setting CASEWISE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: setting CASEWISE_PORT).")] = None,
    workers: Annotated[int | None, typer.Option(
        help="Server processes (default: setting CASEWISE_WORKERS); each holds its own copy of the index.")] = None,
) -> None:
    """Run the HTTP server (API docs at /docs). The index catches up on start.

    This process holds the data folder's server lock while it serves, so a second server
    (or a restore) on the same folder is refused with a message.
    """
    import uvicorn

    from service.app import create_app
    from service.backup import server_lock

    overrides = {k: v for k, v in {"host": host, "port": port, "workers": workers}.items() if v is not None}
    settings = Settings(**overrides)
    with user_errors(), server_lock(settings):
        if settings.workers == 1:
            uvicorn.run(create_app(settings, hold_server_lock=False, long_lived=True), host=settings.host,
                        port=settings.port, log_level="info")
        else:
            _serve_workers(settings)


def _serve_workers(settings: Settings) -> None:
    """Catch the index up (and save it) once here, then start the workers, which load it from disk.

    Each worker reads its settings from the same environment.
    """
    import uvicorn

    runtime = _open_with_progress(settings)
    _print_index_summary(runtime)
    runtime.close()
    del runtime  # the workers hold their own copies; this process only supervises them
    uvicorn.run("service.app:worker_app", factory=True, workers=settings.workers, host=settings.host,
                port=settings.port, log_level="info")


app.command("create-user")(cli_users.create_user)
app.command("create-token")(cli_users.create_token)
app.command("revoke-token")(cli_users.revoke_token)
app.command("set-password")(cli_users.set_password)
app.command("disable-user")(cli_users.disable_user)

from service.cli_report import report  # noqa: E402

app.command("report")(report)


def main() -> None:
    """Entry point for `python -m service.cli`."""
    app(prog_name="casewise")


if __name__ == "__main__":
    sys.exit(main())
