#!/usr/bin/env python3
"""Generates src/commands/meta/commands.json, the command metadata behind COMMAND, COMMAND INFO,
COMMAND DOCS and COMMAND GETKEYS (src/commands/meta.rs).

Source: Redis 7.2.6's command descriptions (`src/commands/*.json` in the Redis source tree,
BSD-3-Clause, Copyright (c) 2006-2020 Salvatore Sanfilippo and Redis contributors), as kept in
../shared/redis-commands/ beside this checkout. Their licence is copied next to the output as
src/commands/meta/LICENSE-redis-7.2.6.txt.

The output is one minified JSON object keyed by lower-case full name (`get`, `config|get`). It
keeps only what the COMMAND family replies with, normalised the way Redis's own
utils/generate-command-code.py normalises it when it builds the C tables:
argument names and display texts lower case, tokens upper case, command tips lower case.
Reply schemas, C function names and the `sentinel` group (Sentinel mode only) are dropped.

Run from the repository root:  python3 tools/gen_command_meta.py [source-dir]
"""

import glob
import json
import os
import shutil
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
DEFAULT_SRC = os.path.join(ROOT, "..", "shared", "redis-commands")
OUT_DIR = os.path.join(ROOT, "src", "commands", "meta")
LICENSE = "LICENSE-redis-7.2.6.txt"

# Plain string fields copied as they are, when present.
COMMAND_STRINGS = ["summary", "since", "group", "complexity", "deprecated_since", "replaced_by",
                   "get_keys_function"]
COMMAND_LISTS = ["doc_flags", "command_flags", "acl_categories", "history", "key_specs"]
ARG_STRINGS = ["type", "summary", "since", "deprecated_since"]
ARG_FLAGS = ["optional", "multiple", "multiple_token"]


def argument(desc):
    out = {"name": desc["name"].lower()}
    for field in ARG_STRINGS:
        if desc.get(field):
            out[field] = desc[field]
    if "key_spec_index" in desc:
        out["key_spec_index"] = desc["key_spec_index"]
    if desc.get("token"):
        out["token"] = desc["token"].upper()
    # Redis keeps a display text only for arguments that are not oneof/block.
    if desc.get("display") and desc["type"] not in ("oneof", "block"):
        out["display"] = desc["display"].lower()
    for flag in ARG_FLAGS:
        if desc.get(flag):
            out[flag] = True
    if desc.get("arguments"):
        out["arguments"] = [argument(a) for a in desc["arguments"]]
    return out


def command(desc):
    out = {"arity": desc["arity"]}
    for field in COMMAND_STRINGS:
        if desc.get(field):
            out[field] = desc[field]
    for field in COMMAND_LISTS:
        if desc.get(field):
            out[field] = desc[field]
    if desc.get("command_tips"):
        out["command_tips"] = [t.lower() for t in desc["command_tips"]]
    if desc.get("arguments"):
        out["arguments"] = [argument(a) for a in desc["arguments"]]
    if desc.get("container"):
        out["container"] = desc["container"].lower()
    return out


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_SRC
    commands = {}
    for path in sorted(glob.glob(os.path.join(src, "*.json"))):
        with open(path) as f:
            for name, desc in json.load(f).items():
                if desc["group"] == "sentinel":
                    continue
                full = name.lower()
                if desc.get("container"):
                    full = desc["container"].lower() + "|" + full
                if full in commands:
                    sys.exit("duplicate command %s in %s" % (full, path))
                commands[full] = command(desc)
    for full, meta in commands.items():
        if "container" in meta:
            parent = commands.get(meta["container"])
            if parent is None:
                sys.exit("%s: container %s not found" % (full, meta["container"]))
            parent.setdefault("subcommands", []).append(full)
    for meta in commands.values():
        if "subcommands" in meta:
            meta["subcommands"].sort()
    os.makedirs(OUT_DIR, exist_ok=True)
    out = os.path.join(OUT_DIR, "commands.json")
    with open(out, "w") as f:
        json.dump(commands, f, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
        f.write("\n")
    shutil.copyfile(os.path.join(src, LICENSE), os.path.join(OUT_DIR, LICENSE))
    print("wrote %s: %d commands, %d bytes" % (out, len(commands), os.path.getsize(out)))


if __name__ == "__main__":
    main()
