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
                f"{rate:.0f} msg/s: same-server delivery p50/p95/p99/max ms",
                *[fmt_ms(fixed(r, rate)["delivery_same"]) if r["servers"] > 1 else "n/a"
                  for r in results],
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
                f"{_rate(r['search']['highest_rate_holding'])} "
                f"({_rate(r['search']['lowest_rate_failing'])})"
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
    return table(rows, ["measure", *[r["config"] for r in results]]) + growth(results)


def growth(results):
    """How the app's CPU per message grows from one server alone to the other configurations: at
    the same total rate, and (N > 1 servers at rate r against one at r / N) at the same rate per
    server, where both ran. One server behind nginx with Redis shows what those two cost."""
    alone = next((r for r in results if r["servers"] == 1 and not r.get("shared")), None)
    lines = []
    for other in (r for r in results if alone is not None and r is not alone):
        for x in other["fixed"]:
            rates = [("same total rate", x["rate"])]
            if other["servers"] > 1:
                rates.append(("same rate per server", x["rate"] / other["servers"]))
            for label, rate in rates:
                base = next((y for y in alone["fixed"] if y["rate"] == rate), None)
                if base and base["app_cpu_ms_per_msg"] and x["sent"]:
                    change = 100 * (x["app_cpu_ms_per_msg"] / base["app_cpu_ms_per_msg"] - 1)
                    lines.append(
                        f"app CPU per message, {other['config']} at {x['rate']:.0f} msg/s against "
                        f"1 server alone at {rate:.0f} msg/s ({label}): "
                        f"{base['app_cpu_ms_per_msg']} -> {x['app_cpu_ms_per_msg']} ms "
                        f"({change:+.0f}%)"
                    )
    return "\n" + "\n".join(lines) if lines else ""


def _rate(rate):
    return "none" if rate is None else f"{rate:g}"


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
