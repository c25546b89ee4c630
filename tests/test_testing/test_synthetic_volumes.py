"""The volume generator: seeded, CT-like (air, soft tissue, bone), lesions inside the organ with their ground truth,
vessel look-alikes that are not labelled."""
import numpy as np

from mmdet3dctx.testing.synthetic_volumes import lesion_truth, synthesize_case


def test_seeded_ct_like_cases_with_lesions_and_look_alikes():
    a, b = synthesize_case(0, 1, 3), synthesize_case(0, 1, 3)
    np.testing.assert_array_equal(a.volume.hu, b.volume.hu)
    assert not np.array_equal(a.volume.hu, synthesize_case(1, 1, 3).volume.hu)
    z, h, w = a.volume.hu.shape
    assert 24 <= z <= 40 and (h, w) == (96, 96)
    sz, sy, sx = a.volume.spacing
    assert 0.7 <= sx == sy <= 0.9 and sz in (1.25, 2.0, 2.5, 3.0, 5.0)
    hu = a.volume.hu
    assert np.median(hu[:, 0, :]) < -900 and (hu > 500).sum() > 0  # air around the body, bone inside
    assert len(a.lesions) == 3 and set(np.unique(a.lesion_map)) == {0, 1, 2, 3}
    assert np.all(a.organ[a.lesion_map > 0])  # lesions lie in the organ
    # brighter voxels than the organ outside the lesions: the vessel look-alikes, not labelled
    assert ((hu > 130) & (a.lesion_map == 0) & (hu < 500)).sum() > 50
    truth = lesion_truth(a)
    for t, les in zip(truth, a.lesions):
        assert 5 <= les['diameter_mm'] <= 25
        assert t['num_voxels'] == (a.lesion_map == truth.index(t) + 1).sum()
        np.testing.assert_allclose(t['centroid_lps_mm'], t['centre_lps_mm'], atol=max(sz, sx))
