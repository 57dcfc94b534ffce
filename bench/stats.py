"""Percentiles and the printed table."""

import math


def percentile(sorted_values, q):
    """The q-th percentile (0–100) of sorted values, nearest-rank; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summary_ms(seconds):
    """p50/p95/p99/max in milliseconds of a list of durations in seconds."""
    values = sorted(seconds)
    out = {"count": len(values)}
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100)):
        value = percentile(values, q)
        out[name + "_ms"] = round(value * 1000.0, 2) if value is not None else None
    return out


def fmt_ms(summary, keys=("p50", "p95", "p99", "max")):
    if not summary or not summary.get("count"):
        return "n/a"
    return " / ".join(_num(summary.get(k + "_ms")) for k in keys)


def _num(value):
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(rows, headers):
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


class RateSearch:
    """The search for the highest rate that holds: up by `up` while probes hold, down by `down`
    from a first failure, then bisecting between the best holding and the lowest failing rate
    until they are within 15% of each other."""

    def __init__(self, start, up, down):
        self.rate, self.up, self.down = start, up, down
        self.best = self.worst = None
        self.done = False

    def record(self, ok):
        """The probe at `self.rate` held (`ok`) or not: move `self.rate`, or set `done`."""
        if ok:
            self.best = self.rate if self.best is None else max(self.best, self.rate)
        else:
            self.worst = self.rate if self.worst is None else min(self.worst, self.rate)
        if self.worst is None:
            self.rate = round(self.rate * self.up)
        elif self.best is None:
            self.rate = round(self.rate * self.down)
        elif self.worst / self.best < 1.15:
            self.done = True
        else:
            self.rate = round((self.best + self.worst) / 2)
