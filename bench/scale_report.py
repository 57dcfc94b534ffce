"""The printed table of bench/scale.py: one column per configuration, CPU per process group."""

from bench.stats import fmt_ms, table

ROLES = ("app", "ferretdb", "postgresql", "redis", "nginx", "generator", "others")


def report(results):
    def fixed(r, rate):
        return next(x for x in r["fixed"] if x["rate"] == rate)

    def cpu_line(x):
        per = {k: 1000 * x["cpu"].get(k, 0) / max(1, x["sent"]) for k in ROLES if k in x["cpu"]}
        return " / ".join(f"{per[k]:.2f}" if k in per else "-" for k in ROLES)

    rows = [
        ("sockets per server", *[str(r["sockets_per_server"]) for r in results]),
        ("RSS per connected socket, kB", *[r["rss_per_socket_kb"] for r in results]),
    ]
    for rate in results[0]["rates"]:
        rows += [
            (
                f"{rate:.0f} msg/s: delivery p50/p95/p99/max ms",
                *[fmt_ms(fixed(r, rate)["delivery"]) for r in results],
            ),
            (
                f"{rate:.0f} msg/s: cross-server delivery p50/p95/p99/max ms",
                *[fmt_ms(fixed(r, rate)["delivery_cross"]) for r in results],
            ),
            (
                f"{rate:.0f} msg/s: HTTP p50/p95/p99/max ms",
                *[fmt_ms(fixed(r, rate)["http"]) for r in results],
            ),
            (
                f"{rate:.0f} msg/s: sent/delivered/lost+failed",
                *[
                    f"{x['sent']}/{x['delivered']}/{x['lost'] + x['http_failed']}"
                    for x in (fixed(r, rate) for r in results)
                ],
            ),
            (
                f"{rate:.0f} msg/s: CPU ms/msg " + " / ".join(ROLES),
                *[cpu_line(fixed(r, rate)) for r in results],
            ),
        ]
    rows.append(
        (
            "highest rate, p99 < 200 ms, none lost (first failing)",
            *[
                f"{r['search']['highest_rate_holding']} ({r['search']['lowest_rate_failing']})"
                for r in results
            ],
        )
    )
    rows.append(
        (
            "CPU ms/msg at the highest rate holding, " + " / ".join(ROLES),
            *[_at_best(r, cpu_line) for r in results],
        )
    )
    rows.append(
        (
            "cores busy at the highest rate holding, same order",
            *[_at_best(r, lambda x: cores_line(x)) for r in results],
        )
    )
    rows.append(
        ("cores busy at the first rate failing, same order", *[_at_worst(r) for r in results])
    )
    return table(rows, ["measure", *[r["config"] for r in results]])


def _at_best(r, cpu_line):
    best = r["search"]["highest_rate_holding"]
    probe = next((p for p in r["search"]["probes"] if p["rate"] == best), None)
    return cpu_line(probe) if probe else "n/a"


def _at_worst(r):
    worst = r["search"]["lowest_rate_failing"]
    probe = next((p for p in r["search"]["probes"] if p["rate"] == worst), None)
    return cores_line(probe) if probe else "n/a"


def cores_line(result):
    """Cores each group kept busy over a phase: what saturates first, and what others took."""
    cpu = result["cpu"]
    return " / ".join(f"{cpu[k] / cpu['wall_s']:.2f}" if k in cpu else "-" for k in ROLES)
