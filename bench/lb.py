"""Load-balancer render benchmark: config render time per generator at catalog scale.

Builds ``--instances`` service instances over ``--services`` services (each tagged
``urlprefix-/<service>``, every tenth service with a canary split, one instance in fifty
critical) and times ``render`` of the fabio, nginx and haproxy plugins, best of ``--runs``.
Prints a table.

    .venv/bin/python bench/lb.py --instances 10000 --services 500
"""

from __future__ import annotations

import argparse
import time

from caravan_lb_fabio.balancer import FabioLoadBalancer
from caravan_lb_haproxy.balancer import HAProxyLoadBalancer
from caravan_lb_nginx.balancer import NginxLoadBalancer

from caravan_plugins import RenderOptions, ServiceInstance


def catalog(instances: int, services: int) -> list[ServiceInstance]:
    """Instances spread evenly over services, on distinct addresses."""
    out = []
    for n in range(instances):
        service = f"svc{n % services}"
        split = {"lb_split": "canary=0.1"} if n % services % 10 == 0 else {}
        out.append(
            ServiceInstance(
                id=f"{service}-{n}",
                service=service,
                address=f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}",
                port=20000 + n % 10000,
                tags=[f"urlprefix-/{service}", "v1"],
                meta=split,
                canary=n % 7 == 0,
                checks={"http": "critical" if n % 50 == 0 else "passing"},
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    instances = catalog(args.instances, args.services)
    print(f"{args.instances} instances over {args.services} services, best of {args.runs}")
    print(f"{'generator':<10} {'render ms':>10} {'lines':>8}")
    for lb_class in (FabioLoadBalancer, NginxLoadBalancer, HAProxyLoadBalancer):
        lb = lb_class.from_config({})
        best, text = float("inf"), ""
        for _ in range(args.runs):
            start = time.perf_counter()
            text = lb.render(instances, RenderOptions())
            best = min(best, time.perf_counter() - start)
        print(f"{lb.name:<10} {best * 1000:>10.1f} {text.count(chr(10)):>8}")


if __name__ == "__main__":
    main()
