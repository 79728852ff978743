"""Peak memory of this process, and of one phase of it."""
import sys

import numpy as np
import pytest

from genurl_pyg.utils.resources import peak_rss_mb, reset_peak_rss


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='VmHWM is Linux-only')
def test_a_reset_peak_forgets_an_earlier_phase_but_sees_a_later_one():
    block = np.ones((200, 1024, 1024), dtype=np.uint8)  # 200 MiB, touched
    del block
    before = peak_rss_mb()
    assert reset_peak_rss()
    after = peak_rss_mb()
    assert after < before - 150  # the released 200 MiB no longer counts
    block = np.ones((100, 1024, 1024), dtype=np.uint8)
    del block
    assert peak_rss_mb() > after + 80  # the new phase's 100 MiB does


def test_where_the_peak_cannot_be_reset_it_says_so(monkeypatch):
    from genurl_pyg.utils import resources

    class Unwritable:
        def __init__(self, *args):
            pass

        def write_text(self, *args):
            raise PermissionError('no')
    monkeypatch.setattr(resources, 'Path', Unwritable)
    assert resources.reset_peak_rss() is False
