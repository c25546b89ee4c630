"""The documentation does what it says: the README's quick start runs as written on a synthetic tree, the Python
examples of the docs print what their comments say, and every relative link resolves to a file (and heading)."""
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import mmdet3dctx

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / 'README.md', ROOT / 'CHANGELOG.md', *sorted((ROOT / 'docs').glob('*.md'))]
FENCE = re.compile(r'^```(\w*)\n(.*?)^```', re.M | re.S)
LINK = re.compile(r'(?<!!)\[[^\]]*\]\(([^)\s]+)\)')


def section(text: str, heading: str) -> str:
    """The text under a ``## heading`` up to the next heading of that level."""
    m = re.search(rf'^## {re.escape(heading)}\n(.*?)(?=^## |\Z)', text, flags=re.M | re.S)
    assert m, f'no "## {heading}" section'
    return m.group(1)


def blocks(text: str, lang: str) -> list:
    return [body for kind, body in FENCE.findall(text) if kind == lang]


def shell_commands(block: str) -> list:
    """The commands of a bash block: comments dropped, backslash continuations joined."""
    joined = re.sub(r'\\\n\s*', ' ', block)
    return [ln.strip() for ln in joined.splitlines() if ln.strip() and not ln.strip().startswith('#')]


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', heading.strip().lower())
    return re.sub(r'[^\w\- ]', '', text).replace(' ', '-')


def anchors(path: Path) -> set:
    text = FENCE.sub('', path.read_text())
    return {slug(h) for h in re.findall(r'^#{1,6} (.+)$', text, flags=re.M)}


def expected_prints(code: str) -> list:
    """``print(...)  # shown`` lines: what each should print (the comment up to a ': ' explanation)."""
    return [line.split('#', 1)[1].strip().split(': ')[0] for line in code.splitlines()
            if line.lstrip().startswith('print(') and '#' in line]


# runs each example in a fresh namespace of one interpreter (one import of the toolkit for all), printing
# what each printed as one JSON list
RUN_EXAMPLES = """
import contextlib, io, json, sys
printed = []
for code in json.loads(sys.stdin.read()):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, '<example>', 'exec'), {'__name__': '__example__'})
    printed.append(buf.getvalue())
print(json.dumps(printed))
"""


def run_examples(examples: list, cwd, env=None) -> list:
    out = subprocess.run([sys.executable, '-c', RUN_EXAMPLES], input=json.dumps(examples), cwd=cwd, env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return json.loads(out.stdout.splitlines()[-1])


def env_with_project() -> dict:
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(ROOT), *filter(None, [env.get('PYTHONPATH')])])
    env.pop('DEEPLESION_ROOT', None)
    env.setdefault('MPLBACKEND', 'Agg')
    return env


@pytest.mark.parametrize('doc', DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc):
    text = FENCE.sub('', doc.read_text())
    broken = []
    for target in LINK.findall(text):
        if re.match(r'^[a-z][a-z0-9+.-]*:', target):  # https:, mailto:
            continue
        path, _, anchor = target.partition('#')
        dest = (doc.parent / path).resolve() if path else doc
        if not dest.exists():
            broken.append(f'{target}: no file {dest.relative_to(ROOT) if ROOT in dest.parents else dest}')
        elif anchor and dest.suffix == '.md' and anchor not in anchors(dest):
            broken.append(f'{target}: no heading with anchor #{anchor} in {dest.name}')
    assert not broken, f'{doc.relative_to(ROOT)}: ' + '; '.join(broken)


def test_readme_links_every_user_guide():
    readme = (ROOT / 'README.md').read_text()
    for name in ('get_started', 'deeplesion', 'operators', 'configs', 'inference', 'benchmarks', 'development'):
        assert f'](docs/{name}.md)' in readme, name


def test_froc_tables_in_percent():
    """Tables give sensitivities in percent, as the papers: no cell holds a bare fraction such as ``0.947`` or
    ``**0.947** (0.925)`` (ratios carry their ``×``)."""
    fraction = re.compile(r'^\**0\.\d{2,3}\**( \(0\.\d{2,3}\))?$')
    for doc in DOCS:
        for line in FENCE.sub('', doc.read_text()).splitlines():
            if line.startswith('|'):
                cells = [c.strip() for c in line.strip('|').split('|')]
                assert not any(fraction.match(c) for c in cells), f'{doc.name}: {line}'


def test_docs_python_examples_print_what_they_say(tmp_path):
    """Every Python example of the operator guide and the README (configs snippets aside) runs, and each
    commented ``print`` shows the value in its comment."""
    examples = blocks((ROOT / 'docs' / 'operators.md').read_text(), 'python')
    examples += blocks(section((ROOT / 'README.md').read_text(), 'Quick start'), 'python')
    examples += [b for b in blocks((ROOT / 'docs' / 'get_started.md').read_text(), 'python')
                 if not b.lstrip().startswith('_base_')]
    assert len(examples) >= 5
    for code, printed in zip(examples, run_examples(examples, tmp_path, env_with_project())):
        expected = expected_prints(code)
        assert printed.splitlines()[:len(expected)] == expected, code


@pytest.mark.slow
@pytest.mark.skipif(not mmdet3dctx.HAS_MMDET, reason='the quick start trains with MMDetection')
def test_quick_start_runs_as_written(tmp_path):
    """The README's quick start, command by command, in a fresh folder that holds only the repository's configs
    and tools (``python`` is this interpreter)."""
    quick = section((ROOT / 'README.md').read_text(), 'Quick start')
    commands = [c for b in blocks(quick, 'bash') for c in shell_commands(b)]
    tools = [shlex.split(c)[1] for c in commands]
    assert tools == ['tools/make_synthetic_deeplesion.py', 'tools/browse_dataset.py', 'tools/train.py',
                     'tools/test.py', 'tools/eval_froc.py', 'tools/infer.py']
    for name in ('configs', 'tools'):
        (tmp_path / name).symlink_to(ROOT / name)
    env = env_with_project()
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == 'python', command
        out = subprocess.run([sys.executable, *argv[1:]], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert out.returncode == 0, f'{command}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}'
    work = tmp_path / 'work_dirs' / 'quickstart'
    assert len(list((work / 'browse').glob('*.png'))) == 4
    assert (work / 'epoch_1.pth').is_file() and (work / 'results.pkl').is_file() and (work / 'froc.json').is_file()
    assert list((work / 'froc').glob('*.froc.json'))
    assert (work / 'findings' / 'findings.json').is_file()
