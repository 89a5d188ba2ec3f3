"""`llmtrace prompts ...`: the prompt registry."""

from __future__ import annotations

import argparse
import difflib
import json
from pathlib import Path
from typing import Any

from llmtrace.cli._common import all_pages, connect_store, format_table
from llmtrace.exceptions import InvalidParameterError
from llmtrace.registry._prompts import parse_prompt_ref
from llmtrace.store import Store
from llmtrace.store.prompt_entities import PromptVersion

_LIST_PAGE = 1000


def register(commands: Any) -> None:
    """Add the `prompts` command group."""
    prompts = commands.add_parser("prompts", help="register, list and compare prompt versions")
    sub = prompts.add_subparsers(dest="prompts_command", metavar="COMMAND")
    sub.required = True

    reg = sub.add_parser("register", help="register a new version of a prompt")
    reg.add_argument("name", help="prompt name (created on first use)")
    source = reg.add_mutually_exclusive_group(required=True)
    source.add_argument("--template", help="the template text ({{ variable }} placeholders)")
    source.add_argument("--file", type=Path, help="read the template from this file")
    reg.add_argument(
        "--chat", action="store_true", help="the template is a JSON list of {role, content}"
    )
    reg.add_argument("-m", "--message", help="commit message")
    reg.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE", help="a tag")
    reg.add_argument("--config", help="model settings as a JSON object")
    reg.set_defaults(handler=_register)

    ls = sub.add_parser("list", help="prompts in name order")
    ls.add_argument("--filter", help="e.g. \"name like 'qa%%' and tags.team = 'search'\"")
    ls.add_argument("--json", action="store_true", help="print JSON lines")
    ls.set_defaults(handler=_list)

    show = sub.add_parser("show", help="one version: NAME (latest), NAME/VERSION or NAME@ALIAS")
    show.add_argument("reference", help="NAME, NAME/VERSION, NAME@ALIAS or a prompts:/ URI")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=_show)

    versions = sub.add_parser("versions", help="a prompt's versions, newest first")
    versions.add_argument("name")
    versions.add_argument("--json", action="store_true", help="print JSON lines")
    versions.set_defaults(handler=_versions)

    alias = sub.add_parser("alias", help="point an alias at a version (or --delete it)")
    alias.add_argument("name")
    alias.add_argument("alias")
    alias.add_argument("version", nargs="?", type=int, help="the version (not with --delete)")
    alias.add_argument("--delete", action="store_true", help="remove the alias")
    alias.set_defaults(handler=_alias)

    diff = sub.add_parser("diff", help="unified diff of two versions' templates")
    diff.add_argument("name")
    diff.add_argument("old", help="a version number or an alias")
    diff.add_argument("new", help="a version number or an alias")
    diff.set_defaults(handler=_diff)


def _pairs(items: list[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidParameterError(f"--tag takes KEY=VALUE, got {item!r}")
        tags[key] = value
    return tags


def _register(args: argparse.Namespace) -> int:
    if args.file is not None:
        try:
            text = args.file.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidParameterError(f"cannot read {args.file}: {exc.strerror}") from None
    else:
        text = args.template
    config = None
    if args.config is not None:
        try:
            config = json.loads(args.config)
        except ValueError as exc:
            raise InvalidParameterError(f"--config is not valid JSON: {exc}") from None
    store = connect_store(args)
    try:
        version = store.create_prompt_version(
            args.name,
            text,
            template_type="chat" if args.chat else "text",
            commit_message=args.message,
            tags=_pairs(args.tag),
            config=config,
        )
    finally:
        store.close()
    variables = ", ".join(version.variables) or "none"
    print(f"registered {version.uri} ({version.template_type}; variables: {variables})")
    return 0


def _list(args: argparse.Namespace) -> int:
    store = connect_store(args)
    try:
        found = all_pages(
            lambda token: store.search_prompts(args.filter, limit=_LIST_PAGE, page_token=token)
        )
    finally:
        store.close()
    if args.json:
        for prompt in found:
            print(json.dumps(prompt.to_dict()))
        return 0
    if not found:
        print("no prompts")
        return 0
    header = ("NAME", "LATEST", "ALIASES", "UPDATED (UTC)", "DESCRIPTION")
    rows: list[tuple[str, ...]] = [
        (
            p.name,
            str(p.latest_version) if p.latest_version is not None else "-",
            ", ".join(f"{a}={v}" for a, v in p.aliases.items()) or "-",
            p.updated_at.strftime("%Y-%m-%d %H:%M:%S") if p.updated_at else "-",
            _cut(p.description or "-", 50),
        )
        for p in found
    ]
    print(format_table(header, rows))
    return 0


def _show(args: argparse.Namespace) -> int:
    ref = parse_prompt_ref(args.reference)
    store = connect_store(args)
    try:
        version = ref.load(store)
    finally:
        store.close()
    if args.json:
        print(json.dumps(version.to_dict(), indent=2, ensure_ascii=False))
        return 0
    print(f"{version.uri}  ({version.template_type})")
    if version.aliases:
        print(f"aliases:   {', '.join(version.aliases)}")
    print(f"variables: {', '.join(version.variables) or '-'}")
    if version.commit_message:
        print(f"message:   {version.commit_message}")
    if version.created_at:
        print(f"created:   {version.created_at.strftime('%Y-%m-%d %H:%M:%S')} UTC")
    if version.config:
        print(f"config:    {json.dumps(version.config, sort_keys=True)}")
    if version.tags:
        print(f"tags:      {', '.join(f'{k}={v}' for k, v in sorted(version.tags.items()))}")
    print()
    print(_template_text(version))
    return 0


def _versions(args: argparse.Namespace) -> int:
    store = connect_store(args)
    try:
        found: list[PromptVersion] = all_pages(
            lambda token: store.list_prompt_versions(args.name, limit=_LIST_PAGE, page_token=token)
        )
    finally:
        store.close()
    if args.json:
        for version in found:
            print(json.dumps(version.to_dict()))
        return 0
    if not found:
        print(f"prompt {args.name!r} has no versions")
        return 0
    header = ("VERSION", "TYPE", "ALIASES", "CREATED (UTC)", "VARIABLES", "MESSAGE")
    rows: list[tuple[str, ...]] = [
        (
            str(v.version),
            v.template_type,
            ", ".join(v.aliases) or "-",
            v.created_at.strftime("%Y-%m-%d %H:%M:%S") if v.created_at else "-",
            _cut(", ".join(v.variables) or "-", 30),
            _cut(v.commit_message or "-", 50),
        )
        for v in found
    ]
    print(format_table(header, rows))
    return 0


def _alias(args: argparse.Namespace) -> int:
    if args.delete == (args.version is not None):
        raise InvalidParameterError("give either a VERSION or --delete")
    store = connect_store(args)
    try:
        if args.delete:
            store.delete_prompt_alias(args.name, args.alias)
            print(f"deleted alias {args.name}@{args.alias}")
        else:
            store.set_prompt_alias(args.name, args.alias, args.version)
            print(f"{args.name}@{args.alias} -> version {args.version}")
    finally:
        store.close()
    return 0


def _load(store: Store, name: str, which: str) -> PromptVersion:
    return parse_prompt_ref(name, which).load(store)


def _diff(args: argparse.Namespace) -> int:
    store = connect_store(args)
    try:
        old = _load(store, args.name, args.old)
        new = _load(store, args.name, args.new)
    finally:
        store.close()
    lines = difflib.unified_diff(
        _template_text(old).splitlines(keepends=True),
        _template_text(new).splitlines(keepends=True),
        fromfile=old.uri,
        tofile=new.uri,
    )
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    print(text, end="")
    return 0


def _template_text(version: PromptVersion) -> str:
    """A text template as it is; a chat template as indented JSON (one field per line)."""
    if isinstance(version.template, str):
        return version.template
    return json.dumps(version.template, indent=2, ensure_ascii=False)


def _cut(text: str, n: int) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= n else text[: n - 1] + "…"


__all__ = ["register"]
