"""Flask CLI commands: `flask --app wsgi <command>`."""

import click

from chatapp.services.migration import migrate_node_data


@click.command("migrate-node-data")
def migrate_node_data_command():
    """Bring a database written by the Node backend into this backend's shape (safe to re-run)."""
    counts = migrate_node_data(report=lambda line: click.echo(line, err=True))
    names = (
        "conversations keyed",
        "duplicate conversations merged",
        "messages linked",
        "unlisted messages linked",
        "messages given a seq",
        "message arrays dropped",
        "summaries updated",
        "conversations skipped (not two participants)",
        "messages skipped (no pair)",
    )
    for name in names:
        click.echo(f"{name}: {counts.get(name, 0)}")


def init_app(app):
    app.cli.add_command(migrate_node_data_command)
