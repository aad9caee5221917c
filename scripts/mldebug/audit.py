"""ml-debug audit: check that the knowledge base is consistent with the code.

    python scripts/audit.py                 # audit this checkout
    python scripts/audit.py --root DIR      # audit another tree (the test fixtures use this)
    python scripts/audit.py --json          # one JSON document on stdout
    python scripts/audit.py --merge-drafts  # fold finished refs/drafts/<id>.md into refs/diagnostics.md

What it checks (each problem is printed as `file:line [rule] problem`):
  skill-frontmatter   SKILL.md frontmatter: name, description, allowed keys (Agent Skills format)
  skill-length        SKILL.md body under MAX_SKILL_LINES lines
  link                every relative link in authored Markdown points at a file that exists
  anchor              every #anchor resolves to a heading (GitHub's slug rules) or an explicit id
  missing-section     every check id (found with `ast`, never by importing torch: @check("<id>")
                      in scripts/mldebug/checks/*.py, and the literal LIVE_CHECK_IDS of
                      scripts/mldebug/trace.py) has `## <id>` in refs/diagnostics.md
  orphan-section      every `## <heading>` in refs/diagnostics.md is a check id
  section-order       the sections follow the order of the contract (CONTRACT_ORDER)
  lint-section        every rule in scripts/mldebug/lint.py RULES has `## <rule>` in
                      refs/static_analysis.md
  evidence-frontmatter  evidence/*.md have title, author, url, date, accessed, relevance
  evidence-uncited    every evidence file is linked from SKILL.md, README.md or refs/
  quote               a quotation next to a link to an evidence file appears in that file's quotes
                      (its `>` blocks; our own summary below them does not count)
  number              a figure in a sentence (or table row) that links an evidence file appears in
                      that file's quotes (its `>` blocks), or is marked as ours: `(ours: how we got it)`
                      after it in the same sentence or cell (refs/README.md, "Sourced numbers")

Exit status: 0 clean, 1 problems found, 2 bad arguments.
"""
from __future__ import annotations

import argparse
import ast
import difflib
import io
import json
import os
import re
import sys
import time
import tokenize
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set, Tuple
from urllib.parse import unquote

import yaml
from markdown_it import MarkdownIt

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

# Agent Skills format (agentskills.io specification): the keys a SKILL.md frontmatter may use.
ALLOWED_SKILL_KEYS = ("name", "description", "license", "allowed-tools", "metadata", "compatibility")
MAX_NAME = 64
MAX_DESCRIPTION = 1024
MAX_COMPATIBILITY = 500
MAX_SKILL_LINES = 500          # the body must load whole into an agent's context
NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
# CONTRACT.md sections 4 and 5: the order of the sections in refs/diagnostics.md.
CONTRACT_ORDER = ("batch-sanity", "init-loss", "init-symmetry", "loss-input", "grad-flow", "nan-source",
                  "activations", "batch-independence", "causality", "eval-mode", "overfit-batch",
                  "input-dependence", "update-ratio", "lr-schedule", "reproducibility",
                  "train-mode", "grad-accumulation", "lr-trace", "param-coverage", "loss-trace",
                  "target-offset", "augment-alignment", "split-consistency", "silent-broadcast",
                  "rank-data", "rank-sync")
DRAFT_MIN_AGE_S = 600          # --merge-drafts leaves a draft alone if modified in the last 10 minutes
EVIDENCE_KEYS = ("title", "author", "url", "date", "accessed", "relevance")
MIN_QUOTE_WORDS = 3            # shorter "quoted" strings are terms, not quotations
YEARS = (1990, 2039)           # a bare integer in this range is a date (a source's year), not a claim

EPILOG = """\
examples:
  python scripts/audit.py
  python scripts/audit.py --json | python -m json.tool
  python scripts/audit.py --root tests/audit_fixtures/clean

exit status: 0 clean, 1 problems found, 2 bad arguments.
"""


@dataclass
class Problem:
    file: str
    line: int
    rule: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line} [{self.rule}] {self.problem}"


# ---------------------------------------------------------------- markdown helpers

_md = MarkdownIt("commonmark").enable("table")


def split_frontmatter(text: str) -> Tuple[Optional[str], str, int]:
    """(frontmatter yaml or None, body, line number where the body starts (0-based))."""
    lines = text.split("\n")
    if lines and lines[0].strip() == "---":
        for i in range(1, len(lines)):
            if lines[i].strip() in ("---", "..."):
                return "\n".join(lines[1:i]), "\n".join(lines[i + 1:]), i + 1
    return None, text, 0


def inline_text(tok) -> str:
    """Rendered plain text of an inline token (text and code spans; markup dropped)."""
    out = []
    for c in tok.children or []:
        if c.type in ("text", "code_inline"):
            out.append(c.content)
        elif c.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif c.type == "image":
            out.append(c.content)
    return "".join(out)


def github_slug(text: str) -> str:
    """GitHub's heading anchor: lowercase, drop punctuation except - and _, spaces to -."""
    s = text.strip().lower()
    s = "".join(ch for ch in s if ch in "-_ " or unicodedata.category(ch)[0] in "LNM")
    return s.replace(" ", "-")


_ID_ATTR = re.compile(r"""\b(?:id|name)\s*=\s*["']([^"']+)["']""")


class MdFile:
    """One parsed Markdown file: tokens, anchors, and where each block starts."""

    def __init__(self, path: Path, rel: str):
        self.path, self.rel = path, rel
        self.text = path.read_text(encoding="utf-8")
        self.front, body, self.offset = split_frontmatter(self.text)
        self.lines = self.text.split("\n")
        self.tokens = _md.parse(body)
        self.headings: List[Tuple[int, str, int]] = []   # (level, text, line)
        self.anchors: Set[str] = set()
        counts: Dict[str, int] = {}
        for i, t in enumerate(self.tokens):
            if t.type == "heading_open":
                text = inline_text(self.tokens[i + 1])
                self.headings.append((int(t.tag[1]), text, self.line_of(t)))
                slug = github_slug(text)
                n = counts.get(slug, 0)
                counts[slug] = n + 1
                self.anchors.add(slug if n == 0 else f"{slug}-{n}")
            if t.type in ("html_block", "html_inline"):
                self.anchors.update(_ID_ATTR.findall(t.content))
            for c in t.children or []:
                if c.type == "html_inline":
                    self.anchors.update(_ID_ATTR.findall(c.content))

    def line_of(self, tok, needle: Optional[str] = None) -> int:
        """1-based line of a block token; with `needle`, the first line of the block holding it."""
        if not tok.map:
            return self.offset + 1
        start, end = tok.map[0] + self.offset, tok.map[1] + self.offset
        if needle:
            for i in range(start, min(end, len(self.lines))):
                if needle in self.lines[i]:
                    return i + 1
        return start + 1

    def links(self) -> Iterable[Tuple[str, int]]:
        """(href, line) for every link and image in the file."""
        for t in self.tokens:
            if t.type != "inline":
                continue
            for c in t.children or []:
                if c.type == "link_open":
                    href = c.attrGet("href") or ""
                elif c.type == "image":
                    href = c.attrGet("src") or ""
                else:
                    continue
                yield href, self.line_of(t, href.split("#")[0] or href)

    def units(self) -> Iterable[Tuple[str, List, object, bool]]:
        """Blocks a quotation and its citation share: (text, inline tokens, first token, is_blockquote).
        A blockquote and a table row are one unit each; any other paragraph or cell is its own."""
        depth_bq, bq_toks, bq_first = 0, [], None
        row_toks, in_row, row_first = [], False, None
        for t in self.tokens:
            if t.type == "blockquote_open":
                if depth_bq == 0:
                    bq_toks, bq_first = [], t
                depth_bq += 1
            elif t.type == "blockquote_close":
                depth_bq -= 1
                if depth_bq == 0:
                    yield " ".join(inline_text(x) for x in bq_toks), bq_toks, bq_first, True
            elif t.type == "tr_open" and depth_bq == 0:
                in_row, row_toks, row_first = True, [], t
            elif t.type == "tr_close" and depth_bq == 0:
                in_row = False
                yield " | ".join(inline_text(x) for x in row_toks), row_toks, row_first, False
            elif t.type == "inline":
                if depth_bq:
                    bq_toks.append(t)
                elif in_row:
                    row_toks.append(t)
                else:
                    yield inline_text(t), [t], t, False


# ---------------------------------------------------------------- code scanning (no torch)

def _is_check_decorator(node) -> bool:
    f = node.func if isinstance(node, ast.Call) else None
    names = ("check", "live_check")
    return (isinstance(f, ast.Name) and f.id in names) or (isinstance(f, ast.Attribute) and f.attr in names)


def check_ids(root: Path) -> Dict[str, Tuple[str, int]]:
    """id -> (file, line) for every `@check("<id>", ...)` in scripts/mldebug/checks/*.py and
    every `@live_check("<id>", ...)` in scripts/mldebug/live/*.py."""
    out: Dict[str, Tuple[str, int]] = {}
    pkg = root / "scripts" / "mldebug"
    for py in sorted(pkg.glob("checks/*.py")) + sorted(pkg.glob("live/*.py")):
        try:
            tree = ast.parse(py.read_text(encoding="utf-8"))
        except SyntaxError:
            continue  # a half-written module; the doctor reports it
        for node in ast.walk(tree):
            for dec in getattr(node, "decorator_list", []):
                if _is_check_decorator(dec) and dec.args and isinstance(dec.args[0], ast.Constant) \
                        and isinstance(dec.args[0].value, str):
                    out.setdefault(dec.args[0].value, (str(py.relative_to(root)), dec.lineno))
    return out


def live_check_ids(root: Path) -> Optional[Tuple[List[str], str, int]]:
    """(ids, file, line) from the literal LIVE_CHECK_IDS in scripts/mldebug/trace.py, or in another
    top-level module of the package if trace.py does not define it; None when no module does."""
    pkg = root / "scripts" / "mldebug"
    for py in [pkg / "trace.py"] + sorted(p for p in pkg.glob("*.py") if p.name != "trace.py"):
        found = module_literal(py, "LIVE_CHECK_IDS")
        if found is not None and isinstance(found[0], (tuple, list)):
            return [str(i) for i in found[0]], str(py.relative_to(root)), found[1]
    return None


def module_literal(path: Path, name: str):
    """The literal value assigned to a top-level `name` in `path`, or None when absent."""
    if not path.exists():
        return None
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except SyntaxError:
        return None
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign) and node.value is not None else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            try:
                return ast.literal_eval(node.value), node.lineno
            except ValueError:
                return None
    return None


def _dict_key_lines(path: Path, name: str) -> Dict[str, int]:
    """Line of each string key of the top-level dict literal `name` in `path`."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets) \
                and isinstance(node.value, ast.Dict):
            return {k.value: k.lineno for k in node.value.keys if isinstance(k, ast.Constant)}
    return {}


# ---------------------------------------------------------------- quotations

_QUOTE_CHARS = {"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2018": "'", "\u2019": "'", "\u2026": "..."}


def normalise(s: str) -> str:
    for a, b in _QUOTE_CHARS.items():
        s = s.replace(a, b)
    s = s.replace('\\"', '"').replace("\\'", "'").replace("*", "").replace("`", "")
    return re.sub(r"\s+", " ", s).strip().casefold()


def quotations(text: str) -> List[str]:
    """Double-quoted strings of at least MIN_QUOTE_WORDS words in already-normalised text."""
    return [q for q in re.findall(r'"([^"]+)"', text) if len(q.split()) >= MIN_QUOTE_WORDS]


def quote_found(quote: str, source: str) -> bool:
    """Every fragment of the quote (split at ellipses) appears in the source."""
    for frag in re.split(r"\s*(?:\.\.\.|\[\.\.\.\]|/)\s*", quote):
        frag = frag.strip(" .,;:!?")
        if frag and frag not in source:
            return False
    return True


# ---------------------------------------------------------------- numbers

# A figure: 16, 0.97, 3e-4, -1.3, 95%, 10x, 50k. Not part of a word (log10, fp16), of a name
# (CIFAR-10, GPT-2) or of a version (2.13.0, 3.9+), and not a dimension count (2-D).
_NUM_RE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?(?:e[-+]?\d+)?)(%|x|×|k)?(?![\w.]\w|\w|\+|-D\b|\.\d)", re.I)
# words before a number that make it a label, not a claim: "Part 3", "section 4", "Python 3.9"
_LABEL_BEFORE = re.compile(r"(?:\b(?:part|section|sec\.|chapter|lecture|figure|fig\.|table|page|appendix|issue|"
                           r"seed|python|pytorch|torch|cuda|numpy|version|release|v)|[§#])\s*$", re.I)
# the marker for our own figures, "(ours: how we got it)", with one level of nested parentheses
OURS_RE = re.compile(r"\(ours:\s*[^()]*(?:\([^()]*\)[^()]*)*\)")
_ABBREV = ("e.g.", "i.e.", "vs.", "cf.", "approx.", "fig.", "sec.", "no.")


@dataclass
class Figure:
    text: str        # as written: "3e-4", "95%"
    value: float     # absolute value; k multiplied out
    kind: str        # "plain", "percent" (95%) or "factor" (10x)
    decimals: int    # digits after the point as written (0 for integers and 1e-3)


def figures(text: str) -> List[Tuple[int, Figure]]:
    """(offset, figure) for every number in `text` that can be a claim (see _NUM_RE, YEARS)."""
    out = []
    for m in _NUM_RE.finditer(text):
        start = m.start()
        if start >= 2 and text[start - 1] == "-" and text[start - 2].isalpha():
            continue                                   # GPT-2, CIFAR-10, top-5: a name
        if _LABEL_BEFORE.search(text[max(0, start - 12):start]):
            continue
        if text[start - 1:start] == "(" and text[m.end():m.end() + 1] == ")" and m.group(0).isdigit():
            continue                                   # "(2)": an item of a list written inline
        num, suffix = m.group(1), (m.group(2) or "").lower()
        value = float(num) * (1000 if suffix == "k" else 1)
        if not suffix and value in (0.0, 1.0):
            continue                                   # 0 and 1: structure (LR 0, one step), not a figure
        if not suffix and num.isdigit() and YEARS[0] <= value <= YEARS[1]:
            continue                                   # a year
        mant = num.lower().split("e")[0]
        kind = {"%": "percent", "x": "factor", "×": "factor"}.get(suffix, "plain")
        if kind == "plain" and re.search(r"\bfactor (?:of )?$", text[max(0, start - 10):start], re.I):
            kind = "factor"                            # "a factor 10", "a factor of 10"
        out.append((start, Figure(m.group(0), value, kind,
                                  len(mant.split(".")[1]) if "." in mant else 0)))
    return out


def quoted_values(text: str) -> Dict[str, Set[float]]:
    """Every number in a source's quotes, as absolute values (names like CIFAR-10 included):
    "plain", "percent" (95%) and "factor" (10x, 10 times, a factor of 10, decay by 10)."""
    text = text.replace(",", "")
    vals: Dict[str, Set[float]] = {"plain": set(), "percent": set(), "factor": set()}
    for m in re.finditer(r"(?<![\w.])(\d+(?:\.\d+)?(?:e[-+]?\d+)?)(%|k\b)?", text, re.I):
        suffix = (m.group(2) or "").lower()
        v = float(m.group(1)) * (1000 if suffix == "k" else 1)
        vals["percent" if suffix == "%" else "plain"].add(v)
        if re.match(r"\s*(?:x\b|×|times\b|-fold\b)", text[m.end():]) or \
                re.search(r"\b(?:factor of|by)\s+$", text[max(0, m.start() - 12):m.start()]):
            vals["factor"].add(v)
    return vals


def figure_found(fig: Figure, values: Dict[str, Set[float]]) -> bool:
    """The figure is one of the quoted values of its kind, or one rounded to the figure's decimals
    ("about 10.8" for a quoted 10.82). A percentage matches a quoted percentage or the fraction
    (95% and 0.95, either way round); a factor (10x) matches only a quoted factor."""
    if fig.kind == "factor":
        pools = [(values["factor"], fig.value)]
    elif fig.kind == "percent":
        pools = [(values["percent"], fig.value), (values["plain"], fig.value / 100)]
    else:
        pools = [(values["plain"], fig.value), (values["percent"], fig.value * 100)]
    for pool, w in pools:
        for v in pool:
            if abs(v - w) <= 1e-9 * max(1.0, w):
                return True
            if fig.decimals and fig.kind == "plain" and abs(round(v, fig.decimals) - w) <= 1e-9 * max(1.0, w):
                return True
    return False


def split_sentences(text: str) -> List[Tuple[int, int]]:
    """(start, end) of each sentence or clause: split after . ! ? ; followed by a space (not after
    e.g., i.e., vs.) and at table-cell borders ' | '."""
    spans, start = [], 0
    for m in re.finditer(r"(?<=[.!?;])\s+|\s\|\s", text):
        before = text[max(0, m.start() - 7):m.start()].lower()
        if m.group(0).strip() != "|" and (before.endswith(_ABBREV) or re.search(r"\b[a-z]\.$", before)):
            continue
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    return [(a, b) for a, b in spans if b > a]


def ours_spans(text: str) -> List[Tuple[int, int]]:
    """The text each `(ours: ...)` marker vouches for: from the start of its clause (or the end of
    the clause's previous marker) to the marker's closing parenthesis."""
    covered = []
    for a, b in split_sentences(text):
        pos = a
        for m in OURS_RE.finditer(text, a, b):
            covered.append((pos, m.end()))
            pos = m.end()
    return covered


def _evidence_named(p: Path, child, ev, by_name) -> List[Path]:
    """Evidence files that one inline token of Markdown file `p` names: a link to one, or a file
    name such as `karpathy-recipe-2019.md` in its text or code."""
    if child.type == "link_open":
        target = unquote((child.attrGet("href") or "").partition("#")[0])
        dest = (p.parent / target).resolve() if target else None
        return [dest] if dest in ev else []
    if child.type in ("code_inline", "text"):
        return [by_name[Path(m).name] for m in re.findall(r"[\w.-]+\.md", child.content) if Path(m).name in by_name]
    return []


# ---------------------------------------------------------------- the audit

class Audit:
    def __init__(self, root: Path):
        self.root = root
        self.problems: List[Problem] = []
        self.counts = {"markdown_files": 0, "links_checked": 0, "anchors_checked": 0,
                       "check_ids": 0, "diagnostics_sections": 0, "lint_rules": 0,
                       "evidence_files": 0, "quotes_checked": 0,
                       "numbers_checked": 0, "numbers_quoted": 0, "numbers_ours": 0}
        self.files: Dict[Path, MdFile] = {}
        self._qvals: Dict[Path, Dict[str, Set[float]]] = {}

    def add(self, file, line, rule, problem):
        rel = file if isinstance(file, str) else str(file.relative_to(self.root))
        self.problems.append(Problem(rel, line, rule, problem))

    def md(self, path: Path) -> Optional[MdFile]:
        path = path.resolve()
        if path not in self.files:
            if not path.is_file():
                return None
            try:
                rel = str(path.relative_to(self.root))
            except ValueError:
                rel = str(path)
            self.files[path] = MdFile(path, rel)
        return self.files[path]

    def authored(self) -> List[Path]:
        r = self.root
        paths = [r / "SKILL.md", r / "README.md"]
        for sub in ("refs", "evidence", "examples"):
            paths += sorted((r / sub).glob("*.md"))   # refs/drafts/ is not globbed: work in progress
        return [p for p in paths if p.is_file()]

    def evidence_files(self) -> List[Path]:
        return [p for p in sorted((self.root / "evidence").glob("*.md")) if p.name != "README.md"]

    # -- SKILL.md
    def skill(self):
        path = self.root / "SKILL.md"
        if not path.is_file():
            self.add("SKILL.md", 1, "skill-frontmatter", "SKILL.md is missing")
            return
        f = self.md(path)
        if f.front is None:
            self.add(f.rel, 1, "skill-frontmatter", "no YAML frontmatter (--- ... ---) at the top")
            return
        try:
            meta = yaml.safe_load(f.front)
        except yaml.YAMLError as e:
            self.add(f.rel, 1, "skill-frontmatter", f"frontmatter is not valid YAML: {str(e).splitlines()[0]}")
            return
        if not isinstance(meta, dict):
            self.add(f.rel, 1, "skill-frontmatter", "frontmatter is not a mapping")
            return
        for k in meta:
            if k not in ALLOWED_SKILL_KEYS:
                self.add(f.rel, 1, "skill-frontmatter",
                         f"unknown frontmatter key {k!r} (allowed: {', '.join(ALLOWED_SKILL_KEYS)})")
        name = meta.get("name")
        if not isinstance(name, str) or not name:
            self.add(f.rel, 1, "skill-frontmatter", "frontmatter has no name")
        elif len(name) > MAX_NAME or not NAME_RE.match(name):
            self.add(f.rel, 1, "skill-frontmatter",
                     f"name {name!r} must be <= {MAX_NAME} chars of a-z, 0-9 and single inner hyphens")
        desc = meta.get("description")
        if not isinstance(desc, str) or not desc.strip():
            self.add(f.rel, 1, "skill-frontmatter", "frontmatter has no description")
        elif len(desc) > MAX_DESCRIPTION:
            self.add(f.rel, 1, "skill-frontmatter", f"description is {len(desc)} chars (max {MAX_DESCRIPTION})")
        comp = meta.get("compatibility")
        if comp is not None and (not isinstance(comp, str) or len(comp) > MAX_COMPATIBILITY):
            self.add(f.rel, 1, "skill-frontmatter", f"compatibility must be a string <= {MAX_COMPATIBILITY} chars")
        if "allowed-tools" in meta and not isinstance(meta["allowed-tools"], str):
            self.add(f.rel, 1, "skill-frontmatter", "allowed-tools must be a space-delimited string")
        if "metadata" in meta and not isinstance(meta["metadata"], dict):
            self.add(f.rel, 1, "skill-frontmatter", "metadata must be a mapping")
        body_lines = len(f.text.split("\n")) - f.offset
        if body_lines >= MAX_SKILL_LINES:
            self.add(f.rel, f.offset + 1, "skill-length",
                     f"body is {body_lines} lines; keep it under {MAX_SKILL_LINES} so it loads whole")

    # -- links and anchors
    def links(self, paths: List[Path]):
        for p in paths:
            f = self.md(p)
            self.counts["markdown_files"] += 1
            for href, line in f.links():
                if not href or re.match(r"^[a-z][a-z0-9+.-]*:", href, re.I) or href.startswith("//"):
                    continue  # http:, mailto:, ... : not checked offline
                self.counts["links_checked"] += 1
                target, _, anchor = href.partition("#")
                target = unquote(target)
                dest = (p.parent / target).resolve() if target else p.resolve()
                if target and not dest.exists():
                    self.add(f.rel, line, "link", f"link target {target} does not exist")
                    continue
                if anchor:
                    if dest.suffix.lower() != ".md" or dest.is_dir():
                        continue  # anchors into code files (#L10) are GitHub views: not checked
                    self.counts["anchors_checked"] += 1
                    g = self.md(dest)
                    if g is not None and unquote(anchor) not in g.anchors:
                        near = difflib.get_close_matches(anchor, sorted(g.anchors), n=3, cutoff=0.75)
                        self.add(f.rel, line, "anchor", f"#{anchor} is not a heading in {target or p.name}"
                                 + (f" (near: {', '.join('#' + a for a in near)})" if near else ""))

    # -- check ids <-> diagnostics sections
    def sections(self):
        ids = check_ids(self.root)
        live = live_check_ids(self.root)
        if live is not None:
            values, file, lineno = live
            for i in values:
                ids.setdefault(i, (file, lineno))
        self.counts["check_ids"] = len(ids)
        diag = self.md(self.root / "refs" / "diagnostics.md")
        if diag is None:
            if ids:
                self.add("refs/diagnostics.md", 1, "missing-section",
                         f"refs/diagnostics.md is missing; it needs sections for {', '.join(sorted(ids))}")
            return
        h2 = {text.strip(): line for level, text, line in diag.headings if level == 2}
        self.counts["diagnostics_sections"] = len(h2)
        for cid, (file, line) in sorted(ids.items(), key=lambda kv: kv[1]):
            if cid not in h2:
                self.add(file, line, "missing-section", f"check {cid} has no '## {cid}' section in refs/diagnostics.md")
        placed = [(t, line) for t, line in h2.items() if t in CONTRACT_ORDER]
        for (t1, _), (t2, line) in zip(placed, placed[1:]):
            if CONTRACT_ORDER.index(t2) < CONTRACT_ORDER.index(t1):
                self.add(diag.rel, line, "section-order",
                         f"section '## {t2}' comes after '## {t1}'; keep the contract's order")
        for text, line in h2.items():
            if text not in ids:
                self.add(diag.rel, line, "orphan-section",
                         f"section '## {text}' names no check (no @check(\"{text}\") and not in LIVE_CHECK_IDS)")

    def lint_rules(self):
        found = module_literal(self.root / "scripts" / "mldebug" / "lint.py", "RULES")
        if found is None:
            return
        rules, lineno = found
        if not isinstance(rules, dict):
            return
        self.counts["lint_rules"] = len(rules)
        key_lines = _dict_key_lines(self.root / "scripts" / "mldebug" / "lint.py", "RULES")
        doc = self.md(self.root / "refs" / "static_analysis.md")
        have = {t.strip() for lvl, t, _ in doc.headings if lvl == 2} if doc else set()
        for rule in rules:
            if str(rule) not in have:
                self.add("scripts/mldebug/lint.py", key_lines.get(rule, lineno), "lint-section",
                         f"lint rule {rule} has no '## {rule}' section in refs/static_analysis.md")

    # -- evidence
    def evidence(self):
        files = self.evidence_files()
        self.counts["evidence_files"] = len(files)
        cited: Set[Path] = set()
        citing = [p for p in self.authored() if p.parent.name != "evidence"]
        for p in citing:
            f = self.md(p)
            for href, _ in f.links():
                target = unquote(href.partition("#")[0])
                if target and not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                    cited.add((p.parent / target).resolve())
        for e in files:
            f = self.md(e)
            if f.front is None:
                self.add(f.rel, 1, "evidence-frontmatter", "no YAML frontmatter")
            else:
                try:
                    meta = yaml.safe_load(f.front)
                except yaml.YAMLError as err:
                    meta = None
                    self.add(f.rel, 1, "evidence-frontmatter", f"frontmatter is not valid YAML: {str(err).splitlines()[0]}")
                if isinstance(meta, dict):
                    missing = [k for k in EVIDENCE_KEYS if not str(meta.get(k) or "").strip()]
                    if missing:
                        self.add(f.rel, 1, "evidence-frontmatter", f"frontmatter lacks {', '.join(missing)}")
                elif meta is not None:
                    self.add(f.rel, 1, "evidence-frontmatter", "frontmatter is not a mapping")
            if e.resolve() not in cited:
                self.add(f.rel, 1, "evidence-uncited", "not linked from SKILL.md, README.md or refs/*.md")

    def quotes(self):
        ev = {p.resolve(): p for p in self.evidence_files()}
        by_name = {p.name: p.resolve() for p in ev.values()}
        sources: Dict[Path, str] = {}
        for p in self.authored():
            if p.parent.name == "evidence":
                continue
            f = self.md(p)
            for text, toks, first, is_bq in f.units():
                named = {d for t in toks for c in t.children or [] for d in _evidence_named(p, c, ev, by_name)}
                if not named:
                    continue
                norm = normalise(text)
                qs = quotations(norm)
                if is_bq and not qs:
                    body = re.split(r"\s+(?:\u2014|--)\s+", norm)[0].strip()
                    qs = [body] if len(body.split()) >= MIN_QUOTE_WORDS else []
                for q in qs:
                    self.counts["quotes_checked"] += 1
                    for d in named:
                        if d not in sources:
                            sources[d] = normalise(self._quote_text(d))
                    if not any(quote_found(q, sources[d]) for d in named):
                        names = ", ".join(sorted(ev[d].name for d in named))
                        short = q if len(q) <= 70 else q[:67] + "..."
                        self.add(f.rel, f.line_of(first), "quote", f"quote \"{short}\" is not in {names}")

    # -- numbers next to evidence links
    def _quote_text(self, path: Path) -> str:
        """The quotes of one evidence file: the text of its `>` blocks (not our summary)."""
        f = self.md(path)
        text, depth = [], 0
        for t in f.tokens:
            depth += (t.type == "blockquote_open") - (t.type == "blockquote_close")
            if depth and t.type == "inline":
                text.append(inline_text(t))
        return " ".join(text)

    def _quote_values(self, path: Path) -> Dict[str, Set[float]]:
        if path not in self._qvals:
            self._qvals[path] = quoted_values(normalise(self._quote_text(path)))
        return self._qvals[path]

    def _claim_text(self, p: Path, toks, sep: str, ev: Dict[Path, Path]) -> Tuple[str, List[Tuple[int, Path]]]:
        """A unit's text for the number rule: link labels and code spans dropped (they name things),
        quotations blanked (the quote rule checks them); with the offset of every evidence link."""
        by_name = {d.name: d for d in ev}
        parts, marks, n = [], [], 0
        for i, t in enumerate(toks):
            if i:
                parts.append(sep)
                n += len(sep)
            in_link = 0
            for c in t.children or []:
                marks += [(n, d) for d in _evidence_named(p, c, ev, by_name)]
                piece = ""
                if c.type == "link_open":
                    in_link += 1
                elif c.type == "link_close":
                    in_link -= 1
                elif c.type in ("softbreak", "hardbreak"):
                    piece = " "
                elif c.type in ("text", "code_inline"):
                    piece = c.content if c.type == "text" and not in_link else " code "
                parts.append(piece)
                n += len(piece)
        text = "".join(parts)
        for a, b in _QUOTE_CHARS.items():
            if len(b) == 1:                              # same length: the offsets in `marks` stay right
                text = text.replace(a, b)
        text = re.sub(r'"([^"]+)"', lambda m: m.group(0) if len(m.group(1).split()) < MIN_QUOTE_WORDS
                      else '"' + " " * len(m.group(1)) + '"', text)
        return text, marks

    def _judge(self, text: str, scope: Tuple[int, int], named: Set[Path], covered, where) -> None:
        """Each figure of text[scope] is in the quotes of a named evidence file, or marked ours."""
        a, b = scope
        values: Dict[str, Set[float]] = {"plain": set(), "percent": set(), "factor": set()}
        for d in named:
            for kind, vals in self._quote_values(d).items():
                values[kind] |= vals
        for off, fig in figures(text[a:b]):
            self.counts["numbers_checked"] += 1
            if any(s <= a + off < e for s, e in covered):
                self.counts["numbers_ours"] += 1
            elif figure_found(fig, values):
                self.counts["numbers_quoted"] += 1
            else:
                names = ", ".join(sorted(d.name for d in named))
                file, line = where(fig.text)
                self.add(file, line, "number", f"{fig.text} is not in the quotes of {names}: quote the "
                         f"source that gives it, or mark it (ours: how we got it)")

    def numbers(self):
        ev = {p.resolve(): p for p in self.evidence_files()}
        for p in self.authored():
            if p.parent.name == "evidence":
                continue
            f = self.md(p)
            for _, toks, first, _ in f.units():
                row = first.type == "tr_open"
                text, marks = self._claim_text(p, toks, " | " if row else " ", ev)
                if not marks:
                    continue
                covered = ours_spans(text)
                where = lambda needle, f=f, first=first: (f.rel, f.line_of(first, needle))
                scopes = [(0, len(text))] if row else split_sentences(text)
                for a, b in scopes:
                    named = {d for off, d in marks if a <= off <= b}
                    if named:
                        self._judge(text, (a, b), named, covered, where)
        by_name = {d.name: d for d in ev}
        for py in sorted((self.root / "scripts").rglob("*.py")):
            self._code_comments(py, by_name)

    def _code_comments(self, py: Path, by_name: Dict[str, Path]):
        """A comment line that names evidence/<file>.md: its figures are in that file's quotes, or ours."""
        try:
            source = py.read_text(encoding="utf-8")
            if "evidence/" not in source:
                return                                   # most modules: no need to tokenize
            toks = list(tokenize.generate_tokens(io.StringIO(source).readline))
        except (OSError, SyntaxError, tokenize.TokenError):
            return
        rel = str(py.relative_to(self.root))
        for tok in toks:
            if tok.type != tokenize.COMMENT:
                continue
            named = {by_name[m] for m in re.findall(r"evidence/([\w.-]+\.md)", tok.string) if m in by_name}
            if named:
                text = re.sub(r"[\w./-]*evidence/[\w.-]+\.md|refs/[\w./#-]+", " ", tok.string.lstrip("#"))
                self._judge(text, (0, len(text)), named, ours_spans(text), lambda _n, line=tok.start[0]: (rel, line))

    def run(self) -> List[Problem]:
        self.skill()
        self.links(self.authored())
        self.sections()
        self.lint_rules()
        self.evidence()
        self.quotes()
        self.numbers()
        return self.problems


def _heading_lines(text: str, tags) -> List[int]:
    """0-based line numbers of the ATX headings with the given tags (h1, h2, ...)."""
    return [t.map[0] for t in _md.parse(text) if t.type == "heading_open" and t.tag in tags and t.map
            and text.split("\n")[t.map[0]].lstrip().startswith("#")]


def _rewrite_links(text: str, drafts: Path, refs: Path) -> str:
    """Links in a draft, made relative to refs/ (drafts are meant to be written that way already;
    a link that only resolves from refs/drafts/ is rewritten, `diagnostics.md#x` becomes `#x`)."""
    def fix(m):
        label, href = m.group(1), m.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", href, re.I) or href.startswith("#"):
            return m.group(0)
        target, hash_, anchor = href.partition("#")
        if target in ("diagnostics.md", "../diagnostics.md") and anchor:
            return f"[{label}](#{anchor})"
        if (refs / target).exists():
            return m.group(0)
        if (drafts / target).exists():
            new = os.path.relpath((drafts / target).resolve(), refs.resolve()).replace(os.sep, "/")
            return f"[{label}]({new}{hash_}{anchor})"
        return m.group(0)
    return re.sub(r"\[([^\]]*)\]\(([^)\s]+)\)", fix, text)


def merge_drafts(root: Path, min_age: float = DRAFT_MIN_AGE_S) -> Tuple[List[str], List[str]]:
    """Fold refs/drafts/<id>.md into refs/diagnostics.md in contract order and delete each merged
    draft. Only drafts whose check exists (an @check or LIVE_CHECK_IDS entry) and that were not
    modified in the last `min_age` seconds. Returns (merged ids, skipped 'id: why')."""
    refs, drafts = root / "refs", root / "refs" / "drafts"
    diag_path = refs / "diagnostics.md"
    text = diag_path.read_text(encoding="utf-8") if diag_path.exists() else "# Diagnostics\n"
    ids = set(check_ids(root))
    live = live_check_ids(root)
    if live is not None:
        ids.update(live[0])
    # split the current file into the intro and its `## id` sections (headings found by the parser,
    # so a `## ` line inside a code block is not taken for one)
    lines = text.split("\n")
    starts = _heading_lines(text, ("h2",))
    intro = "\n".join(lines[:starts[0]] if starts else lines)
    sections = {}
    for i, start in enumerate(starts):
        part = "\n".join(lines[start:starts[i + 1] if i + 1 < len(starts) else len(lines)])
        sections[lines[start][3:].strip()] = part.rstrip() + "\n"
    merged, skipped, now = [], [], time.time()
    for d in sorted(drafts.glob("*.md")) if drafts.is_dir() else []:
        cid = d.stem
        if cid not in ids:
            skipped.append(f"{cid}: no check with this id in the code yet")
            continue
        if now - d.stat().st_mtime < min_age:
            skipped.append(f"{cid}: modified {int(now - d.stat().st_mtime)}s ago, author may still be editing")
            continue
        body = d.read_text(encoding="utf-8").strip()
        _, body, _ = split_frontmatter(body)
        body = body.strip()
        lines = body.split("\n")
        top = _heading_lines(body, ("h1", "h2"))
        if top and top[0] == 0:                      # the draft's own `## id` heading
            lines[0], top = "", top[1:]
        for i in top:                                # other level-1/2 headings become level 3
            lines[i] = "### " + lines[i].lstrip("#").strip()
        body = _rewrite_links("\n".join(lines).strip(), drafts, refs)
        sections[cid] = f"## {cid}\n\n{body}\n"
        merged.append(cid)
    if not merged:
        return merged, skipped
    order = {c: i for i, c in enumerate(CONTRACT_ORDER)}
    keys = sorted(sections, key=lambda c: (order.get(c, len(order)), c))
    listing = ", ".join(f"[{c}](#{c})" for c in keys)
    intro = re.sub(r"(?ms)^Sections in this file:.*?(?:\n\n|\Z)", "", intro).rstrip() + "\n\n"
    intro += "Sections in this file: " + listing + ".\n\n"
    out = intro + "\n".join(sections[c] for c in keys)
    diag_path.write_text(out, encoding="utf-8")
    for cid in merged:
        (drafts / f"{cid}.md").unlink()
    return merged, skipped


def default_root() -> Path:
    return Path(__file__).resolve().parents[2]


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def main(argv: Optional[List[str]] = None) -> int:
    p = _Parser(prog="ml-debug audit", description=__doc__.split("\n\n")[0].strip() +
                " Checks SKILL.md, refs/, evidence/ and README.md against each other and against the check "
                "ids in the code (read with ast; torch is never imported).",
                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", metavar="DIR", default=None, help="tree to audit (default: this checkout)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.add_argument("--merge-drafts", action="store_true",
                   help="first fold finished refs/drafts/<id>.md into refs/diagnostics.md (contract order), "
                        "deleting each merged draft; then audit")
    p.add_argument("--min-age", type=float, default=DRAFT_MIN_AGE_S, metavar="SECONDS",
                   help=f"with --merge-drafts: skip drafts modified more recently (default {DRAFT_MIN_AGE_S})")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    root = Path(args.root).resolve() if args.root else default_root()
    if not root.is_dir():
        print(f"ml-debug audit: error: --root {args.root} is not a directory", file=sys.stderr)
        return EXIT_USAGE
    if args.merge_drafts:
        merged, skipped = merge_drafts(root, args.min_age)
        print(f"merged {len(merged)} draft(s): {', '.join(merged) or '-'}", file=sys.stderr)
        for why in skipped:
            print(f"  not merged: {why}", file=sys.stderr)
    t0 = time.perf_counter()
    audit = Audit(root)
    problems = audit.run()
    seconds = round(time.perf_counter() - t0, 3)
    if args.json:
        print(json.dumps({"root": str(root), "ok": not problems, "seconds": seconds, "counts": audit.counts,
                          "problems": [asdict(x) for x in problems]}, indent=2))
    else:
        for x in problems:
            print(x)
        c = audit.counts
        print(f"audit: {len(problems)} problem(s); {c['markdown_files']} Markdown files, {c['links_checked']} links "
              f"({c['anchors_checked']} anchors), {c['check_ids']} check ids, {c['diagnostics_sections']} sections, "
              f"{c['evidence_files']} evidence files, {c['quotes_checked']} quotes, {c['numbers_checked']} sourced numbers "
              f"({c['numbers_quoted']} quoted, {c['numbers_ours']} ours) checked in {seconds}s",
              file=sys.stderr)
    return EXIT_FAIL if problems else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
