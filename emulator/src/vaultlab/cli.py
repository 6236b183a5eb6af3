"""``vaultlab`` command line (also ``python -m vaultlab``).

Exit codes: 0 success; 1 the operation failed (one line on stderr); 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from . import __version__, versions
from .crypto import control


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        self.exit(2, f"{self.prog}: error: {message} (try '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vaultlab", description="License-free Vault Enterprise replication lab.")
    parser.add_argument("--version", action="version", version=f"vaultlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    up = sub.add_parser("up", help="start a lab (or restart and unseal an existing one)")
    up.add_argument("--dir", required=True, help="lab directory (created if missing)")
    up.add_argument("--cluster", action="append", default=[], metavar="NAME[:NODES]",
                    help="cluster to run (repeatable); default: primary, dr, perf with one node each")
    up.add_argument("--tls", action="store_true", help="serve every node over HTTPS with a lab CA")
    up.add_argument("--require-client-cert", action="store_true",
                    help="with --tls: the API listeners require a client certificate (Vault's "
                         "tls_require_and_verify_client_cert); vaultlab makes a client CA and a client "
                         "certificate per cluster (vault_client_cert / vault_client_key in the inventory)")
    up.add_argument("--profile", default="fast", help="timing profile: fast (default) or realistic")
    up.add_argument("--timing", action="append", default=[], metavar="NAME=SECONDS",
                    help="override one transition's duration, e.g. promote=2.0 (repeatable)")
    up.add_argument("--timing-file", help="JSON object of NAME: SECONDS overrides")
    up.add_argument("--vault-version", default=os.environ.get("VAULTLAB_VAULT_VERSION") or None,
                    metavar="X.Y.Z",
                    help="Vault version to emulate (reported by sys/health; 2.0.0+ brings the ceremony and "
                         "DR token changes); default: the lab's, else $VAULTLAB_VAULT_VERSION, else "
                         f"{versions.DEFAULT}")
    up.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the lab (default 60)")
    up.add_argument("--record-secrets", action="store_true",
                    help="for leak tests: keep every secret the nodes hand out in DIR/issued-secrets.jsonl "
                         "(0600; list them with 'vaultlab secrets')")

    status = sub.add_parser("status", help="show the nodes of a lab")
    status.add_argument("--dir", required=True)
    status.add_argument("--json", action="store_true", help="machine-readable output")

    down = sub.add_parser("down", help="stop every node of a lab (data is kept)")
    down.add_argument("--dir", required=True)

    env = sub.add_parser("env", help="print shell exports: every cluster's tokens and the primary's unseal keys "
                                      "(the variables the collection's playbooks read), or one cluster's")
    env.add_argument("--dir", required=True)
    env.add_argument("cluster", nargs="?",
                     help="only this cluster: VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT (for the vault CLI or one module)")

    inventory = sub.add_parser("inventory", help="write an Ansible inventory of the lab with tokens and unseal "
                                                 "keys (file mode 0600)")
    inventory.add_argument("--dir", required=True)
    inventory.add_argument("--output", required=True, metavar="FILE",
                           help="inventory file to write (replaced; created with mode 0600)")

    ctl = sub.add_parser("ctl", help="call a node's control API (/_vaultlab/PATH) with the lab's control token "
                                     "and print its JSON answer")
    ctl.add_argument("--dir", required=True)
    ctl.add_argument("target", metavar="NODE",
                     help="node name (e.g. primary-1), cluster name (its active node) or a node address of the lab")
    ctl.add_argument("path", metavar="PATH", help="state, seal, step-down, fault or reset-faults")
    ctl.add_argument("data", nargs="?", metavar="JSON",
                     help="request body, e.g. '{\"kind\": \"latency\", \"ms\": 200}' for fault")
    ctl.add_argument("--method", choices=["GET", "POST"], help="default: GET for state, POST otherwise")

    secrets = sub.add_parser("secrets", help="for leak tests: print every secret the lab issued as JSON "
                                             "(lab.json, and all the nodes handed out with --record-secrets)")
    secrets.add_argument("--dir", required=True)

    fault = sub.add_parser("fault", help="inject or clear faults")
    fault.add_argument("--dir", required=True)
    kinds = fault.add_subparsers(dest="fault", required=True, parser_class=_Parser)

    def node_target(p: argparse.ArgumentParser, default_hint: str) -> None:
        p.add_argument("--cluster", required=True)
        p.add_argument("--node", help=f"node name or 1-based index (default: {default_hint})")

    node_target(kinds.add_parser("kill", help="SIGKILL a node"), "the active node")
    restart = kinds.add_parser("restart", help="restart node(s); they come back sealed")
    node_target(restart, "every node of the cluster")
    restart.add_argument("--unseal", action="store_true", help="unseal with the keys in lab.json")
    node_target(kinds.add_parser("seal", help="seal a node"), "the active node")
    partition = kinds.add_parser("partition", help="cut traffic between two clusters (or isolate one)")
    partition.add_argument("--clusters", nargs="+", required=True, metavar="CLUSTER")
    partition.add_argument("--kind", default="both", choices=["replication", "client", "both"])
    heal = kinds.add_parser("heal", help="remove partitions (and, with --all, latency and error bursts)")
    heal.add_argument("--clusters", nargs="*", metavar="CLUSTER")
    heal.add_argument("--all", action="store_true", help="also clear latency and error bursts on every node")
    latency = kinds.add_parser("latency", help="add latency to every request of node(s)")
    node_target(latency, "every node of the cluster")
    latency.add_argument("--ms", type=float, required=True, help="milliseconds (0 clears)")
    errors = kinds.add_parser("errors", help="answer the next N requests with a 5xx")
    node_target(errors, "every node of the cluster")
    errors.add_argument("--count", type=int, default=3)
    errors.add_argument("--status", type=int, default=503, choices=[500, 502, 503, 504])

    launch = sub.add_parser("launch", help=argparse.SUPPRESS)
    launch.add_argument("--dir")
    launch.add_argument("--node", action="append", metavar="CLUSTER/NODE")
    launch.add_argument("--serve", action="store_true", help="launch labs asked for on stdin (supervisor)")

    node = sub.add_parser("node", help=argparse.SUPPRESS)
    node.add_argument("--dir", required=True)
    node.add_argument("--cluster", required=True)
    node.add_argument("--node", required=True)
    return parser


def _print_status(status: dict[str, Any]) -> None:
    print(f"lab {status['dir']} (profile {status['profile']}, {'https' if status['tls'] else 'http'}, "
          f"Vault {status.get('vault_version')})")
    print(f"{'CLUSTER':<12} {'NODE':<14} {'STATE':<10} {'DR':<13} {'PERF':<13} {'PID':>7}  ADDRESS")
    for cluster, info in status["clusters"].items():
        for node in info["nodes"]:
            if not node["running"]:
                state = "stopped"
            elif node["sealed"] is None:
                state = "unknown"
            elif node["sealed"]:
                state = "sealed"
            else:
                state = "active" if node["active"] else "standby"
            modes = node.get("replication") or {}
            dr, perf = modes.get("dr", "-"), modes.get("performance", "-")
            print(f"{cluster:<12} {node['node']:<14} {state:<10} {dr:<13} {perf:<13} "
                  f"{node['pid'] or '-':>7}  {node['api_addr'] or '-'}")
    for part in status["partitions"]:
        print(f"partition: {' <-> '.join(part['clusters'])} ({part['kind']})")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "node":
        import os

        # Must be set before aiohttp is imported: its C parser rejects Vault's LIST method.
        os.environ.setdefault("AIOHTTP_NO_EXTENSIONS", "1")
        from .server import run

        return run(args.dir, args.cluster, args.node)
    if args.command == "launch":
        import os

        os.environ.setdefault("AIOHTTP_NO_EXTENSIONS", "1")
        from .server import launch, serve_launches

        if args.serve:
            return serve_launches()
        if not args.dir or not args.node:
            build_parser().error("launch needs --dir and --node (or --serve)")
        return launch(args.dir, [tuple(spec.split("/", 1)) for spec in args.node])

    from .profiles import ProfileError, parse_overrides
    from .supervisor import LabError, Supervisor, parse_cluster_spec

    lab = Supervisor(args.dir)
    try:
        if args.command == "up":
            clusters = [parse_cluster_spec(spec) for spec in args.cluster]
            names = [c[0] for c in clusters]
            if len(set(names)) != len(names):
                raise LabError("--cluster: each cluster name may be given only once")
            timing = parse_overrides(args.timing, args.timing_file)
            info = lab.up(clusters or None, tls=args.tls, profile=args.profile, timing=timing,
                          timeout=args.timeout, vault_version=args.vault_version,
                          require_client_cert=args.require_client_cert,
                          record_secrets=args.record_secrets)
            for name, cluster in info["clusters"].items():
                print(f"{name}: {cluster['api_addr']} ({len(cluster['nodes'])} node(s))")
            print(f"lab ready: {lab.lab_path} (Vault {info['vault_version']})")
        elif args.command == "status":
            status = lab.status()
            if args.json:
                print(json.dumps(status, indent=1))
            else:
                _print_status(status)
        elif args.command == "down":
            stopped = lab.down()
            print(f"stopped {len(stopped)} node(s)")
        elif args.command == "env":
            sys.stdout.write(lab.env(args.cluster) if args.cluster else _env_all(lab))
        elif args.command == "inventory":
            path = _write_inventory(lab, args.output)
            print(f"wrote {path} (mode 0600: it holds tokens and unseal keys)")
        elif args.command == "secrets":
            from .issued import issued

            lab.config()  # no lab: the usual one-line error
            print(json.dumps({"recording": bool(lab.config().get("record_secrets")),
                              "secrets": issued(lab.dir)}, indent=1))
        elif args.command == "fault":
            _fault(lab, args)
        elif args.command == "ctl":
            _ctl(lab, args)
    except (LabError, ProfileError) as exc:
        print(f"vaultlab: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("vaultlab: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"vaultlab: error: {exc}", file=sys.stderr)
        return 1
    return 0


# What the collection's roles read (roles/topology): per cluster the token VAULT_TOKEN_<NAME>,
# with VAULT_TOKEN as the fallback for every cluster; the key shares VAULT_UNSEAL_KEYS.
def _env_name(cluster: str) -> str:
    return "VAULT_TOKEN_" + "".join(ch if ch.isalnum() else "_" for ch in cluster).upper()


def _secrets(lab: Any) -> dict[str, Any]:
    """Which token each cluster accepts now, the primary, its key shares and the CA.

    A cluster still outside replication accepts its own root token. Activation wipes a
    secondary's tokens: a DR secondary then shares the primary's token store (the primary's
    root token), while a performance secondary has a token store of its own, so it gets a root
    token generated on it with the primary's key shares (kept in ``DIR/tokens.json``, 0600, and
    reused while the cluster accepts it). A cluster whose state cannot be read gets the
    primary's token once anything replicates.
    """
    from .supervisor import LabError

    info = lab.lab()
    clusters = info["clusters"]
    if not clusters:
        raise LabError("the lab has no clusters")
    names = list(clusters)
    primary = next((n for n in names if n.startswith("primary")), names[0])
    try:
        status = lab.status()["clusters"]
    except (LabError, OSError, KeyError):
        status = {}

    def modes(name: str) -> dict[str, str] | None:
        for node in (status.get(name) or {}).get("nodes") or []:
            replication = node.get("replication") or {}
            if replication.get("dr") not in (None, "unknown"):
                return {"dr": replication.get("dr"), "performance": replication.get("performance")}
        return None

    keys = list(clusters[primary].get("unseal_keys_b64") or [])
    replicating = any((modes(n) or DISABLED_MODES) != DISABLED_MODES for n in names)
    tokens: dict[str, str] = {}
    notes: list[str] = []
    for name in names:
        own = modes(name)
        if name == primary or (own == DISABLED_MODES if own is not None else not replicating):
            tokens[name] = clusters[name]["root_token"]
        elif own is not None and own.get("performance") == "secondary" and own.get("dr") != "secondary":
            token, problem = _performance_secondary_token(lab, name, clusters[name], keys)
            if token:
                tokens[name] = token
            else:
                tokens[name] = clusters[primary]["root_token"]
                notes.append(f"{name}: no token of its own ({problem}); the primary's is not valid there")
        else:
            tokens[name] = clusters[primary]["root_token"]
    return {"primary": primary, "tokens": tokens, "keys": keys, "notes": notes,
            "ca_cert": info.get("ca_cert") or clusters[primary].get("ca_cert"), "clusters": clusters}


DISABLED_MODES = {"dr": "disabled", "performance": "disabled"}


def _performance_secondary_token(lab: Any, name: str, info: dict[str, Any], keys: list[str]) -> tuple[str | None, str]:
    """A root token valid on an activated performance secondary: the one kept in tokens.json
    while the cluster accepts it, else a new one from a generate-root ceremony with ``keys``."""
    from .model.generate_root import decode_encoded_token
    from .supervisor import Client

    client = lab.client() if info.get("ca_cert") else Client(None)
    base = info["api_addr"].rstrip("/") + "/v1/"
    path = lab.dir / "tokens.json"
    try:
        kept = json.loads(path.read_text())
    except (OSError, ValueError):
        kept = {}
    if not isinstance(kept, dict):
        kept = {}
    try:
        for candidate in (kept.get(name), info.get("root_token")):
            if candidate and client.request("GET", base + "auth/token/lookup-self", token=candidate)[0] == 200:
                return candidate, ""
        client.request("DELETE", base + "sys/generate-root/attempt")
        code, body = client.request("PUT", base + "sys/generate-root/attempt", body={})
        if code != 200 or not isinstance(body, dict):
            return None, f"generate-root answered HTTP {code}"
        nonce, otp = body.get("nonce"), body.get("otp") or ""
        for key in keys:
            code, body = client.request("PUT", base + "sys/generate-root/update", body={"key": key, "nonce": nonce})
            if code != 200 or not isinstance(body, dict):
                return None, f"generate-root update answered HTTP {code}"
            if body.get("complete"):
                break
        else:
            return None, "the primary's key shares did not complete generate-root"
        token = decode_encoded_token(body["encoded_token"], otp)
    except (OSError, ValueError, KeyError) as exc:
        return None, str(exc)
    kept[name] = token
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(kept, handle)
    os.replace(tmp, path)
    return token, ""


def _env_all(lab: Any) -> str:
    import shlex

    s = _secrets(lab)
    primary = s["primary"]
    lines = [f"# vaultlab {lab.dir}: use with -i {shlex.quote(str(lab.dir / 'inventory.yml'))}",
             f"export VAULT_ADDR={shlex.quote(s['clusters'][primary]['api_addr'])}",
             f"export VAULT_TOKEN={shlex.quote(s['tokens'][primary])}"]
    for name, token in s["tokens"].items():
        lines.append(f"export {_env_name(name)}={shlex.quote(token)}")
    lines.append(f"export VAULT_UNSEAL_KEYS={shlex.quote(','.join(s['keys']))}")
    lines.append(f"export VAULT_CACERT={shlex.quote(s['ca_cert'])}" if s["ca_cert"] else "unset VAULT_CACERT")
    own = s["clusters"][primary]
    if own.get("client_cert"):
        lines += [f"export VAULT_CLIENT_CERT={shlex.quote(own['client_cert'])}",
                  f"export VAULT_CLIENT_KEY={shlex.quote(own['client_key'])}",
                  "# each cluster wants its own client certificate: vault_client_cert / vault_client_key "
                  "in the inventory (VAULT_CLIENT_CERT above is the primary's)"]
    control_token = _control_token(lab)
    if control_token:  # for scripts that call /_vaultlab/ themselves ('vaultlab ctl' needs no export)
        lines.append(f"export {control.ENV_NAME}={shlex.quote(control_token)}")
    lines += [f"# warning: {note}" for note in s["notes"]]
    return "\n".join(lines) + "\n"


def _control_token(lab: Any) -> str | None:
    from .supervisor import LabError

    try:
        return control.read(lab.dir)
    except control.ControlTokenError as exc:
        raise LabError(str(exc)) from None


def _write_inventory(lab: Any, output: str) -> str:
    from .supervisor import LabError

    s = _secrets(lab)
    names = list(s["clusters"])
    q = json.dumps
    lines = [f"# Written by 'vaultlab inventory' for the lab in {lab.dir}. It holds tokens and unseal keys:",
             "# keep it private. Activation replaces a secondary's tokens: write it again after a set-up.",
             *[f"# warning: {note}" for note in s["notes"]],
             "all:", "  children:", "    vault_clusters:", "      vars:", "        ansible_connection: local",
             '        ansible_python_interpreter: "{{ ansible_playbook_python }}"', "      hosts:"]
    for name in names:
        info = s["clusters"][name]
        lines += [f"        {name}:",
                  f"          vault_addr: {q(info['api_addr'])}",
                  f"          vault_ca_cert: {q(info.get('ca_cert'))}",
                  f"          vault_nodes: {q(info['nodes'])}",
                  f"          vault_token: {q(s['tokens'][name])}"]
        if info.get("client_cert"):
            lines += [f"          vault_client_cert: {q(info['client_cert'])}",
                      f"          vault_client_key: {q(info['client_key'])}"]
        if name == s["primary"]:
            lines.append(f"          vault_unseal_keys: {q(s['keys'])}")
    # The groups the collection's topology role reads, by name prefix (as inventory.yml).
    for group, prefix in (("vault_primary", "primary"), ("vault_dr_secondaries", "dr"),
                          ("vault_perf_secondaries", "perf")):
        members = [n for n in names if n.startswith(prefix)]
        lines.append(f"    {group}:")
        lines += ["      hosts:"] + [f"        {m}: {{}}" for m in members] if members else ["      hosts: {}"]
    path = os.path.abspath(output)
    if os.path.isdir(path):
        raise LabError(f"--output {output} is a directory; give a file name such as {os.path.join(output, 'lab.yml')}")
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _ctl(lab: Any, args: argparse.Namespace) -> None:
    from .supervisor import LabError

    body = None
    if args.data is not None:
        try:
            body = json.loads(args.data)
        except ValueError as exc:
            raise LabError(f"JSON body {args.data!r} is not valid JSON ({exc})") from None
        if not isinstance(body, dict):
            raise LabError(f"JSON body {args.data!r} must be an object, e.g. '{{\"kind\": \"latency\", \"ms\": 200}}'")
    _node, reply = lab.control(args.target, args.path, body, args.method)
    print(json.dumps(reply, indent=1, sort_keys=True))


def _fault(lab: Any, args: argparse.Namespace) -> None:
    kind = args.fault
    if kind == "kill":
        done = lab.kill(args.cluster, args.node)
        print(f"killed {', '.join(done) or 'nothing (not running)'}")
    elif kind == "restart":
        done = lab.restart(args.cluster, args.node, unseal=args.unseal)
        print(f"restarted {', '.join(done)}{' (unsealed)' if args.unseal else ' (sealed)'}")
    elif kind == "seal":
        print(f"sealed {', '.join(lab.seal(args.cluster, args.node))}")
    elif kind == "partition":
        lab.partition(args.clusters, args.kind)
        print(f"partitioned {' <-> '.join(args.clusters)} ({args.kind})")
    elif kind == "heal":
        lab.heal(args.clusters or None)
        if args.all:
            lab.reset_faults()
        print("healed")
    elif kind == "latency":
        if args.ms < 0:
            from .supervisor import LabError

            raise LabError("--ms must not be negative")
        done = lab.node_fault(args.cluster, args.node, {"kind": "latency", "ms": args.ms})
        print(f"latency {args.ms:g} ms on {', '.join(done)}")
    elif kind == "errors":
        if args.count < 0:
            from .supervisor import LabError

            raise LabError("--count must not be negative")
        done = lab.node_fault(args.cluster, args.node, {"kind": "errors", "count": args.count,
                                                         "status": args.status})
        print(f"next {args.count} request(s) answer HTTP {args.status} on {', '.join(done)}")


if __name__ == "__main__":
    sys.exit(main())
