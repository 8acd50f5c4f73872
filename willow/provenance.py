"""Which of Willow's answers rests on which point of the source explainer.

The mapping lives in ``content/provenance.yml``; the points in ``content/points.yml``.
``python -m willow.provenance`` lists every informational response and content file with
its points, and exits 1 (after saying what is wrong) if an informational response is tied
to no point, a point id does not exist, or a response or content file is in neither the
informational nor the not-informational list. ``tests/test_provenance.py`` runs the same check.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import yaml

ROOT = Path(__file__).resolve().parent.parent


# libyaml's loader when PyYAML has it: the pure-Python one takes seconds over data/ and domain/.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_LOADER)


def domain_responses(root: Path = ROOT) -> List[str]:
    """Every response name in ``domain/*.yml``."""
    names: List[str] = []
    for path in sorted((root / "domain").glob("*.yml")):
        names += list((load_yaml(path) or {}).get("responses") or {})
    return names


def content_files(root: Path = ROOT) -> Dict[str, Any]:
    return {path.stem: load_yaml(path) for path in sorted((root / "content").glob("*.yml"))}


def entries(provenance: Dict[str, Any]) -> Iterator[Tuple[str, List[str]]]:
    """(what, points) for every informational response and content file (or part of one)."""
    for name, points in (provenance.get("responses") or {}).items():
        yield name, list(points or [])
    speakers = {}
    for action, name in (provenance.get("actions") or {}).items():
        speakers.setdefault(name, []).append(action)
    for name, mapped in (provenance.get("content") or {}).items():
        what = f"{', '.join(speakers.get(name, [])) or '(no action)'} <- content/{name}.yml"
        if isinstance(mapped, dict):
            for key, points in mapped.items():
                yield f"{what}: {key}", list(points or [])
        else:
            yield what, list(mapped or [])


def problems(root: Path = ROOT) -> List[str]:
    """Everything that is wrong with the mapping (empty when it is complete and valid)."""
    content = content_files(root)
    provenance = content["provenance"]
    points = set(content["points"])
    found: List[str] = []
    for what, tied in entries(provenance):
        if not tied:
            found.append(f"{what} is informational but tied to no point")
        found += [f"{what} names {p!r}, which is not a point in content/points.yml" for p in tied if p not in points]

    skipped = provenance.get("not_informational") or {}
    informational = set(provenance.get("responses") or {})
    for name in domain_responses(root):
        if name not in informational and name not in (skipped.get("responses") or []):
            found.append(f"response {name} is in neither `responses` nor `not_informational` of content/provenance.yml")
    for name in set(informational) - set(domain_responses(root)):
        found.append(f"content/provenance.yml maps {name}, which is not a response in domain/")

    mapped_content = provenance.get("content") or {}
    for name, data in content.items():
        if name not in mapped_content and name not in (skipped.get("content") or []):
            found.append(f"content/{name}.yml is in neither `content` nor `not_informational` of content/provenance.yml")
        elif isinstance(mapped_content.get(name), dict):
            missing = set(data) - set(mapped_content[name])
            found += [f"content/{name}.yml: {key} is tied to no point" for key in sorted(missing)]
    for action, name in (provenance.get("actions") or {}).items():
        if name not in mapped_content:
            found.append(f"{action} speaks from content/{name}.yml, which is tied to no point")
    return found


def listing(root: Path = ROOT) -> str:
    content = content_files(root)
    points = content["points"]
    lines = []
    for what, tied in entries(content["provenance"]):
        lines.append(what)
        lines += [f"    {p}: {points[p]['title']}" if p in points else f"    {p}: (unknown point)" for p in tied]
    return "\n".join(lines)


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check, print nothing when all is well")
    args = parser.parse_args(argv)
    if not args.check:
        print(listing())
    found = problems()
    for problem in found:
        print(f"error: {problem}", file=sys.stderr)
    if found:
        print("Fix content/provenance.yml: tie each informational answer to the points it rests on.", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
