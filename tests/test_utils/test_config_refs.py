"""Config references: ``'${name}'`` stands for the final config's top-level variable ``name``."""
import doctest

import pytest
from mmengine.config import Config

from mmdet3dctx.utils import ConfigReferenceError, check_config_resolved, find_config_refs, resolve_config_refs
from mmdet3dctx.utils import config_refs


def _cfg(**kwargs):
    return Config(kwargs)


def test_a_whole_reference_keeps_the_type_of_the_variable():
    cfg = resolve_config_refs(_cfg(
        num_slices=3, interval=2.5, window=(-1024, 2050), scales=[(448, 448), (512, 512)], none=None, flag=False,
        conv=dict(type='A3DConv'),
        loader=dict(num_slices='${num_slices}', input_slice_interval='${interval}', window='${window}',
                    scales='${scales}', missing='${none}', flag='${flag}', conv='${conv}')))
    loader = cfg.loader
    assert loader.num_slices == 3 and type(loader.num_slices) is int
    assert loader.input_slice_interval == 2.5 and type(loader.input_slice_interval) is float
    assert loader.window == (-1024, 2050) and type(loader.window) is tuple
    assert loader.scales == [(448, 448), (512, 512)] and type(loader.scales[0]) is tuple
    assert loader.missing is None and loader.flag is False
    assert loader.conv == dict(type='A3DConv')


def test_references_reach_nested_dicts_lists_and_tuples():
    cfg = resolve_config_refs(_cfg(
        n=7, data_root='/data/DL/',
        train_dataloader=dict(dataset=dict(type='RepeatDataset', dataset=dict(data_root='${data_root}', pipeline=[
            dict(type='LoadDeepLesionSlices', num_slices='${n}'), dict(type='Resize', scale=('${n}', 512))]))),
        pipelines=(['${n}'], ('${data_root}', ))))
    inner = cfg.train_dataloader.dataset.dataset
    assert inner.data_root == '/data/DL/'
    assert inner.pipeline[0].num_slices == 7 and inner.pipeline[1].scale == (7, 512)
    assert cfg.pipelines == ([7], ('/data/DL/', ))


def test_a_reference_inside_text_is_written_into_it():
    cfg = resolve_config_refs(_cfg(data_root='data/coco/', n=3, ratio=0.5,
                                   ann_file='${data_root}annotations/instances_val2017.json',
                                   name='a3d_${n}slice_${ratio}'))
    assert cfg.ann_file == 'data/coco/annotations/instances_val2017.json'
    assert cfg.name == 'a3d_3slice_0.5'


@pytest.mark.parametrize('value', [None, (1, 2), dict(a=1), True])
def test_only_strings_and_numbers_are_written_into_text(value):
    with pytest.raises(ConfigReferenceError, match=r'^evaluator\.ann_file: \$\{data_root\} is .* only strings and '
                                                   r'numbers can be written into text'):
        resolve_config_refs(_cfg(data_root=value, evaluator=dict(ann_file='${data_root}x.json')))


def test_each_place_gets_its_own_copy():
    cfg = resolve_config_refs(_cfg(window=[-1024, 2050], a=dict(w='${window}'), b=dict(w='${window}')))
    cfg.a.w[0] = 0
    assert cfg.b.w == [-1024, 2050] and cfg.window == [-1024, 2050]


def test_top_level_variables_may_refer_to_each_other():
    cfg = resolve_config_refs(_cfg(slices='${num_slices}', num_slices='${base}', base=5, model=dict(n='${slices}')))
    assert cfg.slices == cfg.num_slices == cfg.model.n == 5


def test_an_unknown_name_is_an_error_naming_the_key_path():
    cfg = _cfg(num_slice=7, train_dataloader=dict(dataset=dict(pipeline=[dict(num_slices='${num_slices}')])))
    with pytest.raises(ConfigReferenceError) as e:
        resolve_config_refs(cfg)
    assert str(e.value) == 'train_dataloader.dataset.pipeline.0.num_slices: ${num_slices} names no top-level variable'


def test_a_cycle_is_an_error_naming_it():
    with pytest.raises(ConfigReferenceError, match=r'^b: \$\{a\} refers to itself \(a -> b -> a\)$'):
        resolve_config_refs(_cfg(a='${b}', b='x${a}'))
    with pytest.raises(ConfigReferenceError, match=r'refers to itself \(a -> a\)'):
        resolve_config_refs(_cfg(a=dict(b='${a}')))


def test_resolution_is_pure_and_idempotent():
    cfg = _cfg(n=3, model=dict(backbone=dict(num_slices='${n}')), unit='${n}mm')
    out = resolve_config_refs(cfg)
    assert cfg.model.backbone.num_slices == '${n}' and cfg.unit == '${n}mm'  # the input as it was
    assert list(find_config_refs(out)) == []
    again = resolve_config_refs(out)
    assert again.to_dict() == out.to_dict() == dict(n=3, model=dict(backbone=dict(num_slices=3)), unit='3mm')


def test_strings_that_are_no_reference_stay():
    cfg = resolve_config_refs(_cfg(a='$HOME/x', b='{{not mmengine}}', c='${}', d='${1x}', e='cost: $5'))
    assert (cfg.a, cfg.b, cfg.c, cfg.d, cfg.e) == ('$HOME/x', '{{not mmengine}}', '${}', '${1x}', 'cost: $5')


def test_mmengine_leaves_references_alone(tmp_path, monkeypatch):
    """MMEngine substitutes ``{{$ENV:default}}`` and ``{{ _base_.x }}`` when it reads a file, and copies a base's
    values into a leaf; ``${...}`` passes through both and through ``--cfg-options`` untouched."""
    (tmp_path / 'base.py').write_text("data_root = '{{$H2A_TEST_ROOT:data/default}}'\nnum_slices = 7\n"
                                      "loader = dict(num_slices='${num_slices}', root='${data_root}', n=num_slices)\n")
    (tmp_path / 'leaf.py').write_text("_base_ = './base.py'\nnum_slices = 3\n")
    monkeypatch.setenv('H2A_TEST_ROOT', '/env/root')
    cfg = Config.fromfile(str(tmp_path / 'leaf.py'))
    assert cfg.data_root == '/env/root' and cfg.num_slices == 3
    assert cfg.loader == dict(num_slices='${num_slices}', root='${data_root}', n=7)  # a copy keeps the base's 7
    cfg.merge_from_dict({'data_root': '/cli/root'})
    assert resolve_config_refs(cfg).loader == dict(num_slices=3, root='/cli/root', n=7)


def test_an_unresolved_reference_is_refused_by_name():
    check_config_resolved(dict(num_slices=3, window=(-1024, 2050), pipeline=[dict(a='$x')]), 'Loader')
    with pytest.raises(ConfigReferenceError) as e:
        check_config_resolved(dict(backbone=dict(num_slices='${num_slices}')), 'ContextMaskRCNN')
    assert str(e.value) == ('ContextMaskRCNN: unresolved config reference ${num_slices} (backbone.num_slices): read '
                            'configs with mmdet3dctx.apis.load_config (or pass a Config through '
                            'mmdet3dctx.utils.resolve_config_refs)')
    assert list(find_config_refs(dict(a=['x${b}y${c}']))) == [('a.0', '${b}'), ('a.0', '${c}')]


def test_docstring_examples():
    assert doctest.testmod(config_refs, raise_on_error=False).failed == 0
