"""`threadline` command line: migrations, people and API keys for headless operation.

threadline migrate
threadline create-user --email a@b.c --name Ada --role admin [--password ...]
threadline create-api-key --name my-backend      (prints the key as the last line)
threadline list-api-keys
threadline revoke-api-key key_...
threadline webhooks add URL [--events a,b] [--format standard|slack]   (prints the secret last)
threadline webhooks list | threadline webhooks remove whk_...
threadline desktop [--url URL]                   (the console in a native window)
threadline codegen typescript OUT_DIR            (api.ts: typed references for npm convex)
threadline codegen docs [docs/api.md]            (rewrites the generated function reference)
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

from api import migrations
from api.calls import call
from api.errors import FunctionError
from api.events import bus
from api.registry import Caller
from api.services.people import user_id_for
from api.settings import get_settings
from api.vocabulary import ROLES

CLI_CALLER = Caller(kind="system", id="cli", label="threadline CLI")


def run_function(path: str, args: dict[str, Any]) -> Any:
    """Call a registered function as the CLI (an operator with shell access: admin rights)."""

    async def run() -> Any:
        try:
            return await call(path, args, CLI_CALLER)
        finally:
            # With REDIS_URL, the servers learn of this write (live views, ended sessions).
            await bus.flush()

    return asyncio.run(run())


def cmd_migrate(_options: argparse.Namespace) -> None:
    url = get_settings().sqlalchemy_url
    migrations.upgrade(url)
    print(f"database at revision {migrations.current_revision(url)}")


def cmd_create_user(options: argparse.Namespace) -> None:
    password = options.password
    if password is None:
        password = getpass.getpass("Password (8-72 bytes): ")
        if getpass.getpass("Repeat the password: ") != password:
            raise FunctionError("the two passwords differ")
    user_id = run_function(
        "users:create",
        {"email": options.email, "name": options.name, "role": options.role, "password": password},
    )
    print(f"created {options.role} {options.email.strip().lower()} ({user_id})")


def cmd_set_role(options: argparse.Namespace) -> None:
    run_function("users:setRole", {"userId": user_id_for(options.user), "role": options.role})
    print(f"{options.user} is now {options.role}")


def cmd_disable(options: argparse.Namespace, disabled: bool = True) -> None:
    run_function("users:setDisabled", {"userId": user_id_for(options.user), "disabled": disabled})
    print(f"{options.user} {'disabled' if disabled else 're-enabled'}")


def cmd_enable(options: argparse.Namespace) -> None:
    cmd_disable(options, disabled=False)


def cmd_first_run(_options: argparse.Namespace) -> None:
    """While no admin exists, prints a one-time setup link (a new one at each start)."""
    from api.services import links

    issued = asyncio.run(links.create_setup_link())
    if issued is None:
        return
    url = get_settings().console_url + issued.path
    print("No admin exists yet. To create the first one, open this one-time link (valid 24 h):")
    print(f"  {url}")
    print(
        "or run: .venv/bin/threadline create-user --email you@example.com --name You --role admin"
    )


def cmd_reset_link(options: argparse.Namespace) -> None:
    created = run_function("users:passwordLink", {"userId": user_id_for(options.user)})
    what = "set a password" if created["purpose"] == "set_password" else "reset the password"
    print(f"One-time link to {what} for {options.user} (valid 24 h, works once):")
    print(get_settings().console_url + created["path"])


def cmd_demo_data(options: argparse.Namespace) -> None:
    from api import demo

    result = demo.generate(options.threads, options.big_thread_messages, options.pending)
    for name, count in result["counts"].items():
        print(f"{count:>10,} {name}")
    print(f"big thread: {result['bigThreadId']}")


def cmd_create_api_key(options: argparse.Namespace) -> None:
    created = run_function("apiKeys:create", {"name": options.name})
    print(f"API key {created['apiKeyId']} ({options.name}); it is shown only this once:")
    print(created["key"])


def cmd_list_api_keys(_options: argparse.Namespace) -> None:
    for key in run_function("apiKeys:list", {}):
        state = "revoked" if key.get("revokedTime") else "active"
        print(f"{key['_id']}  {key['prefix']}...  {state:8}  {key['name']}")


def cmd_revoke_api_key(options: argparse.Namespace) -> None:
    run_function("apiKeys:revoke", {"apiKeyId": options.api_key_id})
    print(f"revoked {options.api_key_id}")


def cmd_webhooks_add(options: argparse.Namespace) -> None:
    args: dict[str, Any] = {"url": options.url, "format": options.format}
    if options.events:
        args["events"] = [event.strip() for event in options.events.split(",") if event.strip()]
    if options.description:
        args["description"] = options.description
    created = run_function("webhooks:add", args)
    events = ", ".join(args.get("events", [])) or "all events"
    print(f"webhook {created['webhookId']} ({options.format}, {events}) -> {options.url.strip()}")
    print("Its signing secret is shown only this once:")
    print(created["secret"])


def cmd_webhooks_list(_options: argparse.Namespace) -> None:
    for hook in run_function("webhooks:list", {}):
        events = ",".join(hook.get("events") or []) or "all"
        counts = f"pending {hook['pending']}, failed {hook['failed']}"
        print(f"{hook['_id']}  {hook['format']:8}  {events}  {hook['url']}  ({counts})")


def cmd_webhooks_remove(options: argparse.Namespace) -> None:
    run_function("webhooks:remove", {"webhookId": options.webhook_id})
    print(f"removed {options.webhook_id}")


def cmd_desktop(options: argparse.Namespace) -> int:
    from api import desktop

    try:
        return desktop.run(options.url)
    except desktop.DesktopError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def cmd_codegen(options: argparse.Namespace) -> None:
    from api import codegen

    if options.target == "typescript":
        if not options.path:
            raise FunctionError("codegen typescript needs OUT_DIR")
        print(f"wrote {codegen.write_typescript(options.path)}")
    else:
        print(f"wrote {codegen.write_docs(options.path or 'docs/api.md')}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="threadline", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("migrate", help="apply database migrations").set_defaults(run=cmd_migrate)
    commands.add_parser(
        "first-run", help="print a one-time setup link while no admin exists"
    ).set_defaults(run=cmd_first_run)

    create_user = commands.add_parser("create-user", help="create a person")
    create_user.add_argument("--email", required=True)
    create_user.add_argument("--name", required=True)
    create_user.add_argument("--role", required=True, choices=ROLES)
    create_user.add_argument("--password", help="prompted for when left out")
    create_user.set_defaults(run=cmd_create_user)

    set_role = commands.add_parser("set-role", help="change a person's role")
    set_role.add_argument("user", help="email or user id")
    set_role.add_argument("role", choices=ROLES)
    set_role.set_defaults(run=cmd_set_role)

    for name, runner, text in (
        ("disable", cmd_disable, "disable a person (ends their sessions)"),
        ("enable", cmd_enable, "re-enable a person"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("user", help="email or user id")
        sub.set_defaults(run=runner)

    demo_data = commands.add_parser(
        "demo-data", help="fill the database with realistic demo agent runs (bulk insert)"
    )
    demo_data.add_argument("--threads", type=int, default=1000)
    demo_data.add_argument("--big-thread-messages", type=int, default=10_000)
    demo_data.add_argument("--pending", type=int, default=25, help="pending approval requests")
    demo_data.set_defaults(run=cmd_demo_data)

    reset = commands.add_parser(
        "reset-link", help="print a one-time link with which a person sets a new password"
    )
    reset.add_argument("user", help="email or user id")
    reset.set_defaults(run=cmd_reset_link)

    create_key = commands.add_parser("create-api-key", help="create a backend API key")
    create_key.add_argument("--name", required=True)
    create_key.set_defaults(run=cmd_create_api_key)

    commands.add_parser("list-api-keys", help="list API keys").set_defaults(run=cmd_list_api_keys)

    codegen = commands.add_parser(
        "codegen", help="write TypeScript references or docs/api.md's reference from the registry"
    )
    codegen.add_argument("target", choices=["typescript", "docs"])
    codegen.add_argument("path", nargs="?", help="OUT_DIR for typescript; the file for docs")
    codegen.set_defaults(run=cmd_codegen)

    revoke = commands.add_parser("revoke-api-key", help="revoke an API key at once")
    revoke.add_argument("api_key_id")
    revoke.set_defaults(run=cmd_revoke_api_key)

    webhooks = commands.add_parser(
        "webhooks", help="endpoints the server notifies (approval requests, decisions, ...)"
    )
    hooks = webhooks.add_subparsers(dest="webhooks_command", required=True)
    hook_add = hooks.add_parser("add", help="add an endpoint; prints its secret as the last line")
    hook_add.add_argument("url", help="http(s) URL the server will POST to")
    hook_add.add_argument(
        "--events",
        help="comma-separated event types (default: all): approval.requested, "
        "approval.decided, approval.expired, toolCall.outsidePlan",
    )
    hook_add.add_argument("--format", choices=["standard", "slack"], default="standard")
    hook_add.add_argument("--description", help="what it is for (shown in lists)")
    hook_add.set_defaults(run=cmd_webhooks_add)
    hooks.add_parser("list", help="list endpoints").set_defaults(run=cmd_webhooks_list)
    hook_remove = hooks.add_parser("remove", help="remove an endpoint and its delivery log")
    hook_remove.add_argument("webhook_id")
    hook_remove.set_defaults(run=cmd_webhooks_remove)

    desktop = commands.add_parser(
        "desktop",
        help="the console in a native window with notifications; without --url it starts "
        "the embedded server and stops it when the window closes",
    )
    desktop.add_argument("--url", help="attach to a running Threadline, e.g. http://host:3000")
    desktop.set_defaults(run=cmd_desktop)
    return parser


def main(argv: list[str] | None = None) -> int:
    options = build_parser().parse_args(argv)
    try:
        code = options.run(options)
    except FunctionError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    return code or 0


if __name__ == "__main__":
    sys.exit(main())
