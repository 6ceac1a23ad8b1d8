#!/usr/bin/env python3
"""No Docker engine runs here: this checks docker/compose.yaml by reading it.
It must parse, build from the Dockerfile that exists, and run, in each of
its services, one task of a 4-node allocation: a command whose program and
sample the build makes, with ranks 0..3, one size, task 0's host and the
shared keys file.
   check_compose.py SOURCE_DIR BUILD_DIR"""
import os
import sys

import yaml

source, build = sys.argv[1], sys.argv[2]
compose_path = os.path.join(source, "docker", "compose.yaml")
with open(compose_path) as f:
    compose = yaml.safe_load(f)

errors = []
services = compose.get("services", {})
if sorted(services) != ["node0", "node1", "node2", "node3"]:
    errors.append(f"services are {sorted(services)}, want node0..node3")
ranks = set()
for name, svc in services.items():
    b = svc.get("build", {})
    dockerfile = os.path.join(os.path.dirname(compose_path), b.get("context", "."), b.get("dockerfile", "Dockerfile"))
    if not os.path.isfile(dockerfile):
        errors.append(f"{name}: {dockerfile} does not exist")
    if svc.get("image") != "gpthread":
        errors.append(f"{name}: image {svc.get('image')!r}, want the one docker/Dockerfile's header names")
    cmd = svc.get("command", [])
    if not cmd or cmd[0] != "build/tools/gpt-launch":
        errors.append(f"{name}: command does not run build/tools/gpt-launch")
        continue
    # The paths are the image's (WORKDIR /src/gpthread, built with ./dev build): this build makes the same ones.
    for path in (cmd[0], cmd[-1]):
        if not os.path.exists(os.path.join(build, os.path.relpath(path, "build"))):
            errors.append(f"{name}: {path} is not made by the build")
    opts = dict(zip(cmd[1:-1:2], cmd[2:-1:2]))
    ranks.add(opts.get("--rank"))
    if opts.get("--size") != "4" or opts.get("--launcher-host") != "node0" or "--keys-file" not in opts:
        errors.append(f"{name}: needs --size 4 --launcher-host node0 --keys-file: {opts}")
    if not opts.get("--keys-file", "").startswith("/keys/") or "keys:/keys" not in svc.get("volumes", []):
        errors.append(f"{name}: the keys file must be on the shared keys volume")
if ranks != {"0", "1", "2", "3"}:
    errors.append(f"ranks are {sorted(r for r in ranks if r)}, want 0..3")
with open(os.path.join(source, "docker", "Dockerfile")) as f:
    text = f.read()
for needed in ("FROM debian:12", "./dev build", "-t gpthread"):
    if needed not in text:
        errors.append(f"docker/Dockerfile lacks {needed!r}")
if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
print("docker/compose.yaml: 4 tasks of one allocation, from docker/Dockerfile")
