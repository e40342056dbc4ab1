"""The house's rules, checked on the source: no import cycle (lazy imports included; imports only for
type checking aside), `anthropic` imported only under llm/, and packages import only packages below
them in the flow (docs/architecture.md)."""

import ast
from pathlib import Path

import escalate

SRC = Path(escalate.__file__).parent
# Lower layers never import higher ones: a package may import only the packages listed after it.
LAYERS = [
    {"cli"},
    {"batch"},  # the nightly job opens its pull requests through github/
    {"github"},
    {"ladder"},
    {"roles"},
    {"routing"},
    {"agent", "records"},
    {"validation", "llm"},
    {"workspace", "config", "task"},
    {"untrusted"},
    {"errors"},
]
FAKES = {"sim", "ghsim", "data"}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "escalate"


def _imports(path: Path) -> list[str]:
    """Every escalate/anthropic module imported anywhere in the file, except under TYPE_CHECKING."""
    found = []

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.ImportFrom) and child.module:
                found.append(child.module)
                found.extend(f"{child.module}.{a.name}" for a in child.names)
            elif isinstance(child, ast.Import):
                found.extend(a.name for a in child.names)
            walk(child)

    walk(ast.parse(path.read_text(encoding="utf-8")))
    return found


def _modules() -> dict[str, Path]:
    out = {}
    for path in SRC.rglob("*.py"):
        parts = ("escalate", *path.relative_to(SRC).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def test_no_module_imports_another_in_a_cycle():
    modules = _modules()
    graph = {m: {i for i in _imports(p) if i in modules and i != m} for m, p in modules.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for dep in graph[m]:
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep) :] + [dep])
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_anthropic_is_imported_only_under_llm():
    users = {
        str(p.relative_to(SRC))
        for p in _modules().values()
        if any(i == "anthropic" or i.startswith("anthropic.") for i in _imports(p))
    }
    assert users and all(u.startswith("llm/") for u in users), users


def test_packages_import_only_packages_below_them():
    rank = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}
    wrong = []
    for name, path in _modules().items():
        pkg = _package(name)
        if pkg in FAKES or pkg not in rank:
            continue
        for dep in {_package(i) for i in _imports(path) if i.startswith("escalate.")}:
            if dep in FAKES and pkg not in {"cli"}:
                wrong.append(f"{name} imports the fake {dep}")
            elif dep in rank and dep != pkg and rank[dep] <= rank[pkg]:
                wrong.append(f"{name} ({pkg}) imports {dep}")
    assert wrong == []


def _all_imports(path: Path) -> set[str]:
    """Every module imported anywhere in the file, type-checking imports included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_no_cli_command_imports_another_command():
    """What two commands share lives in cli/common.py or the library package that owns it."""
    from escalate.cli.main import COMMANDS

    commands = {module for module, _, _ in COMMANDS.values()}
    assert commands and all(m in _modules() for m in commands), commands
    wrong = [
        f"{name} imports {dep}"
        for name, path in _modules().items()
        if name.startswith("escalate.cli.") and name != "escalate.cli.main"
        for dep in sorted(_all_imports(path) & commands)
        if dep != name
    ]
    assert wrong == []


def test_only_llm_names_a_model_provider():
    """Outside llm/ a provider is asked for through llm.providers (default_provider, request_params,
    preload), so a second provider is one module beside llm/providers/anthropic.py. The simulated
    Anthropic API (sim/) is the one exception: it fakes that provider's wire format."""
    wrong = [
        f"{name} imports {dep}"
        for name, path in _modules().items()
        if _package(name) not in {"llm", "sim"}
        for dep in sorted(_all_imports(path))
        if dep.startswith("escalate.llm.providers.")
        and dep.split(".")[3] not in {"default_provider", "request_params", "preload"}
    ]
    assert wrong == []


def test_tasks_are_made_only_by_the_task_constructors():
    """Every task source is a ``Task.from_...`` in task.py; elsewhere a Task is only read back from
    its own record (``Task(**record)``)."""
    wrong = []
    for name, path in _modules().items():
        if name == "escalate.task":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "Task"
                and not (len(node.args) == 0 and [k.arg for k in node.keywords] == [None])
            ):
                wrong.append(f"{name}:{node.lineno}")
    assert wrong == []
