"""Library versions come from the distributions' metadata without importing the
libraries, and equal what the libraries report about themselves."""
import subprocess
import sys

from genurl_pyg.utils.versions import installed_version, library_versions


def test_versions_equal_the_libraries_own():
    import numpy
    import scipy
    import sklearn
    import torch
    import torch_geometric
    got = library_versions()
    assert got['torch'] == torch.__version__  # with its build tag
    assert got['torch_geometric'] == torch_geometric.__version__
    assert got['numpy'] == numpy.__version__ and got['scipy'] == scipy.__version__
    assert got['sklearn'] == sklearn.__version__


def test_an_absent_library_is_none_and_nothing_is_imported():
    assert installed_version('no_such_module_xyz') is None
    code = ('import sys; from genurl_pyg.bench.environment import versions; v = versions(); '
            "print(sorted(m for m in ('umap', 'sklearn', 'torch_geometric', 'matplotlib') "
            'if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == '[]'  # read from metadata: the heavy libraries stay unimported
