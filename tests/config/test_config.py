import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from escalate.config import Config, ConfigWarning, TierConfig, config_sources, load_config
from escalate.config.schema import field_docs
from escalate.errors import ConfigError


def write(root, name, text):
    (root / name).write_text(text, encoding="utf-8")


def test_defaults_follow_the_report_ladder(tmp_path):
    config = load_config(tmp_path)
    assert [(t.name, t.model) for t in config.tiers] == [
        ("haiku", "claude-haiku-4-5"),
        ("sonnet", "claude-sonnet-4-6"),
        ("opus", "claude-opus-4-6"),
    ]
    assert config.budget.max_cost_usd == 2.0
    assert config.validate.test_command == ["python", "-m", "pytest"]
    assert config.editor.protected_paths == [
        ".github/**",
        "**/.gitattributes",
        ".gitmodules",
        ".escalate.yml",
    ]
    assert config.validate.verdict_from_base is True
    assert config.roles.planner.tier == "opus" and config.roles.planner.effort == "medium"


def test_every_field_is_documented():
    from pydantic import BaseModel

    seen, todo = set(), [Config]
    while todo:
        model = todo.pop()
        seen.add(model)
        docs = field_docs(model)
        for name, field in model.model_fields.items():
            assert docs.get(name), f"{model.__name__}.{name} has no docstring"
            for arg in (field.annotation, *getattr(field.annotation, "__args__", ())):
                if isinstance(arg, type) and issubclass(arg, BaseModel) and arg not in seen:
                    todo.append(arg)
    assert len(seen) >= 12


def test_yml_beats_pyproject_and_cli_beats_both(tmp_path):
    write(
        tmp_path,
        "pyproject.toml",
        '[tool.escalate]\nlog_dir = "logs"\n[tool.escalate.budget]\nmax_cost_usd = 1.5\n',
    )
    write(tmp_path, ".escalate.yml", "budget:\n  max_cost_usd: 0.75\n")
    with pytest.warns(ConfigWarning, match=r"\.escalate\.yml wins"):
        config = load_config(tmp_path, overrides={"session": {"max_turns": 7}})
    assert config.budget.max_cost_usd == 0.75
    assert config.log_dir == "logs"
    assert config.session.max_turns == 7
    with pytest.warns(ConfigWarning):
        config = load_config(tmp_path, overrides={"budget": {"max_cost_usd": 0.5}})
    assert config.budget.max_cost_usd == 0.5
    assert config.budget.max_thinking_tokens_per_call == 8000  # merged, not replaced


def test_sources_name_where_each_value_came_from(tmp_path):
    write(tmp_path, "pyproject.toml", "[tool.escalate.validate]\nruff = false\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # only one source file: no warning
        rows = {
            key: (value, source) for key, value, source in config_sources(tmp_path, {"start_tier": "sonnet"})
        }
    assert rows["validate.ruff"] == (False, "pyproject.toml")
    assert rows["validate.timeout_s"] == (300, "default")
    assert rows["start_tier"] == ("sonnet", "cli")
    assert rows["tiers[1].model"] == ("claude-sonnet-4-6", "default")
    assert rows["validate.test_command"] == (["python", "-m", "pytest"], "default")
    write(tmp_path, ".escalate.yml", "tiers:\n  - {name: solo, line: sonnet}\n")
    with pytest.warns(ConfigWarning):
        rows = {key: (value, source) for key, value, source in config_sources(tmp_path)}
    assert rows["tiers[0].line"] == ("sonnet", ".escalate.yml")
    assert rows["tiers[0].max_attempts"] == (2, ".escalate.yml")  # the whole list came from the file
    assert "tiers[1].model" not in rows


def test_error_reads_as_a_path_into_the_file(tmp_path):
    write(
        tmp_path,
        ".escalate.yml",
        "tiers:\n  - {name: haiku, model: claude-haiku-4-5}\n"
        "  - {name: sonnet, model: x, max_attempts: two}\n",
    )
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert str(err.value) == (
        "==> File .escalate.yml ==> At key: tiers ==> At index 1 ==> At key: max_attempts "
        "=====> expected an integer >= 1, got 'two'"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "tiers:\n  - {name: a, model: m, line: haiku}\n",
            "At index 0 =====> set exactly one of 'model' or 'line'",
        ),
        ("tiers:\n  - {name: a}\n", "At index 0 =====> set exactly one of 'model' or 'line' (got neither)"),
        (
            "tiers:\n  - {name: a, line: x}\n  - {name: a, line: y}\n",
            "At index 1 ==> At key: name =====> duplicate",
        ),
        ("start_tier: nope\n", "At key: start_tier =====> expected one of the tier names"),
        (
            "tiers:\n  - {name: a, line: x, thinking_budget: 100}\n",
            "thinking_budget =====> expected a value >= 1024",
        ),
        ("tiers:\n  - {name: a, line: x, effort: huge}\n", "effort =====> expected one of 'low'"),
        ("tiers: []\n", "At key: tiers =====> expected at least 1 item"),
        ("budget: {max_cost_usd: 0}\n", "max_cost_usd =====> expected a value > 0"),
        ("validate: {ruff: maybe}\n", "ruff =====> expected a boolean"),
        (
            "prices: {claude-x: {input: cheap}}\n",
            "At key: claude-x ==> At key: input =====> expected a number >= 0",
        ),
        ("roles: {planner: {enabled: true, tier: gone}}\n", "roles ==> At key: planner ==> At key: tier"),
        ("budget: 3\n", "At key: budget =====> expected a mapping"),
        ("- a\n- b\n", "expected a mapping at the top level"),
    ],
)
def test_invalid_values_name_the_key(tmp_path, text, expected):
    write(tmp_path, ".escalate.yml", text)
    with pytest.raises(ConfigError, match="==> File .escalate.yml") as err:
        load_config(tmp_path)
    assert expected in str(err.value)


def test_pyproject_errors_name_the_table(tmp_path):
    write(tmp_path, "pyproject.toml", "[tool.escalate.session]\nmax_turns = 0\n")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert str(err.value).startswith("==> File pyproject.toml ==> At key: tool.escalate ==> At key: session")


def test_cli_overrides_ignore_options_not_given(tmp_path):
    config = load_config(tmp_path, overrides={"budget": {"max_cost_usd": None}, "start_tier": None})
    assert config.budget.max_cost_usd == 2.0
    rows = {key: source for key, _, source in config_sources(tmp_path, {"budget": {"max_cost_usd": None}})}
    assert rows["budget.max_cost_usd"] == "default"


def test_cli_override_errors_say_so(tmp_path):
    with pytest.raises(ConfigError, match="==> From the command-line options ==> At key: budget"):
        load_config(tmp_path, overrides={"budget": {"max_cost_usd": -1}})


def test_invalid_yaml_names_file_and_line(tmp_path):
    write(tmp_path, ".escalate.yml", "budget:\n  max_cost_usd: 1\n tiers: [\n")
    with pytest.raises(ConfigError, match=r"==> File \.escalate\.yml =====> invalid YAML at line 3"):
        load_config(tmp_path)


def test_invalid_toml_names_file_and_line(tmp_path):
    write(tmp_path, "pyproject.toml", "[tool.escalate]\nlog_dir = \n")
    with pytest.raises(ConfigError, match=r"pyproject.toml =====> invalid TOML: .*line 2"):
        load_config(tmp_path)


def test_unknown_keys_warn_with_their_path(tmp_path):
    write(tmp_path, ".escalate.yml", "color_scheme: 1\ntiers:\n  - {name: a, line: x, colour: red}\n")
    with pytest.warns(ConfigWarning) as record:
        config = load_config(tmp_path)
    messages = sorted(str(w.message) for w in record)
    assert messages == [
        "Unknown key 'color_scheme' in .escalate.yml (ignored)",
        "Unknown key 'tiers[0].colour' in .escalate.yml (ignored)",
    ]
    assert config.tiers[0].name == "a"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("budgett: {max_cost_usd: 1}\n", "Unknown key 'budgett' in .escalate.yml: did you mean 'budget'?"),
        (
            "router: {learnign: false}\n",
            "Unknown key 'router.learnign' in .escalate.yml: did you mean 'router.learning'?",
        ),
        (
            "tiers:\n  - {name: a, line: haiku, max_attempt: 3}\n",
            "Unknown key 'tiers[0].max_attempt' in .escalate.yml: did you mean 'tiers[0].max_attempts'?",
        ),
    ],
)
def test_a_misspelt_key_is_an_error_that_names_the_right_one(tmp_path, text, message):
    write(tmp_path, ".escalate.yml", text)
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert str(err.value) == message


@pytest.mark.parametrize("value", [".inf", ".nan", "-.inf"])
def test_budget_inf_and_nan_are_rejected(tmp_path, value):
    write(tmp_path, ".escalate.yml", f"budget: {{max_cost_usd: {value}}}\n")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert "budget" in str(err.value) and "max_cost_usd" in str(err.value)


def test_empty_yml_and_pyproject_without_table_mean_defaults(tmp_path):
    write(tmp_path, ".escalate.yml", "")
    write(tmp_path, "pyproject.toml", "[project]\nname = 'x'\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_config(tmp_path) == Config()


def test_tier_lookup_and_assignment_is_validated():
    config = Config()
    assert config.tier("opus").model == "claude-opus-4-6"
    with pytest.raises(ConfigError, match="No tier named 'gpt'"):
        config.tier("gpt")
    with pytest.raises(ValueError):
        config.budget.max_cost_usd = -1
    assert TierConfig(name="x", line="haiku").max_attempts == 2


def test_config_show_prints_yaml_with_sources(tmp_path):
    import yaml

    from escalate.cli.config import config as config_group

    write(tmp_path, ".escalate.yml", "budget:\n  max_cost_usd: 0.5\n")
    result = CliRunner().invoke(config_group, ["show", "--repo", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "  max_cost_usd: 0.5  # .escalate.yml" in lines
    assert "  max_thinking_tokens_per_call: 8000  # default" in lines
    assert "  - name: haiku  # default" in lines
    shown = yaml.safe_load(result.output)  # still valid YAML, comments aside
    assert Config.model_validate(shown) == load_config(tmp_path)

    result = CliRunner().invoke(config_group, ["show", "--repo", str(tmp_path), "--json"])
    import json

    data = json.loads(result.output)
    assert data["config"]["budget"]["max_cost_usd"] == 0.5
    assert data["sources"]["budget.max_cost_usd"] == ".escalate.yml"


def test_config_reference_lists_every_key():
    from escalate.cli.config import config as config_group

    result = CliRunner().invoke(config_group, ["reference"])
    assert result.exit_code == 0
    for key, _, _ in config_sources(Path("/nonexistent")):
        if "[" not in key and not key.startswith("prices"):
            assert f"| `{key}` |" in result.output, key
    assert "| `budget.max_cost_usd` | `2.0` | Hard ceiling" in result.output
