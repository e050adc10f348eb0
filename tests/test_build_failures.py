"""壊れた入力でビルドが失敗し、何が壊れたかを名指しすること。古い図や出力は決して出さない。

プロジェクトの写し (docs, gen_lib, hooks, mkdocs.yml) を一時ディレクトリに作って壊す。
フックは mkdocs.yml の隣の gen_lib を読むので、写しの gen_lib が使われる。
"""

from __future__ import annotations

import shutil

import pytest

from conftest import ROOT, run_build

BROKEN_FIGURE = '''
from gen_lib.figures import figure
from gen_lib.core.plotting import new_figure


@figure("aaa-broken.svg")
def broken(seed: int = 0):
    {body}
'''


@pytest.fixture
def project(tmp_path):
    copy = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ["docs", "gen_lib", "hooks"]:
        shutil.copytree(ROOT / name, copy / name, ignore=ignore)
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    return copy


def build(project, site):
    result = run_build(project, project / "site", site_url=site.url, cache=site.cache)
    return result.returncode, result.stdout + result.stderr


def test_raising_figure_fails_the_build_naming_it(project, site):
    (project / "gen_lib" / "figures" / "aaa_broken.py").write_text(
        BROKEN_FIGURE.format(body='raise RuntimeError("figure exploded")'))
    code, log = build(project, site)
    assert code != 0
    assert "aaa-broken.svg" in log and "figure exploded" in log


def test_missing_glyph_fails_the_build_naming_the_figure(project, site):
    body = 'fig, ax = new_figure()\n    ax.set_title("\\U0001F9EA")\n    return fig'
    (project / "gen_lib" / "figures" / "aaa_broken.py").write_text(BROKEN_FIGURE.format(body=body))
    code, log = build(project, site)
    assert code != 0
    assert "aaa-broken.svg" in log and "cannot draw" in log


def test_missing_snippet_section_fails_the_build(project, site):
    page = project / "docs" / "ch1" / "notation.md"
    page.write_text(page.read_text(encoding="utf-8")
                    + '\n```python\n--8<-- "gen_lib/distributions/gaussian_mixture.py:no_such_section"\n```\n', encoding="utf-8")
    code, log = build(project, site)
    assert code != 0
    assert "no_such_section" in log
    # gen_lib は変わっていないので図はキャッシュから (描き直し・再学習なし)
    assert "figures: 0 rendered" in log


def test_raising_notebook_cell_fails_the_build(project, site):
    notebook = next((project / "docs" / "notebooks").glob("*.py"))
    notebook.write_text(notebook.read_text(encoding="utf-8")
                        + '\n# %%\nraise RuntimeError("notebook cell exploded")\n', encoding="utf-8")
    code, log = build(project, site)
    assert code != 0
    assert "notebook cell exploded" in log
