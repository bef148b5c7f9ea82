"""``vigil cluster status``: what a running ``vigil run --cluster`` is doing, node by node."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vigil.config import ConfigError, load_config


def cmd_cluster_status(args: argparse.Namespace) -> int:
    from vigil.cluster import ClusterError

    try:
        config = load_config(Path(args.config))
        from vigil.cluster.status import cluster_status, format_status

        status = cluster_status(config, args.address, args.timeout)
    except (ConfigError, ClusterError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(json.dumps(status, indent=2, default=str) if args.json else format_status(status))
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    cluster = sub.add_parser("cluster", help="inspect a running cluster (vigil run --cluster)")
    csub = cluster.add_subparsers(dest="cluster_cmd", required=True)
    status = csub.add_parser("status", help="list nodes, camera groups, cameras, their lag and the delivery backlog")
    status.add_argument("-c", "--config", required=True, help="YAML configuration file (for the database)")
    status.add_argument("--address", default="auto", help="the Ray cluster (default: auto, the running one)")
    status.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each group's answer")
    status.add_argument("--json", action="store_true", help="print JSON instead of tables")
    status.set_defaults(func=cmd_cluster_status)
