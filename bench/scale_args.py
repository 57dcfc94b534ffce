"""The command line of bench/scale.py (`python -m bench.scale -h`)."""

import argparse


def parse_args(argv=None, description=None):
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=description)
    p.add_argument("--users", type=int, default=100, help="N users, one address each (≤ 250)")
    p.add_argument(
        "--rates",
        default="50,100,400",
        help="fixed open-loop rates, msg/s (50: one server at the load per server of two at 100)",
    )
    p.add_argument("--phase-seconds", type=float, default=10.0)
    p.add_argument(
        "--contacts",
        type=int,
        default=4,
        help="each user writes to this many others: a fixed set of conversations",
    )
    p.add_argument(
        "--history",
        type=int,
        default=10,
        help="messages in every conversation at the start of every phase (a fixed data size)",
    )
    p.add_argument("--search-start", type=float, default=150.0)
    p.add_argument("--search-seconds", type=float, default=6.0)
    p.add_argument("--search-probes", type=int, default=4)
    p.add_argument(
        "--attempts",
        type=int,
        default=3,
        help="runs of a phase at most, while other processes keep the machine busy",
    )
    p.add_argument("--p99-ms", type=float, default=200.0, help="delivery p99 a rate must hold")
    p.add_argument(
        "--configs",
        default="1,1r,2",
        help="servers to run, in turn: 1 (alone), 1r (one behind nginx with Redis: what those "
        "two cost), N > 1 (behind nginx with Redis)",
    )
    p.add_argument(
        "--out", default=None, help="JSON output (default bench/results/scale-<time>.json)"
    )
    p.add_argument("--quick", action="store_true", help="N=40, 4 s phases, 2 search probes")
    p.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for every server (repeatable), e.g. to compare a change's cost",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.users, args.phase_seconds = min(args.users, 40), 4.0
        args.search_seconds, args.search_probes = 3.0, 2
    args.rates = [float(r) for r in args.rates.split(",") if r.strip()]
    try:
        args.configs = [
            (int(c.strip().removesuffix("r")), c.strip().endswith("r") or int(c.strip()[0]) > 1)
            for c in args.configs.split(",") if c.strip()
        ]
    except ValueError:
        p.error("--configs takes server counts: 1, 1r, 2, ...")
    try:
        args.server_env = dict(item.split("=", 1) for item in args.server_env)
    except ValueError:
        p.error("--server-env takes NAME=VALUE")
    return args
