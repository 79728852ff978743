import os
from pathlib import Path

import pytest
import torch

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / 'shared' / 'datasets'


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def pytest_configure(config):
    config.addinivalue_line('markers', 'cuda: needs a CUDA device')
    # Tests read data only from the offline mirror beside the checkout, when present.
    if 'GENURL_DATA_MIRROR' not in os.environ and SHARED_DATASETS.is_dir():
        os.environ['GENURL_DATA_MIRROR'] = str(SHARED_DATASETS)


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason='no CUDA device')
