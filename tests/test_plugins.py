"""--plugin: your own method (or loss, model, dataset) registered from a file or module, by name."""
import json

import pytest

from noisylabels.cli import main
from noisylabels.errors import NoisyLabelsError
from noisylabels.methods import METHODS
from noisylabels.plugins import LOADED, load_plugin

PLUGIN = '''
from noisylabels.methods import METHODS
from noisylabels.methods.erm import StandardTraining

@METHODS.register("plugin_ce")
class PluginCE(StandardTraining):
    """Plain training under another name."""
'''


def test_a_plugin_file_registers_its_method_once_and_the_cli_trains_it(tmp_path):
    path = tmp_path / "my_method.py"
    path.write_text(PLUGIN)
    out = tmp_path / "run"
    assert main(["train", "--plugin", str(path), "--method", "plugin_ce", "--dataset", "digits", "--subset", "200",
                 "--model", "mlp", "--epochs", "1", "--device", "cpu", "--out", str(out), "--no-progress"]) == 0
    assert "plugin_ce" in METHODS and str(path.resolve()) in LOADED
    load_plugin(str(path))  # a second load is a no-op, not a "registered twice" error
    assert json.loads((out / "metrics.json").read_text())["method"] == "plugin_ce"


def test_bad_plugins_give_one_line_errors(tmp_path, capsys):
    with pytest.raises(NoisyLabelsError, match="plugin file .*missing.py not found"):
        load_plugin(str(tmp_path / "missing.py"))
    broken = tmp_path / "broken.py"
    broken.write_text("import no_such_module_here\n")
    with pytest.raises(NoisyLabelsError, match=r"failed to import \(ModuleNotFoundError"):
        load_plugin(str(broken))
    with pytest.raises(NoisyLabelsError, match="plugin module 'no_such_plugin' cannot be imported"):
        load_plugin("no_such_plugin")
    assert main(["list", "methods", "--plugin", str(broken)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("noisylabels: error: plugin") and len(err.strip().splitlines()) == 1
