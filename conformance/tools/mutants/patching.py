"""Applying one mutant to a process that has already imported the mock (forked.py's children).

`patch` swaps the code object of the one function that holds the mutated line: every
reference to that function (a method of a class another module imported) sees the mutation.
`rebind` evaluates a mutated module-level constant and rebinds it where the program holds
it. `Unpatchable` says when neither can reach the mutant (a fresh process then serves it).
"""

from __future__ import annotations

import ast
import dis
import inspect
import sys
import types
from collections.abc import Set
from pathlib import Path

from conformance.tools.mutants.generate import MODULES, mutated_source

#: Only these modules' lines are mapped to tests: a constant another module of them also
#: holds would be read on lines the map does not follow.
MUTATED = {f"conformance.mock.{m}" for m in MODULES}


class Unpatchable(Exception):
    """This mutant needs a fresh process (module-level, or run at import)."""


def _last_line(code: types.CodeType) -> int:
    last = max((line for _, line in dis.findlinestarts(code) if line), default=code.co_firstlineno)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            last = max(last, _last_line(const))
    return last


def _codes(code: types.CodeType, out: dict | None = None) -> dict:
    """(qualified name, first line) -> code object, for a module's code and all inside it."""
    out = {} if out is None else out
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            out[(const.co_qualname, const.co_firstlineno)] = const
            _codes(const, out)
    return out


def _functions(module: types.ModuleType) -> list[types.FunctionType]:
    """The module's own functions a caller can reach: module level, methods (static, class,
    property), nested classes, functions kept in module-level containers, `__wrapped__`."""
    found: list[types.FunctionType] = []
    seen: set[int] = set()

    def visit(obj, depth: int) -> None:
        if id(obj) in seen or depth > 4:
            return
        seen.add(id(obj))
        if inspect.isfunction(obj):
            if obj.__module__ == module.__name__:
                found.append(obj)
            wrapped = getattr(obj, "__wrapped__", None)
            if wrapped is not None:
                visit(wrapped, depth + 1)
        elif isinstance(obj, staticmethod | classmethod):
            visit(obj.__func__, depth + 1)
        elif isinstance(obj, property):
            for part in (obj.fget, obj.fset, obj.fdel):
                if part is not None:
                    visit(part, depth + 1)
        elif inspect.isclass(obj):
            if obj.__module__ == module.__name__:
                for value in vars(obj).values():
                    visit(value, depth + 1)
        elif isinstance(obj, dict | list | tuple) and depth == 0:
            for value in (obj.values() if isinstance(obj, dict) else obj):
                visit(value, depth + 1)
        else:
            func = getattr(obj, "func", None)    # functools.cached_property, partial
            if inspect.isfunction(func):
                visit(func, depth + 1)

    for value in list(vars(module).values()):
        visit(value, 0)
    return found


def _own_lines(code: types.CodeType) -> set[int]:
    return {line for _, line in dis.findlinestarts(code) if line}


def _body_lines(source: str, code: types.CodeType) -> set[int]:
    """The lines of the function `code` was compiled from, without its signature and
    decorators (those run where it is defined; the body only when it is called)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and \
                node.name == code.co_name and min(
                    [node.lineno, *(d.lineno for d in node.decorator_list)]) \
                == code.co_firstlineno:
            return set(range(node.body[0].lineno, (node.end_lineno or node.lineno) + 1))
    return _own_lines(code)


def patch(module_name: str, source: str, line: int, ran: Set[int] = frozenset(), *,
          dry: bool = False) -> str:
    """Swap the code of the innermost function of `module_name` that holds `line` for the
    mutated one; returns its qualified name. Unpatchable when no reachable function holds
    the line, when the line is in a closure its holder made while the module was imported
    (`ran`: the lines that ran then; the closure keeps the old code), or when the mutated
    module does not line up with the loaded one."""
    module = sys.modules.get(module_name)
    if module is None or not module.__file__:
        raise Unpatchable(f"{module_name} is not loaded")
    original = Path(module.__file__).read_text()
    if len(original.splitlines()) != len(source.splitlines()):
        raise Unpatchable("the mutant moves lines")
    new_codes = _codes(compile(source, module.__file__, "exec"))
    holders = [f for f in _functions(module)
               if f.__code__.co_filename == module.__file__
               and f.__code__.co_firstlineno < line <= _last_line(f.__code__)]
    if not holders:
        raise Unpatchable(f"no function of {module_name} reachable from the module holds "
                          f"line {line}")
    func = max(holders, key=lambda f: f.__code__.co_firstlineno)   # the innermost
    old = func.__code__
    if line not in _own_lines(old) and _body_lines(original, old) & set(ran):
        raise Unpatchable(f"line {line} is in a closure {old.co_qualname} made at import")
    new = new_codes.get((old.co_qualname, old.co_firstlineno))
    if new is None or new.co_freevars != old.co_freevars:
        raise Unpatchable(f"{old.co_qualname} has no counterpart in the mutant")
    if new == old:
        raise Unpatchable(f"the mutant does not change {old.co_qualname}")
    if not dry:
        func.__code__ = new
    return old.co_qualname


def _import_time_loads(tree: ast.Module) -> set[str]:
    """Names read by code that runs at import: module level, class bodies, decorators,
    default values (not function bodies: they read a global when called)."""
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                for part in [*getattr(child, "decorator_list", []), *child.args.defaults,
                             *[d for d in child.args.kw_defaults if d is not None]]:
                    visit_node(part)
                continue
            visit_node(child)

    def visit_node(node: ast.AST) -> None:
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            names.add(node.id)
        visit(node)

    visit(tree)
    return names


def _assigned(source: str, line: int) -> tuple[ast.Module, ast.stmt, list[str]]:
    """The module's tree, the top-level `NAME = ...` holding `line`, and its names."""
    tree = ast.parse(source)
    statement = next((s for s in tree.body
                      if s.lineno <= line <= (s.end_lineno or s.lineno)), None)
    if not isinstance(statement, ast.Assign | ast.AnnAssign) or statement.value is None:
        raise Unpatchable(f"line {line} is not a module-level assignment")
    targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
    if not all(isinstance(t, ast.Name) for t in targets):
        raise Unpatchable(f"line {line} assigns more than names")
    return tree, statement, [t.id for t in targets if isinstance(t, ast.Name)]


def readers(source: str, line: int) -> set[int]:
    """The lines of the module that read the names a module-level assignment binds (inside
    functions: when called); Unpatchable when it is no such assignment."""
    tree, statement, names = _assigned(source, line)
    return {node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
            and node.id in names}


def rebind(module_name: str, source: str, line: int, *, dry: bool = False) -> list[str]:
    """A mutated module-level constant (`NAME = <expression>` at the top level): evaluate
    the mutated statement and rebind NAME where the loaded program holds the old value (the
    module, modules that imported it by name, default arguments), so every function reads
    the mutant when called. Unpatchable when anything computed at import read NAME (that
    copy could not be told apart)."""
    module = sys.modules.get(module_name)
    if module is None or not module.__file__:
        raise Unpatchable(f"{module_name} is not loaded")
    tree, statement, names = _assigned(source, line)
    rest = ast.Module(body=[s for s in tree.body if s is not statement], type_ignores=[])
    if _import_time_loads(rest) & set(names):
        raise Unpatchable(f"{names} are read at import")
    scratch = dict(vars(module))
    try:
        exec(compile(ast.Module(body=[statement], type_ignores=[]), module.__file__, "exec"),
             scratch)
    except Exception as exc:    # noqa: BLE001  (the mutant breaks the import itself)
        raise Unpatchable(f"the mutated statement raises {exc!r} at import") from exc
    changed = []
    for name in names:
        old, new = vars(module)[name], scratch[name]
        for other, key in _importers(module_name, name):
            if getattr(other, key, None) is not old:
                continue
            if key in _import_time_loads(ast.parse(Path(str(other.__file__)).read_text())):
                raise Unpatchable(f"{other.__name__} reads {key} at import")
            if other.__name__ in MUTATED:
                raise Unpatchable(f"{other.__name__} holds {key} too")
            if not dry:
                setattr(other, key, new)
        for func in _functions(module):
            if func.__defaults__ and any(d is old for d in func.__defaults__):
                raise Unpatchable(f"{func.__qualname__} holds {name} as a default")
        if not dry:
            setattr(module, name, new)
        changed.append(name)
    return changed


def _importers(module_name: str, name: str) -> list[tuple[types.ModuleType, str]]:
    """(module, local name) for each loaded project module that imported `name` from
    `module_name` by name (`from module_name import name [as local]`)."""
    found = []
    for other in list(sys.modules.values()):
        path = getattr(other, "__file__", None)
        if not path or not str(getattr(other, "__name__", "")).startswith("conformance") \
                or other.__name__ == module_name or not path.endswith(".py"):
            continue
        text = Path(path).read_text()
        if name not in text:
            continue
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.module == module_name:
                found += [(other, a.asname or a.name) for a in node.names if a.name == name]
    return found


def rebindable(m) -> bool:
    """Whether `rebind` applies this mutant (checked without applying it)."""
    try:
        rebind(f"conformance.mock.{m.module}", mutated_source(m.module, m.operator,
                                                              m.occurrence) or "",
               m.line, dry=True)
    except Unpatchable:
        return False
    return True
