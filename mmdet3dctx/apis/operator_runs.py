"""Train and test one detector per 3D-context operator, slice count and seed: the runs behind
``tools/compare_operators.py``.

Each run is ``python -m mmdet3dctx.apis.cli train CONFIG --work-dir RUN_DIR --cfg-options randomness.seed=S ...``
followed by ``python -m mmdet3dctx.apis.cli test CONFIG <last checkpoint> --work-dir RUN_DIR/test ...`` (same
options), each in its own process (:func:`~mmdet3dctx.apis.run_train`, :func:`~mmdet3dctx.apis.run_test`), so its
test FROC report is ``RUN_DIR/test/froc.json`` (``RUN_DIR/froc.json`` is the last validation's, when the config
validates). ``RUN_DIR`` is ``<work_dir>/<operator>_<n>slice/seed<S>``. The commands name the installed package,
not files of a checkout: the printed ones (``--dry-run``) and the Slurm jobs run wherever the package is installed.

The comparison is resumable and never writes over work it did not make: the work dir holds a manifest
(``compare_operators.json``) and every run folder a ``run.json`` with its config and options. A run whose test
report exists is skipped; a run with a checkpoint but no finished training resumes (``--resume``); a folder made
with other settings, or a non-empty work dir without the manifest, stops the tool with an error naming it.
"""
import json
import os
import os.path as osp
import shlex
import subprocess
import sys
from typing import Callable, Dict, List, Optional, Sequence

from mmdet3dctx.evaluation.operator_comparison import OPERATORS
from .cli import command_argv
from .train import last_checkpoint

MANIFEST = 'compare_operators.json'
RUN_FILE = 'run.json'
TRAIN_DONE = 'train_done.json'
#: The demo model all demo runs derive from (7 slices, synthetic tree made on first use by the training).
DEMO_CONFIG = 'configs/demo/a3d_7slice_synthetic.py'


class ComparisonError(Exception):
    """A user-facing problem with the work dir, a config or a run (the message says which and what to do)."""


def _write_json(path: str, data: dict) -> None:
    """Write JSON whole or not at all (temporary file, then rename)."""
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def demo_options(operator: str, num_slices: int) -> List[str]:
    """``--cfg-options`` turning the A3D demo (:data:`DEMO_CONFIG`) into the demo of another operator and
    slice count, as a user would type them.

    The backbone's operator is replaced (``_delete_``) and the config's ``num_slices`` set (its references
    carry it to the backbone, the D x 1 x 1 reduction and both loaders); AlignShift takes the adjacent slices of
    each series (``input_slice_interval=None``, no resampling) so its thickness adaptation acts, as in
    ``configs/deeplesion/alignshift_7slice.py``.

    Args:
        operator (str): A key of :data:`~mmdet3dctx.evaluation.operator_comparison.OPERATORS`.
        num_slices (int): Slices per input (odd).

    Returns:
        list[str]: ``key=value`` strings.

    Example:
        >>> demo_options('alignshift', 3)
        ['model.backbone.context_conv._delete_=True', 'model.backbone.context_conv.type=AlignShiftConv', \
'num_slices=3', 'input_slice_interval=None']
    """
    if operator not in OPERATORS:
        raise ComparisonError(f'unknown operator {operator!r}; choose from {", ".join(OPERATORS)}')
    opts = ['model.backbone.context_conv._delete_=True', f'model.backbone.context_conv.type={OPERATORS[operator][1]}',
            f'num_slices={num_slices}']
    if operator == 'alignshift':
        opts.append('input_slice_interval=None')
    return opts


class Run:
    """One training and test of one operator at one slice count and seed.

    Args:
        operator (str): Operator short name (``'a3d'``).
        num_slices (int): Slices per input.
        seed (int): ``randomness.seed``.
        config (str): Config file.
        cfg_options (list[str]): ``key=value`` options for both commands (seed included).
        work_dir (str): The run's folder.
    """

    def __init__(self, operator: str, num_slices: int, seed: int, config: str, cfg_options: List[str],
                 work_dir: str) -> None:
        self.operator, self.num_slices, self.seed = operator, int(num_slices), int(seed)
        self.config, self.cfg_options, self.work_dir = config, list(cfg_options), work_dir

    @property
    def key(self):
        """``(operator, num_slices, seed)``."""
        return self.operator, self.num_slices, self.seed

    @property
    def name(self) -> str:
        return f'{self.operator}_{self.num_slices}slice/seed{self.seed}'

    @property
    def test_dir(self) -> str:
        return osp.join(self.work_dir, 'test')

    @property
    def froc_json(self) -> str:
        """The test report."""
        return osp.join(self.test_dir, 'froc.json')

    def settings(self) -> dict:
        return dict(operator=self.operator, num_slices=self.num_slices, seed=self.seed, config=self.config,
                    cfg_options=self.cfg_options)

    def state(self) -> str:
        """``'done'`` (test report written), ``'trained'``, ``'partial'`` (a checkpoint, training unfinished)
        or ``'new'``."""
        if osp.isfile(self.froc_json):
            return 'done'
        if osp.isfile(osp.join(self.work_dir, TRAIN_DONE)):
            return 'trained'
        if osp.isfile(osp.join(self.work_dir, 'last_checkpoint')):
            return 'partial'
        return 'new'

    def checkpoint(self) -> str:
        """The last checkpoint of the training (MMEngine's ``last_checkpoint`` file)."""
        try:
            return last_checkpoint(self.work_dir)
        except FileNotFoundError as e:
            raise ComparisonError(str(e)) from None

    def options_argv(self) -> List[str]:
        return ['--cfg-options'] + self.cfg_options if self.cfg_options else []

    def train_argv(self, python: str = sys.executable, resume: bool = False, launcher: Optional[str] = None
                   ) -> List[str]:
        """The training command: ``python -m mmdet3dctx.apis.cli train ...`` (``launcher``: ``--launcher``)."""
        return command_argv('train', [self.config, '--work-dir', self.work_dir]
                            + ([f'--launcher={launcher}'] if launcher else []) + (['--resume'] if resume else [])
                            + self.options_argv(), python)

    def test_argv(self, checkpoint: str, python: str = sys.executable) -> List[str]:
        """The test command of ``checkpoint``: ``python -m mmdet3dctx.apis.cli test ...``."""
        return command_argv('test', [self.config, checkpoint, '--work-dir', self.test_dir] + self.options_argv(),
                            python)


def plan_runs(operators: Sequence[str], slices: Sequence[int], seeds: Sequence[int], work_dir: str,
              demo: bool = False, data_root: Optional[str] = None, cfg_options: Sequence[str] = (),
              config_dir: str = 'configs/deeplesion', demo_config: str = DEMO_CONFIG) -> List[Run]:
    """The runs of a comparison, in the order they are run (slice count, operator, seed).

    Args:
        operators (Sequence[str]): Operator short names (keys of ``OPERATORS``).
        slices (Sequence[int]): Slice counts.
        seeds (Sequence[int]): Seeds.
        work_dir (str): The comparison's folder.
        demo (bool): Use the demo model (:func:`demo_options`) instead of ``<config_dir>/<op>_<n>slice.py``.
            Defaults to False.
        data_root (str, optional): Passed as ``data_root=...``. Defaults to None (the config's).
        cfg_options (Sequence[str]): Further ``key=value`` options for every run. Defaults to ().
        config_dir (str): Folder of the DeepLesion configs. Defaults to ``'configs/deeplesion'``.
        demo_config (str): The demo config. Defaults to :data:`DEMO_CONFIG`.

    Returns:
        list[Run]

    Raises:
        ComparisonError: For an unknown operator or a missing config.
    """
    unknown = [op for op in operators if op not in OPERATORS]
    if unknown:
        raise ComparisonError(f'unknown operator(s) {unknown}; choose from {", ".join(OPERATORS)}')
    runs = []
    for n in slices:
        for op in operators:
            if demo:
                config, opts = demo_config, demo_options(op, n)
            else:
                config, opts = osp.join(config_dir, f'{op}_{n}slice.py'), []
            if not osp.isfile(config):
                raise ComparisonError(f'{config} not found (operator {op}, {n} slices)')
            if data_root:
                opts = opts + [f'data_root={data_root}']
            for seed in seeds:
                run_dir = osp.join(work_dir, f'{op}_{n}slice', f'seed{seed}')
                runs.append(Run(op, n, seed, config, opts + list(cfg_options) + [f'randomness.seed={seed}'],
                                run_dir))
    return runs


def prepare_work_dir(work_dir: str, runs: Sequence[Run], record: bool = True) -> None:
    """Check that the work dir and the run folders are the comparison's own, made with these settings, then
    record the settings (the manifest and each run's ``run.json``).

    Args:
        work_dir (str): The comparison's folder.
        runs (Sequence[Run]): The planned runs.
        record (bool): Write the manifest and the missing ``run.json`` files (False: only check). Defaults to
            True.

    Raises:
        ComparisonError: If ``work_dir`` is a non-empty folder without the manifest, or a run folder holds a
            run made with other settings, or files without ``run.json``.
    """
    manifest = osp.join(work_dir, MANIFEST)
    if osp.isdir(work_dir) and os.listdir(work_dir) and not osp.isfile(manifest):
        raise ComparisonError(f'{work_dir} exists and holds files not made by tools/compare_operators.py (no '
                              f'{MANIFEST}); choose another --work-dir')
    for run in runs:
        path = osp.join(run.work_dir, RUN_FILE)
        if osp.isfile(path):
            with open(path) as f:
                old = json.load(f)
            new = run.settings()
            # the same config file, whether named from the repository root or from elsewhere
            same_config = osp.realpath(str(old.get('config'))) == osp.realpath(new['config'])
            diff = sorted(k for k in set(old) | set(new)
                          if old.get(k) != new.get(k) and not (k == 'config' and same_config))
            if diff:
                raise ComparisonError(f'{run.work_dir} holds a run made with other settings ({", ".join(diff)} '
                                      f'differ: {path}); use another --work-dir, or delete that folder to '
                                      'run it again')
        elif osp.isdir(run.work_dir) and os.listdir(run.work_dir):
            raise ComparisonError(f'{run.work_dir} holds files but no {RUN_FILE}; refusing to write into it')
    if not record:
        return
    os.makedirs(work_dir, exist_ok=True)
    recorded = {}
    if osp.isfile(manifest):
        with open(manifest) as f:
            recorded = json.load(f).get('runs', {})
    for run in runs:
        os.makedirs(run.work_dir, exist_ok=True)
        if not osp.isfile(osp.join(run.work_dir, RUN_FILE)):
            _write_json(osp.join(run.work_dir, RUN_FILE), run.settings())
        recorded[run.name] = run.settings()
    _write_json(manifest, dict(tool='tools/compare_operators.py', runs=recorded))


def run_logged(argv: List[str], log_file: str) -> int:
    """Run a command with its output appended to ``log_file``; returns its exit status."""
    with open(log_file, 'a') as f:
        f.write('$ ' + ' '.join(shlex.quote(a) for a in argv) + '\n')
        f.flush()
        return subprocess.call(argv, stdout=f, stderr=subprocess.STDOUT)


def _tail(path: str, lines: int = 15) -> str:
    if not osp.isfile(path):
        return ''
    with open(path, errors='replace') as f:
        return ''.join(f.readlines()[-lines:])


def execute(runs: Sequence[Run], python: str = sys.executable, call: Callable[[List[str], str], int] = run_logged,
            log: Callable[[str], None] = print) -> List[Run]:
    """Train and test the runs one after the other, each training and each test in a child process, skipping what
    is complete.

    The output of each command goes to ``RUN_DIR/train.log`` and ``RUN_DIR/test.log``; a failure prints the end of
    the log and the comparison goes on with the next run.

    Args:
        runs (Sequence[Run]): From :func:`plan_runs` (after :func:`prepare_work_dir`).
        python (str): Interpreter of the child processes. Defaults to this one.
        call (callable): ``call(argv, log_file)`` runs a command and returns its exit status. Defaults to
            :func:`run_logged`.
        log (callable): Progress messages. Defaults to ``print``.

    Returns:
        list[Run]: The runs that failed (their commands exited non-zero); the others are done.
    """
    failed = []
    for i, run in enumerate(runs, 1):
        state = run.state()
        if state == 'done':
            log(f'[{i}/{len(runs)}] {run.name}: done ({run.froc_json})')
            continue
        if state in ('new', 'partial'):
            argv = run.train_argv(python, resume=state == 'partial')
            log_file = osp.join(run.work_dir, 'train.log')
            log(f'[{i}/{len(runs)}] {run.name}: {"resuming" if state == "partial" else "training"} (output in '
                f'{log_file}): ' + ' '.join(shlex.quote(a) for a in argv))
            if call(argv, log_file) != 0:
                log(f'[{i}/{len(runs)}] {run.name}: training FAILED; the end of {log_file}:\n{_tail(log_file)}')
                failed.append(run)
                continue
            _write_json(osp.join(run.work_dir, TRAIN_DONE), dict(checkpoint=run.checkpoint()))
        argv = run.test_argv(run.checkpoint(), python)
        log_file = osp.join(run.work_dir, 'test.log')
        log(f'[{i}/{len(runs)}] {run.name}: testing (output in {log_file}): '
            + ' '.join(shlex.quote(a) for a in argv))
        if call(argv, log_file) != 0 or not osp.isfile(run.froc_json):
            log(f'[{i}/{len(runs)}] {run.name}: test FAILED; the end of {log_file}:\n{_tail(log_file)}')
            failed.append(run)
    return failed


def _shell(argv: Sequence[str], run: Run) -> str:
    """``argv`` as a shell command; ``@CKPT@`` becomes the checkpoint the run's ``last_checkpoint`` file names when
    the line runs."""
    ckpt = f'"$(cat {shlex.quote(osp.join(run.work_dir, "last_checkpoint"))})"'
    return ' '.join(ckpt if a == '@CKPT@' else shlex.quote(a) for a in argv)


def commands(runs: Sequence[Run], python: str = 'python') -> List[str]:
    """Shell lines that train then test each unfinished run on this machine (what :func:`execute` runs)."""
    return [f'{_shell(run.train_argv(python, resume=True), run)} && {_shell(run.test_argv("@CKPT@", python), run)}'
            for run in runs if run.state() != 'done']


def slurm_script(runs: Sequence[Run], partition: str, gpus: int = 4, gpus_per_node: Optional[int] = None,
                 python: str = 'python') -> str:
    """A shell script with one line per unfinished run: the training on ``gpus`` GPUs through ``srun`` (``--resume``:
    a re-submitted line continues from the last checkpoint), then the test of its last checkpoint on one GPU.

    Args:
        runs (Sequence[Run]): The runs.
        partition (str): Slurm partition.
        gpus (int): GPUs per training. Defaults to 4 (the A3D recipe's 4 x 2 images).
        gpus_per_node (int, optional): Defaults to ``min(gpus, 8)``.
        python (str): Interpreter on the cluster, with mmdet3dctx installed. Defaults to ``'python'``.

    Returns:
        str: The script (run it from the folder the configs and the work dir are named from; lines are independent
        and may run in parallel).
    """
    gpn = gpus_per_node or min(gpus, 8)
    lines = ['#!/usr/bin/env bash',
             '# Written by tools/compare_operators.py: one line per run (train, then test its last checkpoint).',
             '# Run from the folder the paths are relative to; the lines are independent (e.g. one per terminal or',
             '# job step). CPUS_PER_TASK (default 5) and SRUN_ARGS reach every srun. Afterwards, the same',
             '# tools/compare_operators.py command with --collect instead of --launcher prints the tables.',
             'set -e']
    for run in runs:
        if run.state() == 'done':
            continue
        job = f'cmp_{run.operator}_{run.num_slices}s_{run.seed}'
        srun = f'srun -p {shlex.quote(partition)} --job-name={job}'
        train, test = run.train_argv(python, resume=True, launcher='slurm'), run.test_argv('@CKPT@', python)
        train.insert(1, '-u')  # unbuffered: the job's log follows the run
        test.insert(1, '-u')
        lines.append(f'{srun} --gres=gpu:{gpn} --ntasks={gpus} --ntasks-per-node={gpn} '
                     '--cpus-per-task="${CPUS_PER_TASK:-5}" --kill-on-bad-exit=1 ${SRUN_ARGS:-} '
                     f'{_shell(train, run)} && \\\n'
                     f'    {srun}_test --gres=gpu:1 --ntasks=1 ${{SRUN_ARGS:-}} {_shell(test, run)}')
    return '\n'.join(lines) + '\n'


def collect(runs: Sequence[Run]) -> Dict[tuple, str]:
    """``(operator, num_slices, seed)`` -> test ``froc.json`` of every finished run."""
    return {run.key: run.froc_json for run in runs if run.state() == 'done'}


def _atomic_text(path: str, text: str) -> None:
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


def plot_styles(labels: Sequence[tuple]) -> Dict[str, dict]:
    """Line properties of the comparison plot: one colour per operator, a dashed line for fewer slices.

    Args:
        labels (Sequence[tuple]): ``(label, operator, num_slices)`` per curve.
    """
    from matplotlib import colormaps
    cmap = colormaps['tab10']
    most = max(n for _, _, n in labels)
    order = list(OPERATORS)
    return {label: dict(color=cmap(order.index(op) % 10 if op in order else 9),
                        linestyle='-' if n == most else '--') for label, op, n in labels}


def summarize_runs(runs: Sequence[Run], work_dir: str, data_name: str = 'DeepLesion',
                   log: Callable[[str], None] = print) -> Optional[dict]:
    """Collect the finished runs, print the tables and write ``operator_comparison.txt``/``.json`` and
    ``operator_comparison_froc.png`` into ``work_dir`` (each written whole, replaced at every call).

    Args:
        runs (Sequence[Run]): The planned runs; unfinished ones are listed as missing.
        work_dir (str): The comparison's folder (prepared by :func:`prepare_work_dir`).
        data_name (str): What the runs were tested on, for the titles. Defaults to ``'DeepLesion'``.
        log (callable): Where the tables go. Defaults to ``print``.

    Returns:
        dict | None: The summary (see :func:`~mmdet3dctx.evaluation.operator_comparison.summarize`), None if no
        run has finished.
    """
    from mmdet3dctx.evaluation.froc_plot import plot_froc
    from mmdet3dctx.evaluation.operator_comparison import (format_comparison, load_report, mean_curves,
                                                           operator_label, summarize, summary_to_json)
    files = collect(runs)
    missing = [run.name for run in runs if run.key not in files]
    if not files:
        log('no run has finished yet: nothing to tabulate')
        return None
    reports = {key: load_report(path) for key, path in files.items()}
    summary = summarize(reports)
    text = format_comparison(summary, data_name)
    if missing:
        text += f'\n\nNot finished ({len(missing)}): ' + ', '.join(missing)
    log(text)
    out = osp.join(work_dir, 'operator_comparison')
    _atomic_text(out + '.txt', text + '\n')
    _write_json(out + '.json', summary_to_json(summary, files))
    curves = mean_curves(reports)
    labels = [(f'{operator_label(r["operator"])}, {r["num_slices"]} slices', r['operator'], r['num_slices'])
              for r in summary['rows']]
    tmp = out + '_froc.tmp.png'
    plot_froc(curves, tmp, title='FROC per operator and slice count (mean over seeds)', styles=plot_styles(labels))
    os.replace(tmp, out + '_froc.png')
    log(f'wrote {out}.txt, {out}.json and {out}_froc.png')
    return summary


__all__ = ['ComparisonError', 'DEMO_CONFIG', 'Run', 'demo_options', 'plan_runs', 'prepare_work_dir', 'run_logged',
           'execute', 'commands', 'slurm_script', 'collect', 'summarize_runs']
