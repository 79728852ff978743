"""experiments/featureless_variants.py on KarateClub: the probe presets, one probe per row,
and the embedding cache (reused when it matches, refused when it was made otherwise)."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'experiments'))
import featureless_variants as fv  # noqa: E402


def test_probe_settings():
    from genurl_pyg.evaluation.link import OGB_DDI_PROBE
    assert fv.probe_settings('ogb') == OGB_DDI_PROBE
    assert fv.probe_settings('default') == {'epochs': 20, 'batch_size': 8192}
    assert fv.probe_settings('ogb', 5, 128)['epochs'] == 5
    with pytest.raises(ValueError, match='--probe'):
        fv.probe_settings('long')


def test_cached_embeddings_are_reused_and_mismatches_refused(tmp_path):
    kw = fv.probe_settings('ogb', 2, 64)
    first = fv.run_variant('KarateClub', 'node2vec', {}, 0, kw, 1, tmp_path)
    cache = tmp_path / 'KarateClub_node2vec_s0.pt'
    assert cache.is_file()
    stamp = cache.stat().st_mtime_ns
    again = fv.run_variant('KarateClub', 'node2vec', {}, 0, kw, 1, tmp_path)
    assert cache.stat().st_mtime_ns == stamp  # not trained again
    assert again['seconds'] == first['seconds']
    for key in ('mlp_val_hits20', 'mlp_val_auc', 'dot_val_auc', 'mlp_epoch'):
        assert again[key] == first[key], key  # same embeddings, same seeded probe
    assert first['probe'] == kw and 0.0 <= first['mlp_val_auc'] <= 1.0
    json.dumps(first)  # a row is JSON
    with pytest.raises(ValueError, match='was trained with'):
        fv.run_variant('KarateClub', 'node2vec', {}, 0, kw, 2, tmp_path)  # other epochs
