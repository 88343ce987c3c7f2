"""`caviar train`: train one configuration on one dataset and print its learning curve.

The configuration is the training keys' defaults, then the keys of a YAML
file (`--config`), then each `--set key=value`. The dataset is a built-in name or a
.npz/.csv file, split into train/dev/test as a search would split it. Training
runs with BLAS limited to `--blas-threads` threads (1 by default, as in a
worker process) so that timings are reproducible and comparable.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from threadpoolctl import threadpool_limits

from caviar.errors import UsageError
from domain.datasets import BUILTIN_NAMES, DatasetError
from domain.training import KEYS, ConfigError, TrainingConfig, check_value, parse_value
from worker.datasets import Dataset, Split, load_builtin, load_file, split_dataset
from worker.nn.train import EpochReport, TrainResult, TrainStatus, train

HELP_WIDTH = 79
EPOCH_FIELDS = ("epoch", "train_loss", "dev_loss", "dev_accuracy", "learning_rate", "seconds")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `train` parser; its handler is `run`."""
    parser = subparsers.add_parser(
        "train",
        help="train one configuration on a dataset and print its learning curve",
        description=__doc__.split("\n\n")[1],
        epilog=_keys_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dataset", required=True, metavar="NAME_OR_FILE",
                        help="a built-in (" + ", ".join(BUILTIN_NAMES) + ") or a .npz/.csv file")
    parser.add_argument("--dataset-option", action="append", default=[], metavar="KEY=VALUE",
                        help="an option of a built-in dataset, e.g. noise=0.3 (repeatable)")
    parser.add_argument("--label-column", default="label", metavar="COL",
                        help="label column of a .csv file (default: label)")
    parser.add_argument("--config", type=Path, metavar="FILE.yaml",
                        help="YAML mapping of training keys to values")
    parser.add_argument("--set", action="append", default=[], dest="settings",
                        metavar="KEY=VALUE", help="set one training key (repeatable; "
                        "applied after --config)")
    parser.add_argument("--dev", type=float, default=0.15, help="dev fraction (default 0.15)")
    parser.add_argument("--test", type=float, default=0.15, help="test fraction (default 0.15)")
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the split (default 0)")
    parser.add_argument("--blas-threads", type=_positive_int, default=1, metavar="N",
                        help="BLAS threads while training (default 1, as in a worker)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per epoch, then one with the final metrics")
    parser.set_defaults(run=run)


def _keys_help() -> str:
    """The training keys, what each does, its default and rule, for the help text's epilog."""
    width = max(len(key) for key in KEYS)
    indent = " " * (width + 4)
    lines = []
    for key, spec in KEYS.items():
        lines += textwrap.wrap(spec.doc, HELP_WIDTH, initial_indent=f"  {key.ljust(width)}  ",
                               subsequent_indent=indent)
        lines.append(f"{indent}default {_show_setting(spec.default)}; {spec.rule()}")
    return ("training keys (--set KEY=VALUE or --config):\n" + "\n".join(lines)
            + "\n\nCtrl-C once stops after the current epoch and prints the final metrics.")


def run(args: argparse.Namespace) -> int:
    """Train and print; 0 when training ends normally, 1 when it diverged."""
    config = build_config(args.config, args.settings)
    dataset = load_dataset(args.dataset, args.dataset_option, args.label_column)
    try:
        split = split_dataset(dataset, args.dev, args.test, args.split_seed)
    except DatasetError as error:
        raise UsageError(str(error)) from None
    printer = JsonPrinter() if args.json else TablePrinter()
    printer.start(dataset, split, config, args.split_seed)
    with threadpool_limits(limits=args.blas_threads), _stop_on_first_interrupt() as stopping:

        def on_epoch(report: EpochReport) -> bool:
            printer.epoch(report)
            return not stopping()

        result = train(config, split.X_train, split.y_train, split.X_dev, split.y_dev,
                       on_epoch=on_epoch)
        metrics = final_metrics(result, split)
    printer.finish(metrics)
    if result.status == TrainStatus.DIVERGED:
        print(f"caviar train: {result.error}", file=sys.stderr, flush=True)
        return 1
    return 0


def build_config(path: Path | None, settings: list[str]) -> TrainingConfig:
    """Defaults, then the YAML file's keys, then each KEY=VALUE; UsageError on any bad key."""
    values: dict[str, Any] = {}
    if path is not None:
        for key, value in _read_yaml_mapping(path).items():
            # YAML 1.1 reads 1e-3 (no dot) as a string: parse strings as --set does.
            try:
                values[key] = (parse_value(str(key), value) if isinstance(value, str)
                               else check_value(str(key), value))
            except ConfigError as error:
                raise UsageError(f"--config {path}: {error}") from None
    for setting in settings:
        key, sep, text = setting.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set: expected KEY=VALUE, got {setting!r}")
        try:
            values[key.strip()] = parse_value(key.strip(), text)
        except ConfigError as error:
            raise UsageError(str(error)) from None
    try:
        return TrainingConfig.from_dict(values)
    except ConfigError as error:
        raise UsageError(str(error)) from None


def _read_yaml_mapping(path: Path) -> dict[Any, Any]:
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--config {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"--config {path}: cannot read ({error})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "syntax error"
        raise UsageError(f"--config {path}: not valid YAML ({problem}{where})") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise UsageError(f"--config {path}: must be a mapping of training keys to values, "
                         f"got {type(content).__name__}")
    return content


def load_dataset(spec: str, option_texts: list[str], label_column: str) -> Dataset:
    """A built-in by name (with KEY=VALUE options) or a .npz/.csv file; UsageError otherwise."""
    try:
        if spec in BUILTIN_NAMES:
            return load_builtin(spec, _parse_options(option_texts))
        if option_texts:
            raise UsageError("--dataset-option applies to built-in datasets only, not to "
                             f"{spec!r}")
        path = Path(spec)
        if path.suffix.lower() in (".npz", ".csv") or path.exists():
            return load_file(path, label_column=label_column)
    except DatasetError as error:
        raise UsageError(str(error)) from None
    raise UsageError(f"--dataset {spec!r}: neither a built-in (" + ", ".join(BUILTIN_NAMES)
                     + ") nor a .npz or .csv file")


def _parse_options(texts: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for text in texts:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--dataset-option: expected KEY=VALUE, got {text!r}")
        try:
            options[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            options[key.strip()] = value
    return options


def final_metrics(result: TrainResult, split: Split) -> dict[str, Any]:
    """The engine's final metrics, the status, and the test split's loss and accuracy."""
    metrics: dict[str, Any] = {"status": result.status, **result.metrics()}
    if result.status != TrainStatus.DIVERGED and len(split.y_test):
        test_loss, test_accuracy = result.model.evaluate(split.X_test, split.y_test)
        metrics["test_loss"] = float(test_loss)
        metrics["test_accuracy"] = float(test_accuracy)
    if result.error:
        metrics["error"] = result.error
    return metrics


@contextmanager
def _stop_on_first_interrupt() -> Iterator[Any]:
    """Inside, the first Ctrl-C asks to stop after the current epoch; a second one aborts."""
    requested = False

    def handler(signum: int, frame: Any) -> None:
        nonlocal requested
        if requested:
            raise KeyboardInterrupt
        requested = True
        print("caviar train: stopping after this epoch (Ctrl-C again to abort)",
              file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: requested
    finally:
        signal.signal(signal.SIGINT, previous)


class TablePrinter:
    """A header, one aligned row per epoch as it ends, then the final metrics."""

    WIDTHS = (5, 10, 10, 8, 13, 8)
    TITLES = ("epoch", "train_loss", "dev_loss", "dev_acc", "learning_rate", "seconds")

    def start(self, dataset: Dataset, split: Split, config: TrainingConfig, seed: int) -> None:
        """What is trained on what, then the column titles."""
        changed = [f"{key}={_show_setting(value)}"
                   for key, value in config.to_dict().items() if value != KEYS[key].default]
        sizes = [dataset.n_features, *config.hidden_sizes(), dataset.n_classes]
        _say(f"dataset  {dataset.describe()}")
        _say(f"split    {len(split.y_train)} train / {len(split.y_dev)} dev / "
             f"{len(split.y_test)} test (seed {seed})")
        _say(f"network  {'-'.join(map(str, sizes))}, {config.activation}"
             f"{', batch norm' if config.batch_norm else ''}; {config.optimizer}, "
             f"learning rate {config.learning_rate:g}, batch {config.batch_size}, "
             f"{config.epochs} epochs")
        _say("config   " + (" ".join(changed) if changed else "defaults") + "\n")
        _say("  ".join(title.rjust(width) for title, width in zip(self.TITLES, self.WIDTHS,
                                                                  strict=True)))

    def epoch(self, report: EpochReport) -> None:
        """One aligned row, flushed at once."""
        cells = (
            f"{report.epoch:d}", f"{report.train_loss:.4f}", f"{report.dev_loss:.4f}",
            f"{report.dev_accuracy:.4f}", f"{report.learning_rate:.3e}", f"{report.seconds:.3f}",
        )
        _say("  ".join(cell.rjust(width) for cell, width in zip(cells, self.WIDTHS,
                                                                strict=True)))

    def finish(self, metrics: dict[str, Any]) -> None:
        """The metrics as aligned `name  value` lines; a divergence is reported on stderr."""
        _say("")
        shown = {key: value for key, value in metrics.items() if key != "error"}
        width = max(len(key) for key in shown)
        for key, value in shown.items():
            _say(f"{key.ljust(width)}  {_show(value)}")


class JsonPrinter:
    """One JSON object per epoch (the fields of an epoch report), then the final metrics."""

    def start(self, dataset: Dataset, split: Split, config: TrainingConfig, seed: int) -> None:
        """JSON output is only the epochs and the result: nothing to print first."""

    def epoch(self, report: EpochReport) -> None:
        _say(json.dumps({field: _finite(getattr(report, field)) for field in EPOCH_FIELDS}))

    def finish(self, metrics: dict[str, Any]) -> None:
        _say(json.dumps({key: _finite(value) for key, value in metrics.items()}))


def _say(line: str) -> None:
    print(line, flush=True)


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: those become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _show_setting(value: Any) -> str:
    """A training key's value as one would type it in --set."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def _show(value: Any) -> str:
    """A setting or metric as text: booleans as in YAML, large numbers without decimals."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4f}"
    return str(value)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {value}")
    return value
