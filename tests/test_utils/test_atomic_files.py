"""Files written whole or not at all."""
import json
import os

import numpy as np
import pytest

from mmdet3dctx.utils import atomic_output, save_npy_atomic, write_json_atomic


def test_json_refuses_to_overwrite_unless_asked(tmp_path):
    out = tmp_path / 'r.json'
    write_json_atomic(dict(a=1), str(out), overwrite=False)
    with pytest.raises(FileExistsError, match='--overwrite'):
        write_json_atomic(dict(a=2), str(out), overwrite=False)
    assert json.loads(out.read_text()) == dict(a=1)
    write_json_atomic(dict(a=3), str(out))
    assert json.loads(out.read_text()) == dict(a=3) and os.listdir(tmp_path) == ['r.json']


def test_an_error_leaves_the_old_file_and_no_partial_one(tmp_path):
    out = tmp_path / 'a.npy'
    save_npy_atomic(str(out), np.arange(4, dtype=np.int16))
    with pytest.raises(RuntimeError):
        with atomic_output(str(out), 'wb') as f:
            f.write(b'half')
            raise RuntimeError('interrupted')
    assert os.listdir(tmp_path) == ['a.npy']
    np.testing.assert_array_equal(np.load(out), np.arange(4, dtype=np.int16))
