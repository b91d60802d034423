"""docker-compose.yml merged with deploy/compose.local.yml (`docker-compose config` on
stdin), made runnable by docker-compose 1.29 (Debian's): published ports are dropped from
the services on the host network. The engine ignores them there, and so does Compose v2
(with a warning), but docker-compose 1.29's client refuses them outright ("host"
network_mode is incompatible with port_bindings), and an override cannot remove a list
entry. Nothing else changes. Used by deploy/local/compose.sh; writes the file on stdout."""

from __future__ import annotations

import sys

import yaml


def resolve(config: dict) -> dict:
    for service in config["services"].values():
        if service.get("network_mode") == "host":
            service.pop("ports", None)
    return config


if __name__ == "__main__":
    yaml.safe_dump(resolve(yaml.safe_load(sys.stdin)), sys.stdout, sort_keys=False)
