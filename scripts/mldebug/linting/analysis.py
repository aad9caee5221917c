"""The shared analysis every lint rule reads: one parsed file (`FileInfo`), its scopes and
assignments (`Scope`), the other files of the same run (`Project`), and `Analysis`, which ties
them together with the name resolution and control-flow helpers the rules share."""
from __future__ import annotations

import ast
import os
import re
from collections import OrderedDict
from typing import Callable, Dict, Iterator, List, Optional, Set, Tuple

from .base import (DEFAULT_ALIASES, FUNCS, LOOPS, attr_name, params, pos, text, walk_scope)


class FileInfo:
    """Everything the rules need about one parsed file."""

    def __init__(self, path: str, tree: ast.Module, source: str):
        self.path, self.tree, self.lines = path, tree, source.splitlines()
        self.nodes: List[ast.AST] = list(ast.walk(tree))
        self.parent: Dict[ast.AST, ast.AST] = {}
        for n in self.nodes:
            for c in ast.iter_child_nodes(n):
                self.parent[c] = n
        self.aliases = dict(DEFAULT_ALIASES)
        for n in self.nodes:
            if isinstance(n, ast.Import):
                for a in n.names:
                    if a.asname:
                        self.aliases[a.asname] = a.name
            elif isinstance(n, ast.ImportFrom) and n.module and n.level == 0:
                for a in n.names:
                    self.aliases[a.asname or a.name] = f"{n.module}.{a.name}"
        self.functions: Dict[str, List[ast.AST]] = {}
        for n in self.nodes:
            if isinstance(n, FUNCS):
                self.functions.setdefault(n.name, []).append(n)
        # what names / attributes are bound to: loss modules, optimizers, schedulers, activation modules
        self.bindings: Dict[str, Set[str]] = {}
        self.ctor: Dict[str, ast.Call] = {}
        for n in self.nodes:
            if isinstance(n, (ast.Assign, ast.AnnAssign)) and isinstance(n.value, ast.Call):
                targets = n.targets if isinstance(n, ast.Assign) else [n.target]
                cls = attr_name(n.value.func)
                for t in targets:
                    if isinstance(t, (ast.Name, ast.Attribute)) and cls:
                        self.bindings.setdefault(text(t), set()).add(cls)
                        self.ctor[text(t)] = n.value
        self.calls = [n for n in self.nodes if isinstance(n, ast.Call)]

    @classmethod
    def parse(cls, source: str, path: str = "<string>") -> "FileInfo":
        """Parse one source text (raises SyntaxError / ValueError on bad code)."""
        return cls(path, ast.parse(source, filename=path), source)

    def canon(self, node: ast.AST) -> str:
        """Dotted name with the first component resolved through the file's imports."""
        s = text(node)
        head, _, rest = s.partition(".")
        full = self.aliases.get(head)
        return (full + ("." + rest if rest else "")) if full else s

    def bound_class(self, node: ast.AST) -> Optional[str]:
        """The class a name/attribute is bound to, when every binding in the file agrees."""
        cls = self.bindings.get(text(node))
        return next(iter(cls)) if cls and len(cls) == 1 else None

    def scope_of(self, node: ast.AST) -> ast.AST:
        n = self.parent.get(node)
        while n is not None and not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Module)):
            n = self.parent.get(n)
        return n if n is not None else self.tree

    def ancestors(self, node: ast.AST, stop: Optional[ast.AST] = None) -> Iterator[ast.AST]:
        n = self.parent.get(node)
        while n is not None and n is not stop:
            yield n
            n = self.parent.get(n)

    def enclosing_class(self, node: ast.AST) -> Optional[ast.ClassDef]:
        for a in self.ancestors(node):
            if isinstance(a, ast.ClassDef):
                return a
        return None


class Scope:
    """Assignments of one function (or the module), for look-ups by name."""

    def __init__(self, node: ast.AST):
        self.node = node
        self.assigns: Dict[str, List[Tuple[Tuple[int, int], ast.AST]]] = {}
        for n in walk_scope(node):
            if isinstance(n, ast.Assign):
                for t in n.targets:
                    self._bind(t, n.value, n)
            elif isinstance(n, (ast.AugAssign, ast.AnnAssign)) and n.value is not None:
                self._bind(n.target, n.value, n)

    def _bind(self, target, value, stmt):
        end = (getattr(stmt, "end_lineno", 0) or 0, getattr(stmt, "end_col_offset", 0) or 0)
        if isinstance(target, ast.Name):
            self.assigns.setdefault(target.id, []).append((end, value))
        elif isinstance(target, (ast.Tuple, ast.List)):
            for t in target.elts:  # unpacking: every name depends on the whole value
                if isinstance(t, ast.Name):
                    self.assigns.setdefault(t.id, []).append((end, value))

    def last(self, name: str, before: Tuple[int, int]) -> Optional[ast.AST]:
        """The value most recently assigned to `name` above `before` (straight-line reading)."""
        best = None
        for p, v in self.assigns.get(name, []):
            if p < before and (best is None or p > best[0]):
                best = (p, v)
        return best[1] if best else None

    def all(self, name: str) -> List[ast.AST]:
        return [v for _, v in self.assigns.get(name, [])]


class Project:
    """The files of one lint run, for the few rules that follow a value into another file.

    Holds paths only (a parsed file costs ~0.7 MB); a file is read and parsed again when a rule
    asks about it, and the last few parsed files are kept."""

    KEEP_PARSED = 8  # parsed files kept at once: cross-file questions come in runs about one helper

    def __init__(self, paths: List[str] = (), preloaded: Optional[List["FileInfo"]] = None):
        self.paths = list(paths)
        self._cache: "OrderedDict[str, Optional[FileInfo]]" = OrderedDict()
        self._pinned = {f.path: f for f in (preloaded or [])}
        for p in self._pinned:
            if p not in self.paths:
                self.paths.append(p)
        self._mentions: Dict[str, List[str]] = {}

    def info(self, path: str) -> Optional[FileInfo]:
        if path in self._pinned:
            return self._pinned[path]
        if path in self._cache:
            self._cache.move_to_end(path)
            return self._cache[path]
        try:
            with open(path, encoding="utf-8") as fh:
                info: Optional[FileInfo] = FileInfo.parse(fh.read(), path)
        except (OSError, UnicodeDecodeError, ValueError, SyntaxError, RecursionError):
            info = None
        self._cache[path] = info
        while len(self._cache) > self.KEEP_PARSED:
            self._cache.popitem(last=False)
        return info

    def _source(self, path: str) -> str:
        if path in self._pinned:
            return "\n".join(self._pinned[path].lines)
        try:
            with open(path, encoding="utf-8") as fh:
                return fh.read()
        except (OSError, UnicodeDecodeError):
            return ""

    def files_mentioning(self, word: str) -> List[str]:
        """Paths whose text contains `word` as a whole word (a cheap filter before parsing)."""
        if word not in self._mentions:
            pat = re.compile(r"\b%s\b" % re.escape(word))
            self._mentions[word] = [p for p in self.paths if pat.search(self._source(p))]
        return self._mentions[word]

    def importers(self, name: str, defined_in: str) -> Iterator[Tuple[FileInfo, Set[str], Set[str]]]:
        """Other files that import the top-level function `name` from the module file `defined_in`:
        (file, local names the function goes by, module aliases to call it through). An import
        counts when it resolves to `defined_in` from the importing file's directory or one above it
        (how a script's own modules are found), so two projects linted together don't mix."""
        target = os.path.abspath(defined_in)
        for path in self.files_mentioning(name):
            if os.path.abspath(path) == target:
                continue
            info = self.info(path)
            if info is None:
                continue
            names: Set[str] = set()
            mods: Set[str] = set()
            for n in info.nodes:
                if isinstance(n, ast.ImportFrom):
                    base = n.module or ""
                    for al in n.names:
                        if al.name == name and module_file(path, base, n.level, target):
                            names.add(al.asname or al.name)
                        elif module_file(path, f"{base}.{al.name}" if base else al.name, n.level, target):
                            mods.add(al.asname or al.name)
                elif isinstance(n, ast.Import):
                    for al in n.names:
                        if (al.asname or "." not in al.name) and module_file(path, al.name, 0, target):
                            mods.add(al.asname or al.name)
            if names or mods:
                yield info, names, mods


def module_file(importer: str, module: str, level: int, target: str) -> bool:
    """`import module` (with `level` leading dots) in the file `importer` may load the file `target`."""
    if not module:
        return False
    rel = module.replace(".", os.sep)
    here = os.path.dirname(os.path.abspath(importer))
    if level:
        for _ in range(level - 1):
            here = os.path.dirname(here)
        return target in (os.path.join(here, rel + ".py"), os.path.join(here, rel, "__init__.py"))
    for tail in (rel + ".py", os.path.join(rel, "__init__.py")):
        if target.endswith(os.sep + tail):
            root = target[:-len(tail)]
            if (here + os.sep).startswith(root):
                return True
    return False


class Analysis:
    """One file as the rules see it: its FileInfo, cached scopes, and shared helpers."""

    def __init__(self, info: FileInfo, project: Optional[Project] = None):
        self.f = info
        self.project = project if project is not None else Project(preloaded=[info])
        self._scopes: Dict[ast.AST, Scope] = {}
        self._memo: Dict[object, object] = {}

    def memo(self, key, compute: Callable[[], object]):
        """A value shared by several rules, computed once per file."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def scope(self, node: ast.AST) -> Scope:
        s = self.f.scope_of(node) if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Module)) \
            else node
        if s not in self._scopes:
            self._scopes[s] = Scope(s)
        return self._scopes[s]

    def class_of(self, node: ast.AST) -> Optional[str]:
        """The class a called name is bound to: the latest local `x = Cls(...)` above it, unknown for a
        parameter, else the file-wide binding (module globals, self.attributes)."""
        if isinstance(node, ast.Name):
            scope = self.f.scope_of(node)
            v = self.scope(node).last(node.id, pos(node))
            if v is not None:
                return attr_name(v.func) if isinstance(v, ast.Call) else None
            if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.id in params(scope):
                return None
        return self.f.bound_class(node)

    def is_module_path(self, node: ast.AST) -> bool:
        """`torch`, `F`, `torch.nn.functional`, `np` ...: a module, not a tensor."""
        root = node
        while isinstance(root, ast.Attribute):
            root = root.value
        return isinstance(root, ast.Name) and (root.id in self.f.aliases and
                                              self.f.aliases[root.id].split(".")[0] in ("torch", "numpy", "math"))

    def helper_defs(self, call: ast.Call) -> List[ast.AST]:
        """Same-file functions a call may run: f(...) or self.f(...)."""
        fn = call.func
        if isinstance(fn, ast.Name) or (isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name) and
                                        fn.value.id in ("self", "cls")):
            return self.f.functions.get(attr_name(fn), [])
        return []

    def contains(self, node: ast.AST, pred, depth: int = 0, seen=None) -> bool:
        """pred holds for a node under `node`, or inside a same-file function it calls (2 levels)."""
        seen = set() if seen is None else seen
        for n in walk_scope(node):
            if pred(n):
                return True
            if isinstance(n, ast.Call) and depth < 2:
                for d in self.helper_defs(n):
                    if d not in seen:
                        seen.add(d)
                        if self.contains(d, pred, depth + 1, seen):
                            return True
        return False

    def loops_of(self, node: ast.AST, scope: ast.AST) -> List[ast.AST]:
        """Enclosing loops of `node` inside `scope`, innermost first."""
        return [a for a in self.f.ancestors(node, scope) if isinstance(a, LOOPS)]

    def block_path(self, node: ast.AST, loop: ast.AST) -> List[int]:
        """ids of the nested statement blocks (if/with/try bodies) holding `node`, from `loop` down."""
        path, child = [], node
        for a in self.f.ancestors(node):
            for field in ("body", "orelse", "finalbody", "handlers"):
                block = getattr(a, field, None)
                if isinstance(block, list) and any(child is s for s in block):
                    path.append((id(a), field))
            if a is loop:
                break
            child = a
        return list(reversed(path))


def is_method(a: Analysis, fn: ast.AST) -> bool:
    return isinstance(a.f.parent.get(fn), ast.ClassDef)


def call_sites(a: Analysis, fn: ast.AST) -> List[Tuple[Analysis, ast.Call]]:
    """Calls that may run the function `fn`: `fn(...)` / `self.fn(...)` in its own file, and, for a
    top-level function, `fn(...)` / `module.fn(...)` in the project's files that import it."""
    owner = a.f.parent.get(fn)
    if isinstance(owner, ast.ClassDef):  # a method: self.fn(...) from the same class
        out = [(a, c) for c in a.f.calls if isinstance(c.func, ast.Attribute) and c.func.attr == fn.name and
               isinstance(c.func.value, ast.Name) and c.func.value.id in ("self", "cls") and
               a.f.enclosing_class(c) is owner]
    else:
        out = [(a, c) for c in a.f.calls if isinstance(c.func, ast.Name) and any(d is fn for d in a.helper_defs(c))]
    if isinstance(owner, ast.Module):
        for info, names, mods in a.project.importers(fn.name, a.f.path):
            other = Analysis(info, a.project)
            for c in info.calls:
                f = c.func
                if (isinstance(f, ast.Name) and f.id in names) or (
                        isinstance(f, ast.Attribute) and f.attr == fn.name and isinstance(f.value, ast.Name) and
                        f.value.id in mods):
                    out.append((other, c))
    return out


def argument_for(fn: ast.AST, call: ast.Call, param: str) -> Optional[ast.AST]:
    """The expression a call passes for parameter `param` of `fn` (None when it can't be told)."""
    for kw in call.keywords:
        if kw.arg == param:
            return kw.value
    names = [p.arg for p in fn.args.posonlyargs + fn.args.args]
    if names and names[0] in ("self", "cls") and isinstance(call.func, ast.Attribute):
        names = names[1:]  # bound method: self is not passed
    if param not in names:
        return None
    i = names.index(param)
    if any(isinstance(x, ast.Starred) for x in call.args[:i + 1]):
        return None
    return call.args[i] if i < len(call.args) else None
