"""Helpers for the real-MongoDB tests: capture the `find` commands the app sends, explain them."""

import os

from pymongo import monitoring


class FindCapture(monitoring.CommandListener):
    """Records the `find` commands the app sends while active."""

    def __init__(self):
        self.active = False
        self.commands = []

    def started(self, event):
        if self.active and event.command_name == "find":
            self.commands.append((event.database_name, dict(event.command)))

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


CAPTURE = FindCapture()
if os.environ.get("TEST_MONGO_URI"):
    # Listeners apply to clients created afterwards: register before any app connects.
    monitoring.register(CAPTURE)


def stages(plan):
    """Every stage name in an explain plan tree."""
    found = [plan.get("stage")]
    for key in ("inputStage", "outerStage", "innerStage"):
        if key in plan:
            found += stages(plan[key])
    for child in plan.get("inputStages", []):
        found += stages(child)
    return found


def explain(database, command):
    import mongoengine

    command = {k: v for k, v in command.items() if k not in ("lsid", "$db", "$clusterTime", "$readPreference")}
    db = mongoengine.get_connection().get_database(database)
    return db.command({"explain": command, "verbosity": "executionStats"})
