"""``vigil user add|list|disable`` and ``vigil serve``: console accounts and the API server."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from vigil.config import ConfigError, load_config


def _store(config_path: str):  # type: ignore[no-untyped-def]
    from vigil.storage.store import Store

    config = load_config(Path(config_path))
    return Store(config.storage.database_url)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise ValueError("passwords do not match")
    return first


def _operator() -> str:
    """Who ran the command, for the audit log (best effort: containers may have no user name)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def cmd_user(args: argparse.Namespace) -> int:
    from vigil.storage import accounts, console

    try:
        store = _store(args.config)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    try:
        if args.user_cmd == "add":
            user = accounts.create_user(store, args.username, _read_password(args.password_stdin), args.role)
            console.audit(
                store,
                "user.add",
                user=_operator(),
                role=None,
                target=user.username,
                source_ip="local",
                detail={"role": user.role},
            )
            print(f"added user {user.username} ({user.role})")
        elif args.user_cmd == "disable":
            accounts.set_disabled(store, args.username, True)
            console.audit(store, "user.disable", user=_operator(), role=None, target=args.username, source_ip="local")
            print(f"disabled user {args.username}")
        else:
            for u in accounts.list_users(store):
                print(f"{u.username}\t{u.role}\t{'disabled' if u.disabled else 'active'}\t{u.created_at:%Y-%m-%d}")
    except (ValueError, KeyError) as exc:
        print(f"vigil user: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from vigil.api.serve import serve

    try:
        return serve(Path(args.config), args.host, args.port)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2


def add_parsers(sub: argparse._SubParsersAction) -> None:
    user = sub.add_parser("user", help="manage operator console accounts")
    user_sub = user.add_subparsers(dest="user_cmd", required=True)
    add = user_sub.add_parser("add", help="add a user")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=["admin", "operator", "viewer"])
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin (one line)")
    disable = user_sub.add_parser("disable", help="disable a user and end their sessions")
    disable.add_argument("username")
    user_sub.add_parser("list", help="list users")
    for p in (add, disable, user_sub.choices["list"]):
        p.add_argument("-c", "--config", required=True, help="YAML configuration file")
    user.set_defaults(func=cmd_user)

    serve = sub.add_parser("serve", help="serve the REST API and operator console (no cameras)")
    serve.add_argument("-c", "--config", required=True, help="YAML configuration file")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.set_defaults(func=cmd_serve)
