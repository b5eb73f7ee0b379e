"""The mutants: Cosmic Ray's operators over the mock's request handling, in memory.

`enumerate_mutants` lists every mutant of OPERATORS over MODULES in a stable order (none in
docstrings or annotations: they change no code that runs); `mutated_source` is one
mutant's whole module text. Nothing here touches the files on disk.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
MOCK = ROOT / "conformance" / "mock"
#: The mock's request handling (not app.py's routing and admin API, not the faults).
MODULES = ("store", "shaping", "validation", "simulation", "errors")
#: Cosmic Ray's core operators, one replacement per kind of site (selective mutation: the
#: full cross product of operator replacements multiplies the count by ten for little
#: more information). NumberReplacer yields +1 then -1 at each number; both are kept.
OPERATORS = (
    "ReplaceComparisonOperator_Eq_NotEq", "ReplaceComparisonOperator_NotEq_Eq",
    "ReplaceComparisonOperator_Lt_LtE", "ReplaceComparisonOperator_LtE_Lt",
    "ReplaceComparisonOperator_Gt_GtE", "ReplaceComparisonOperator_GtE_Gt",
    "ReplaceComparisonOperator_Is_IsNot", "ReplaceComparisonOperator_IsNot_Is",
    "ReplaceBinaryOperator_Add_Sub", "ReplaceBinaryOperator_Sub_Add",
    "ReplaceBinaryOperator_Mul_Div", "ReplaceBinaryOperator_Div_Mul",
    "ReplaceBinaryOperator_FloorDiv_Mul", "ReplaceBinaryOperator_Mod_Mul",
    "ReplaceBinaryOperator_Pow_Mul",
    "ReplaceAndWithOr", "ReplaceOrWithAnd", "ReplaceTrueWithFalse", "ReplaceFalseWithTrue",
    "ReplaceUnaryOperator_Delete_Not", "ReplaceUnaryOperator_USub_UAdd", "AddNot",
    "NumberReplacer", "ZeroIterationForLoop", "ReplaceBreakWithContinue",
    "ReplaceContinueWithBreak", "ExceptionReplacer",
)


@dataclass
class Mutant:
    module: str
    operator: str
    occurrence: int
    line: int
    before: str
    after: str
    in_function: bool
    scope: str = ""             # the enclosing class / function, "" at module level

    @property
    def id(self) -> str:
        return f"{self.module}:{self.operator}:{self.occurrence}"

    @property
    def key(self) -> str:
        """What the triage file names: stable while the line, its function and its
        mutation stay (line numbers are not: any edit above moves them)."""
        where = f"{self.module}.{self.scope}" if self.scope else self.module
        return f"{where}: {self.before.strip()} => {self.after.strip()}"


def _operator(name: str):
    from cosmic_ray.plugins import get_operator  # lazy: a test extra

    return get_operator(f"core/{name}")()


def _function_lines(source: str) -> set[int]:
    """Lines inside a function body (run when called, not at import)."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0]
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str) and len(node.body) > 1):
                first = node.body[1]
            lines.update(range(first.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def scopes_of(source: str) -> dict[int, str]:
    """Line -> qualified name of the innermost class or function around it."""
    out: dict[int, str] = {}

    def walk(node, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}.{child.name}" if prefix else child.name
                for line in range(child.lineno, (child.end_lineno or child.lineno) + 1):
                    out[line] = name
                walk(child, name)
            else:
                walk(child, prefix)
    walk(ast.parse(source), "")
    return out


def _annotation_lines(source: str) -> set[tuple[int, int]]:
    """(line, col) spans of annotations: lazy strings here (`from __future__ import
    annotations`), so a mutant there changes nothing any code runs."""
    spans: set[tuple[int, int]] = set()

    def add(node):
        if node is not None:
            for sub in ast.walk(node):
                if hasattr(sub, "lineno"):
                    spans.add((sub.lineno, sub.col_offset))
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.arg):
            add(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            add(node.returns)
        elif isinstance(node, ast.AnnAssign):
            add(node.annotation)
    return spans


def _positions(source: str, operator) -> list[tuple[int, int]]:
    from cosmic_ray.ast import Visitor, get_ast  # lazy: a test extra

    found: list[tuple[int, int]] = []

    class Count(Visitor):
        def visit(self, node):
            for _ in operator.mutation_positions(node):
                found.append(node.start_pos)
            return node
    Count().walk(get_ast(source))
    return found


def mutated_source(module: str, operator: str, occurrence: int) -> str | None:
    from cosmic_ray.mutating import mutate_code  # lazy: a test extra

    source = (MOCK / f"{module}.py").read_text()
    return mutate_code(source, _operator(operator), occurrence)


def _changed_line(original: str, mutated: str) -> tuple[int, str, str]:
    a, b = original.splitlines(), mutated.splitlines()
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index + 1, x, y
    return min(len(a), len(b)), "", ""


def enumerate_mutants(modules=MODULES, operators=OPERATORS) -> list[Mutant]:
    """Every mutant of the operators over the modules, in a stable order. Mutants inside
    docstrings or annotations are left out (they change no code that runs)."""
    from cosmic_ray.mutating import mutate_code  # lazy: a test extra

    out: list[Mutant] = []
    for module in modules:
        source = (MOCK / f"{module}.py").read_text()
        inside = _function_lines(source)
        scopes = scopes_of(source)
        annotations = _annotation_lines(source)
        for name in operators:
            operator = _operator(name)
            for occurrence, (line, col) in enumerate(_positions(source, operator)):
                if (line, col) in annotations:
                    continue
                try:
                    mutated = mutate_code(source, operator, occurrence)
                except AttributeError:      # ExceptionReplacer on `except (A, B)`
                    continue
                if mutated is None or mutated == source:
                    continue
                try:
                    compile(mutated, module, "exec")
                except SyntaxError:
                    continue
                changed, before, after = _changed_line(source, mutated)
                out.append(Mutant(module, name, occurrence, changed, before, after,
                                  changed in inside, scopes.get(changed, "")))
    return out


