"""Every dataset that reads the config's data root follows it; missing annotations stop with the tools to run."""
import pytest
from mmengine.config import Config

from mmdet3dctx.apis import MISSING_DATA_HELP, dataset_cfgs, ensure_data, read_config


def _cfg():
    return Config(dict(
        data_root='old/',
        train_dataloader=dict(dataset=dict(type='RepeatDataset', times=2,
                                           dataset=dict(type='DeepLesionDataset', data_root='${data_root}',
                                                        ann_file='DL_info.csv'))),
        val_dataloader=dict(dataset=dict(type='DeepLesionDataset', data_root='own/', ann_file='DL_info.csv')),
        test_dataloader=dict(dataset=dict(type='ConcatDataset', datasets=[dict(type='DeepLesionDataset',
                                                                               data_root='${data_root}',
                                                                               ann_file='DL_info.csv')]))))


def test_every_dataset_that_reads_the_config_root_follows_it():
    cfg = read_config(_cfg(), {'data_root': 'new/'})  # what --cfg-options data_root=new/ does
    assert [k for k, _ in dataset_cfgs(cfg)] == ['train_dataloader'] * 2 + ['val_dataloader'] + ['test_dataloader'] * 2
    assert cfg.data_root == 'new/'
    assert cfg.train_dataloader.dataset.dataset.data_root == 'new/'
    assert cfg.val_dataloader.dataset.data_root == 'own/'  # a root of its own stays
    assert cfg.test_dataloader.dataset.datasets[0].data_root == 'new/'
    # wrappers take no data_root
    assert 'data_root' not in cfg.train_dataloader.dataset and 'data_root' not in cfg.test_dataloader.dataset


def test_missing_annotations_name_the_loader_file_and_tools(tmp_path):
    cfg = read_config(_cfg(), {'data_root': str(tmp_path)})
    with pytest.raises(SystemExit) as e:
        ensure_data(cfg)
    assert str(e.value).startswith(f'train_dataloader.dataset.ann_file: {tmp_path}/DL_info.csv not found')
    assert str(e.value).endswith(MISSING_DATA_HELP)
