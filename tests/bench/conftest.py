import pytest

from genurl_pyg.cli import main


@pytest.fixture(scope='session')
def smoke_run(tmp_path_factory):
    """One finished smoke suite (every task, through the CLI, two cells at a time), shared
    by the tests that read a finished run folder: each of its cells is a Python process
    that imports torch and PyG, so one run instead of one per test keeps the suite
    within its time budget. Tests that change the folder work on a copy
    (:func:`copy_of_run`). Yields ``(exit code, folder, data root)``."""
    root = tmp_path_factory.mktemp('bench')
    mp = pytest.MonkeyPatch()
    mp.setenv('GENURL_DATA', str(root / 'data'))
    try:
        out = root / 'smoke'
        code = main(['bench', '--suite', 'smoke', '--out', str(out), '--jobs', '2',
                     '--threads', '1'])
    finally:
        mp.undo()
    yield code, out, root / 'data'


def copy_of_run(folder, dest):
    """A copy of a run folder that a test may change (resume, redo) without touching the
    shared one."""
    import shutil
    return shutil.copytree(folder, dest)
