"""The `tanba` command.

Subcommands are imported only when run, so `tanba --help` and `tanba serve` start fast:
each lives in its own module of this package and exposes a click command named ``command``.
"""

from __future__ import annotations

import importlib

import click

#: name -> (module under tanba.cli, one-line help shown by `tanba --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("serve", "Run the signing agent on 127.0.0.1."),
    "origins": ("origins", "List or revoke the sites allowed to use Tanba."),
    "token": ("client_token", "Print the path of the local-client token file."),  # not `tokens`: that is PKCS#11
    "certs": ("certs", "List and show certificates in files and tokens."),
    "tokens": ("tokens", "List PKCS#11 modules, slots and tokens."),
    "test-sign": ("test_sign", "Sign a test message with a certificate and verify it."),
    "sign": ("sign", "Sign files (CMS or XML) without the daemon."),
    "verify": ("verify", "Verify a CMS or XML signature without the daemon."),
    "verify-token": ("verify_token", "Check an auth (Web eID) login token as a portal's back end does."),
    "doctor": ("doctor", "Check the agent, its port, TLS trust, tokens, key files and config; say how to fix."),
    "service": ("service", "Install, remove or show the autostart service (systemd, launchd, logon task)."),
    "demo": ("demo", "Run the agent with test keys and serve the demo portal page."),
    "audit": ("audit", "Show recent signatures, logins and certificate disclosures."),
    "tls": ("tls", "Install, remove or show the locally trusted certificate for wss://."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(f"tanba.cli.{entry[0]}")
        command: click.Command = module.command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help text comes from the table, so `tanba --help` imports no subcommand.
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.version_option(package_name="tanba", prog_name="tanba")
def main() -> None:
    """Tanba: a local signing agent for web portals (NCALayer-compatible)."""
