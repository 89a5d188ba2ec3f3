"""`llmtrace models list|show|versions|create|register|alias|stage|request|requests|approve|
reject|delete`: the model registry from the command line (on a database or a server)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from llmtrace.cli._common import connect_store, format_table
from llmtrace.registry import current_user
from llmtrace.registry._models import register_in
from llmtrace.store import ModelVersion, RegisteredModel, Store, TransitionRequest, filter_literal


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def _tags(tags: dict[str, str]) -> str:
    text = ", ".join(f"{k}={v}" for k, v in sorted(tags.items())) or "-"
    return text if len(text) <= 40 else text[:39] + "…"


def models_table(models: list[RegisteredModel]) -> str:
    """Registered models: name, latest version per stage, aliases, approval, tags."""
    if not models:
        return "no registered models"
    header = ("NAME", "VERSIONS BY STAGE", "ALIASES", "APPROVAL", "UPDATED (UTC)", "TAGS")
    rows: list[tuple[str, ...]] = [
        (
            m.name,
            ", ".join(f"{v.stage}: v{v.version}" for v in m.latest_versions) or "-",
            ", ".join(f"@{a}=v{n}" for a, n in sorted(m.aliases.items())) or "-",
            "required" if m.requires_approval else "-",
            _when(m.updated_at),
            _tags(m.tags),
        )
        for m in models
    ]
    return format_table(header, rows)


def versions_table(versions: list[ModelVersion]) -> str:
    """Model versions: name, version, stage, aliases, run, source, created."""
    if not versions:
        return "no model versions"
    header = ("NAME", "VERSION", "STAGE", "ALIASES", "RUN", "SOURCE", "CREATED (UTC)", "BY")
    rows: list[tuple[str, ...]] = [
        (
            v.name,
            str(v.version),
            v.stage,
            ", ".join(f"@{a}" for a in v.aliases) or "-",
            v.run_id or "-",
            v.source,
            _when(v.created_at),
            v.created_by or "-",
        )
        for v in versions
    ]
    return format_table(header, rows)


def requests_table(requests: list[TransitionRequest]) -> str:
    """Transition requests: id, model, version, stage, status, who and when."""
    if not requests:
        return "no transition requests"
    header = (
        "REQUEST ID",
        "MODEL",
        "VERSION",
        "TO STAGE",
        "STATUS",
        "BY",
        "AT (UTC)",
        "DECIDED BY",
    )
    rows: list[tuple[str, ...]] = [
        (
            r.request_id,
            r.name,
            str(r.version),
            r.to_stage + (" (archive others)" if r.archive_existing_versions else ""),
            r.status,
            r.requested_by or "-",
            _when(r.requested_at),
            r.decided_by or "-",
        )
        for r in requests
    ]
    return format_table(header, rows)


def _run(args: argparse.Namespace, action: Callable[[Store], Any]) -> int:
    store = connect_store(args)
    try:
        result = action(store)
    finally:
        store.close()
    if result is None:
        return 0
    items = result if isinstance(result, list) else [result]
    if args.json:
        for item in items:
            print(json.dumps(item.to_dict()))
        return 0
    first = items[0] if items else None
    if isinstance(first, RegisteredModel) or (not items and args.kind == "models"):
        print(models_table(items))
    elif isinstance(first, TransitionRequest) or (not items and args.kind == "requests"):
        print(requests_table(items))
    else:
        print(versions_table(items))
    return 0


def register(sub: Any) -> None:
    """Add the registry commands to the `models` group's subparsers."""
    add = _Adder(sub)
    p = add("list", "registered models (filter: name like 'rag%' and tags.team = 'x')", "models")
    p.add_argument("--filter", help="filter on name, description, tags.<key>, created_at")
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(
        handler=lambda a: _run(
            a, lambda s: list(s.search_registered_models(a.filter, limit=a.limit))
        )
    )

    p = add("show", "one registered model and its versions", "versions")
    p.add_argument("name")
    p.set_defaults(handler=_show)

    p = add("versions", "model versions (filter: name = 'm' and stage = 'Production')", "versions")
    p.add_argument("--filter", help="filter on name, version, stage, run_id, source, tags.<key>")
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(
        handler=lambda a: _run(a, lambda s: list(s.search_model_versions(a.filter, limit=a.limit)))
    )

    p = add("create", "create a registered model", "models")
    p.add_argument("name")
    p.add_argument("--description")
    p.add_argument(
        "--requires-approval", action="store_true", help="stage changes need an approved request"
    )
    p.set_defaults(
        handler=lambda a: _run(
            a,
            lambda s: s.create_registered_model(
                a.name, description=a.description, requires_approval=a.requires_approval
            ),
        )
    )

    p = add("register", "register a model URI as the next version of NAME", "versions")
    p.add_argument("model_uri", metavar="MODEL_URI", help="runs:/<run_id>/<path>, a path, ...")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--description")
    p.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(handler=_register)

    p = add("alias", "point ALIAS at VERSION (or --delete it)", "versions")
    p.add_argument("name")
    p.add_argument("alias")
    p.add_argument("version", nargs="?", type=int)
    p.add_argument("--delete", action="store_true", help="remove the alias")
    p.set_defaults(handler=_alias)

    for command, what in (
        ("stage", "move a version to a stage now"),
        ("request", "request a stage change (it happens when approved)"),
    ):
        p = add(command, what, "versions" if command == "stage" else "requests")
        p.add_argument("name")
        p.add_argument("version", type=int)
        p.add_argument("stage", help="None, Staging, Production or Archived")
        p.add_argument(
            "--archive-existing", action="store_true", help="archive the versions in that stage"
        )
        p.add_argument("--comment")
        p.set_defaults(handler=_stage if command == "stage" else _request)

    p = add("requests", "transition requests: pending ones (the approval queue)", "requests")
    p.add_argument("name", nargs="?")
    p.add_argument("--all", action="store_true", help="every status: the stage history")
    p.set_defaults(
        handler=lambda a: _run(
            a,
            lambda s: s.search_transition_requests(a.name, status=None if a.all else "PENDING"),
        )
    )

    for command in ("approve", "reject"):
        p = add(command, f"{command} a pending transition request", "requests")
        p.add_argument("request_id", metavar="REQUEST_ID")
        p.add_argument("--comment")
        p.set_defaults(handler=_decide, decision=command)

    p = add("delete", "delete a registered model (or one --version of it)", "models")
    p.add_argument("name")
    p.add_argument("--version", type=int)
    p.set_defaults(handler=_delete)


class _Adder:
    def __init__(self, sub: Any) -> None:
        self.sub = sub

    def __call__(self, name: str, help: str, kind: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = self.sub.add_parser(name, help=help, description=help + ".")
        p.add_argument("--json", action="store_true", help="print JSON lines")
        p.add_argument(
            "--user",
            default=None,
            help="who acts (default: $LLMTRACE_USER or the login name; a server with auth "
            "records the API key's name instead)",
        )
        p.add_argument("--store", default=argparse.SUPPRESS, metavar="URL", help="the store")
        p.set_defaults(kind=kind)
        return p


def _user(args: argparse.Namespace) -> str | None:
    return args.user or current_user()


def _show(args: argparse.Namespace) -> int:
    store = connect_store(args)
    try:
        model = store.get_registered_model(args.name)
        versions = list(
            store.search_model_versions(f"name = {filter_literal(args.name)}", limit=1000)
        )
    finally:
        store.close()
    if args.json:
        print(json.dumps({**model.to_dict(), "versions": [v.to_dict() for v in versions]}))
        return 0
    print(models_table([model]))
    if model.description:
        print(f"\n{model.description}")
    print()
    print(versions_table(versions))
    return 0


def _register(args: argparse.Namespace) -> int:
    tags = {}
    for item in args.tag:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"error: --tag takes KEY=VALUE, got {item!r}")
        tags[key] = value
    return _run(
        args,
        lambda s: register_in(
            s, args.model_uri, args.name, description=args.description, tags=tags, user=_user(args)
        ),
    )


def _alias(args: argparse.Namespace) -> int:
    def act(store: Store) -> Any:
        if args.delete:
            store.delete_registered_model_alias(args.name, args.alias)
            return None
        if args.version is None:
            return store.get_model_version_by_alias(args.name, args.alias)
        store.set_registered_model_alias(args.name, args.alias, args.version)
        return store.get_model_version(args.name, args.version)

    return _run(args, act)


def _stage(args: argparse.Namespace) -> int:
    return _run(
        args,
        lambda s: s.transition_model_version_stage(
            args.name,
            args.version,
            args.stage,
            archive_existing_versions=args.archive_existing,
            user=_user(args),
            comment=args.comment,
        ),
    )


def _request(args: argparse.Namespace) -> int:
    return _run(
        args,
        lambda s: s.create_transition_request(
            args.name,
            args.version,
            args.stage,
            archive_existing_versions=args.archive_existing,
            requested_by=_user(args),
            comment=args.comment,
        ),
    )


def _decide(args: argparse.Namespace) -> int:
    if args.decision == "approve":
        return _run(
            args,
            lambda s: s.approve_transition_request(
                args.request_id, approved_by=_user(args), comment=args.comment
            ),
        )
    return _run(
        args,
        lambda s: s.reject_transition_request(
            args.request_id, rejected_by=_user(args), comment=args.comment
        ),
    )


def _delete(args: argparse.Namespace) -> int:
    def act(store: Store) -> None:
        if args.version is not None:
            store.delete_model_version(args.name, args.version)
        else:
            store.delete_registered_model(args.name)

    return _run(args, act)


__all__ = ["models_table", "register", "requests_table", "versions_table"]
