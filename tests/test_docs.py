"""The README documents every flag, option, artifact and preset that exists, and `--help` reads cleanly.

Each check looks at the first column of the table in the README section that owns the thing (the
`gan-tf train` table for train flags, each command's own table for its options, "What a run writes"
for artifacts): a flag documented only under another command (`--seed`, `--n`, `--out` are shared) or
only mentioned in another row's description does not count. Runs in-process on the parser and the
README text (no subprocess, no model built): about a second.
"""

import argparse
import dataclasses
import os
import re

import pytest
from conftest import REPO

from gan_tf import runs
from gan_tf.cli import build_parser
from gan_tf.config import PRESET_NAMES, TrainConfig


def _readme():
    with open(os.path.join(REPO, "README.md")) as file:
        return file.read()


def section(text, heading):
    """The body of the Markdown section titled `heading` (e.g. "### `gan-tf sample`"), up to the next
    heading of the same or a higher level; lines inside ``` fences are never headings."""
    level = len(heading) - len(heading.lstrip("#"))
    lines, body, inside, fenced = text.splitlines(), [], False, False
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        is_heading = not fenced and re.match(r"#{1,6} ", line)
        if inside and is_heading and len(line) - len(line.lstrip("#")) <= level:
            break
        if inside:
            body.append(line)
        elif is_heading and line.strip() == heading:
            inside = True
    assert inside, f"README.md has no section {heading!r}"
    return "\n".join(body)


def table_after(text, header):
    """The Markdown table in `text` whose header row starts with `header`, header included."""
    lines = text.splitlines()
    start = next((index for index, line in enumerate(lines) if line.startswith(header)), None)
    assert start is not None, f"README.md has no table headed {header!r}"
    end = next((index for index in range(start, len(lines)) if not lines[index].startswith("|")), len(lines))
    return "\n".join(lines[start:end])


def first_column(text):
    """The first cells of the Markdown table rows in `text`, one per line."""
    rows = [line.split("|")[1] for line in text.splitlines() if line.startswith("|")]
    return "\n".join(cell for cell in rows if not set(cell.strip()) <= {"-"})


def mentions(text, option):
    """`option` as a whole word: `--n` is not found inside `--noise-baseline`, nor `--seed` in `--seeds`."""
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


def _subcommands(parser):
    actions = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    assert len(actions) == 1, actions
    return actions[0].choices


def _option_strings(parser):
    return [option for action in parser._actions for option in action.option_strings
            if option not in ("-h", "--help")]


def _help_entries(parser):
    """{first option string: its whole help entry, whitespace collapsed} from `parser.format_help()`."""
    entries, current = {}, None
    options = parser.format_help().split("\noptions:\n", 1)[1]
    for line in options.splitlines():
        match = re.match(r"  (-\S+?)[,\s]", line + " ")
        if match:
            current = match.group(1)
            entries[current] = line
        elif current:
            entries[current] += " " + line
    return {option: " ".join(entry.split()) for option, entry in entries.items()}


def test_every_train_flag_is_in_the_train_section():
    train_section = first_column(section(_readme(), "### `gan-tf train`"))
    flags = [f"--{item.name.replace('_', '-')}" for item in dataclasses.fields(TrainConfig)]
    missing = [flag for flag in flags if not mentions(train_section, flag)]
    assert not missing, f"README's `gan-tf train` table lacks {missing}"


@pytest.mark.parametrize("command", sorted(_subcommands(build_parser())))
def test_every_option_of_every_command_is_in_its_section(command):
    """Train included: its `--no-...` forms must be there too."""
    parser = _subcommands(build_parser())[command]
    command_section = first_column(section(_readme(), f"### `gan-tf {command}`"))
    missing = [option for option in _option_strings(parser) if not mentions(command_section, option)]
    assert not missing, f"README's `gan-tf {command}` section lacks {missing}"


def test_every_run_artifact_is_in_what_a_run_writes():
    artifacts = first_column(section(_readme(), "## What a run writes"))
    names = {name: value for name, value in vars(runs).items()
             if name.endswith(("_FILE", "_DIR")) and isinstance(value, str)}
    assert {"CONFIG_FILE", "HISTORY_FILE", "GENERATOR_FILE", "BEST_GENERATOR_FILE", "DISCRIMINATOR_FILE",
            "GIF_FILE", "LOSS_PLOT_FILE", "SAMPLES_DIR", "CHECKPOINT_DIR"} <= set(names), names
    # A file is named in backticks; a folder by the files in it (`samples/epoch_NNNN.png`).
    missing = {name: value for name, value in names.items()
               if not re.search(rf"`{re.escape(value)}{'/' if name.endswith('_DIR') else '`'}", artifacts)}
    assert not missing, f"README's 'What a run writes' lacks {missing}"


@pytest.mark.parametrize("command", sorted(_subcommands(build_parser())))
def test_help_shows_each_default_at_most_once_and_never_none(command):
    entries = _help_entries(_subcommands(build_parser())[command])
    assert entries, f"no options parsed from `gan-tf {command} --help`"
    twice = [option for option, entry in entries.items() if entry.count("(default:") > 1]
    none = [option for option, entry in entries.items() if "(default: None)" in entry]
    assert not twice, f"`gan-tf {command} --help` shows '(default:' twice for {twice}"
    assert not none, f"`gan-tf {command} --help` shows '(default: None)' for {none}"


def test_help_entries_cover_every_train_flag():
    """The parser of `_help_entries` must see every flag, or the test above checks nothing."""
    entries = _help_entries(_subcommands(build_parser())["train"])
    assert len(entries) == len(dataclasses.fields(TrainConfig)) + 1  # + --help


def test_every_preset_has_a_row_in_gan_variants():
    presets = first_column(table_after(section(_readme(), "## GAN variants"), "| `--preset` |"))
    missing = [name for name in PRESET_NAMES if f"`{name}`" not in presets.split()]
    assert not missing, f"README's `--preset` table lacks {missing}"


def test_tests_named_in_the_readme_exist():
    """A README sentence such as `tests/test_quality.py::test_x` must name a real test."""
    for path, name in set(re.findall(r"(tests/test_\w+\.py)::(\w+)", _readme())):
        with open(os.path.join(REPO, path)) as file:
            source = file.read()
        assert re.search(rf"^def {name}\(", source, re.MULTILINE), f"README names {path}::{name}: no such test"
