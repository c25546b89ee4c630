"""OpenMMLab's model index (``model-index.yml`` and ``configs/*/metafile.yml``, read by ``mim search``): every leaf
config listed once, the metadata what the config does, the published figures well-formed and equal wherever the
documentation or the package restates them."""
import re
import statistics
from pathlib import Path

import pytest
import yaml
from packaging.version import Version

from mmdet3dctx.apis import read_config

ROOT = Path(__file__).resolve().parents[1]
#: ``DeepLesion (A3D paper, Table 2)``: the dataset, then the paper and the place in it the figures come from
DATASET = re.compile(r'^(?P<dataset>DeepLesion|COCO) '
                     r'\((?P<paper>[A-Za-z0-9]+) paper, (?P<source>Table \d+|[a-z -]+)\)$')
#: the metric names of the DeepLesion results (sensitivity in % at 0.5-16 FPs per image, their mean over 0.5-4, as
#: DeepLesionMetric names them) and of the MP3D paper's tables (mAP at IoU 0.5, %)
FP_LEVELS = ('0.5', '1', '2', '4', '8', '16')
METRICS = {f'sens@{f}' for f in FP_LEVELS} | {'avg[0.5-4]', 'mAP@0.5'}
TASKS = {'DeepLesion': 'Lesion Detection', 'COCO': 'Object Detection'}
FROM_SCRATCH = 'from scratch'


def package_version() -> str:
    ns = {}
    exec((ROOT / 'mmdet3dctx' / 'version.py').read_text(), ns)
    return ns['__version__']


def metafiles() -> list:
    """The metafiles ``model-index.yml`` imports, as repository-relative paths (each checked to exist)."""
    index = yaml.safe_load((ROOT / 'model-index.yml').read_text())
    assert set(index) == {'Import'}, f'model-index.yml: only Import expected, got {sorted(index)}'
    for rel in index['Import']:
        assert (ROOT / rel).is_file(), f'model-index.yml imports {rel}: no such file'
    return index['Import']


def load_index():
    """``(collections, models)``: name -> entry, each entry with the metafile it is written in (``_file``)."""
    collections, models = {}, {}
    for rel in metafiles():
        meta = yaml.safe_load((ROOT / rel).read_text())
        assert set(meta) <= {'Collections', 'Models'}, f'{rel}: unexpected top-level keys {sorted(meta)}'
        for kind, out in (('Collections', collections), ('Models', models)):
            for entry in meta.get(kind) or []:
                name = entry['Name']
                assert name not in out, f'{rel}: {kind[:-1].lower()} {name!r} also in {out.get(name, {}).get("_file")}'
                out[name] = dict(entry, _file=rel)
    return collections, models


@pytest.fixture(scope='module')
def index():
    return load_index()


@pytest.fixture(scope='module')
def collections(index):
    return index[0]


@pytest.fixture(scope='module')
def models(index):
    return index[1]


def leaf_configs() -> list:
    """Every config a user trains: the ``.py`` files under ``configs/`` outside the ``_base_`` folders."""
    return sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / 'configs').rglob('*.py')
                  if '_base_' not in p.relative_to(ROOT).parts)


def results(model: dict) -> list:
    return model.get('Results') or []


def test_model_index_imports_one_metafile_per_config_folder():
    folders = sorted({Path(c).parent.as_posix() for c in leaf_configs()})
    assert sorted(metafiles()) == [f'{folder}/metafile.yml' for folder in folders]


def test_mim_reads_the_index_as_written(collections, models):
    """modelindex (what ``mim search`` loads) finds every model and collection, with its results."""
    from modelindex.load_model_index import load
    loaded = load(str(ROOT / 'model-index.yml'))
    assert sorted(m.name for m in loaded.models) == sorted(models)
    assert sorted(c.name for c in loaded.collections) == sorted(collections)
    a3d = next(m for m in loaded.models if m.name == 'a3d_7slice')
    assert a3d.results[0].dataset == 'DeepLesion (A3D paper, Table 2)'
    assert a3d.results[0].metrics['avg[0.5-4]'] == 88.11


def test_every_leaf_config_is_listed_once_under_its_own_name(models):
    by_config = {m['Config']: name for name, m in models.items()}
    assert len(by_config) == len(models), 'two models name one config'
    assert sorted(by_config) == leaf_configs(), \
        f'not in the index: {sorted(set(leaf_configs()) - set(by_config))}; ' \
        f'no such config: {sorted(set(by_config) - set(leaf_configs()))}'
    for config, name in by_config.items():
        model = models[name]
        assert name == Path(config).stem, f'{model["_file"]}: model {name} names config {config}'
        assert Path(model['_file']).parent == Path(config).parent, f'{model["_file"]}: {config} is another folder'


def test_config_names_are_unique_in_the_installed_package():
    """``mim train mmdet3dctx NAME.py`` finds a config by its file name anywhere in the package (configs, tools,
    modules): no other file there may share it."""
    names = [p.name for d in ('configs', 'tools', 'mmdet3dctx') for p in (ROOT / d).rglob('*.py')]
    for config in leaf_configs():
        assert names.count(Path(config).name) == 1, f'{config}: its file name is not unique in the package'


def test_collections_name_their_paper_code_and_readme(collections, models):
    version = Version(package_version())
    for name, c in collections.items():
        where = f'{c["_file"]}: collection {name}'
        assert c['Metadata'].get('Training Data') and c['Metadata'].get('Training Techniques'), where
        if 'Paper' in c:
            assert re.fullmatch(r'https://arxiv\.org/abs/\d{4}\.\d{5}', c['Paper']['URL']), where
            assert c['Paper']['Title'].strip(), where
            assert (ROOT / c['Code']['URL']).is_file(), f'{where}: Code {c["Code"]["URL"]} is no file'
            assert Version(c['Code']['Version'].lstrip('v')) <= version, where
        assert (ROOT / c['README']).is_file(), f'{where}: README {c["README"]} is no file'
    for name, m in models.items():
        assert m['In Collection'] in collections, f'{m["_file"]}: {name} is in no known collection'
        paper = m.get('Paper') or collections[m['In Collection']].get('Paper')
        assert paper, f'{m["_file"]}: {name} names no paper, nor does its collection'
        assert paper in [c.get('Paper') for c in collections.values()], f'{m["_file"]}: {name}: {paper}'


def test_results_are_published_figures_in_percent_with_their_table(models):
    """Each Results entry: the task and dataset, the paper and table in ``Dataset``, numbers in [0, 100]; where
    an entry gives the average over 0.5-4 FPs with the four sensitivities, it is their mean to the two decimals
    published (half a unit in the last place)."""
    for name, m in models.items():
        for r in results(m):
            where = f'{m["_file"]}: {name}, {r["Dataset"]}'
            match = DATASET.match(r['Dataset'])
            assert match, f'{where}: Dataset must read "DeepLesion (<paper> paper, Table N)"'
            assert r['Task'] == TASKS[match['dataset']], where
            metrics = r['Metrics']
            assert metrics and set(metrics) <= METRICS, f'{where}: unknown metrics {set(metrics) - METRICS}'
            for key, value in metrics.items():
                assert isinstance(value, (int, float)) and not isinstance(value, bool), f'{where}: {key}={value!r}'
                assert 0 <= value <= 100, f'{where}: {key}={value} is no percentage'
            levels = [metrics.get(f'sens@{f}') for f in ('0.5', '1', '2', '4')]
            if 'avg[0.5-4]' in metrics and None not in levels:
                assert abs(statistics.mean(levels) - metrics['avg[0.5-4]']) <= 0.005 + 1e-9, where


@pytest.mark.parametrize('slices', [3, 7])
@pytest.mark.parametrize('operator', ['nofusion', 'i3d', 'p3d', 'acs', 'tsm', 'alignshift', 'a3d'])
def test_the_a3d_papers_table_2_is_complete(operator, slices, models):
    """Each row of the A3D paper's Table 2 is the Results entry of its config: all six FP levels and the
    average."""
    name = f'{operator}_{slices}slice'
    (entry, ) = [r for r in results(models[name]) if r['Dataset'] == 'DeepLesion (A3D paper, Table 2)']
    assert set(entry['Metrics']) == {f'sens@{f}' for f in FP_LEVELS} | {'avg[0.5-4]'}, name


def test_demos_and_pretraining_carry_no_published_results(models):
    """The demos' figures are measured on synthetic data (docs/benchmarks.md), not published; the papers give no
    COCO figures for the pretraining runs."""
    for name, m in models.items():
        if m['Config'].startswith(('configs/demo/', 'configs/pretrain/')):
            assert not results(m), f'{m["_file"]}: {name} lists Results'


def _init_checkpoint(cfg) -> str:
    init = cfg.model.backbone.get('init_cfg')
    return init.get('checkpoint') if init else None


@pytest.fixture(scope='module')
def configs(models):
    return {name: read_config(str(ROOT / m['Config'])) for name, m in models.items()}


def test_metadata_says_what_the_config_does(configs, models):
    """Epochs, slices and what the model starts from, as the config sets them. ``Initialisation`` is the
    published file the backbone starts from (``init_cfg.checkpoint``), the config whose run ``load_from`` takes
    the weights of, or ``from scratch``; it is never a model's own ``Weights`` (no trained detector is
    published)."""
    for name, m in models.items():
        cfg, meta, where = configs[name], m['Metadata'], f'{m["_file"]}: {name}'
        assert meta['Epochs'] == cfg.train_cfg.max_epochs, where
        model = cfg.model
        slices = model.backbone.get('num_slices') or model.neck.get('reduction', {}).get('num_slices')
        assert meta['Slices'] == slices, where
        init, checkpoint, load_from = meta['Initialisation'], _init_checkpoint(cfg), cfg.get('load_from')
        if init == FROM_SCRATCH:
            assert checkpoint is None and load_from is None, f'{where}: starts from {checkpoint or load_from}'
        elif init.startswith('https://'):
            assert init == checkpoint and load_from is None, f'{where}: the config starts from {checkpoint}'
        else:
            assert init in {c['Config'] for c in models.values()}, f'{where}: {init} is no config of the index'
            assert load_from and checkpoint is None, f'{where}: the config loads no weights'
        assert m.get('Weights') not in {c['Metadata']['Initialisation'] for c in models.values()}, where


def test_published_figures_table_of_the_configs_guide(models):
    """docs/configs.md's "Model index" table restates the Results entries, row for row and number for number."""
    text = (ROOT / 'docs' / 'configs.md').read_text()
    section = re.search(r'^## Model index\n(.*?)(?=^## |\Z)', text, flags=re.M | re.S)
    assert section, 'docs/configs.md: no "## Model index" section'
    header = '| config | source | ' + ' | '.join(f'sens@{f}' for f in FP_LEVELS) + ' | avg[0.5–4] | mAP@0.5 |'
    lines = section.group(1).splitlines()
    assert header in lines, f'docs/configs.md: the published-figures table starts with\n{header}'
    rows = []
    for line in lines[lines.index(header) + 2:]:
        if not line.startswith('|'):
            break
        rows.append(line)
    keys = [f'sens@{f}' for f in FP_LEVELS] + ['avg[0.5-4]', 'mAP@0.5']
    expected = []
    for name, m in models.items():
        for r in results(m):
            source = DATASET.match(r['Dataset'])
            cells = [f'`{m["Config"]}`', f'{source["paper"]} paper, {source["source"]}']
            cells += [f'{r["Metrics"][k]:.2f}' if k in r['Metrics'] else '' for k in keys]
            expected.append('| ' + ' | '.join(cells) + ' |')
    assert rows == expected, 'docs/configs.md, "Model index": the table should read\n' + '\n'.join(expected)


def test_published_figures_of_the_folder_tables(models):
    """The "published FROC avg[0.5–4]" cells of the configs guide's folder tables: every figure there is one of
    the Results of the configs its row names."""
    text = (ROOT / 'docs' / 'configs.md').read_text()
    checked = 0
    for folder in ('deeplesion', 'deeplesion_2d'):
        section = re.search(rf'^## `configs/{folder}/`.*?\n(.*?)(?=^## |\Z)', text, flags=re.M | re.S).group(1)
        for line in section.splitlines()[2:]:
            if not line.startswith('|') or set(line) <= set('|- '):
                continue
            cells = [c.strip() for c in line.strip('|').split('|')]
            names = [n for pattern in re.findall(r'`([^`]+\.py)`', cells[0]) for n in _expand(pattern)]
            for n in names:
                assert n in models, f'docs/configs.md names {folder}/{n}.py, not in the model index'
            published = {v for n in names for r in results(models[n]) for v in r['Metrics'].values()}
            for figure in re.findall(r'\b\d{2,3}\.\d{1,2}\b', cells[-1]):  # percentages, not FP levels
                assert float(figure) in published, f'docs/configs.md: {figure} for {names}: not in their Results'
                checked += 1
    assert checked, 'docs/configs.md: no published figure found in the folder tables'


def _expand(pattern: str) -> list:
    """``'{nofusion,i3d}_{3,7}slice.py'`` -> ``['nofusion_3slice', 'nofusion_7slice', 'i3d_3slice', ...]``."""
    m = re.search(r'\{([^}]*)\}', pattern)
    if not m:
        return [pattern[:-len('.py')]]
    return [n for alt in m.group(1).split(',') for n in _expand(pattern[:m.start()] + alt + pattern[m.end():])]


def test_operator_comparison_quotes_the_index(models):
    """The published row of ``tools/compare_operators.py``'s table (``operator_comparison.PUBLISHED``) holds the
    model index's Table 2 figures."""
    from mmdet3dctx.evaluation.operator_comparison import PUBLISHED
    for (operator, slices), figures in PUBLISHED.items():
        (entry, ) = [r for r in results(models[f'{operator}_{slices}slice'])
                     if r['Dataset'] == 'DeepLesion (A3D paper, Table 2)']
        for key, value in figures.items():
            metric = 'avg[0.5-4]' if key == 'avg' else f'sens@{key:g}'
            assert entry['Metrics'][metric] == value, f'PUBLISHED[{operator!r}, {slices}][{key!r}]'
