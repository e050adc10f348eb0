// MathJax 3 の設定 (ローカルの tex-chtml.js と一緒に読み込む)。
// arithmatex (generic) が出力する \( \) / \[ \] と、ノートブックの Markdown セルの $ $ を組版する。
// instant navigation ではページ遷移ごとに document$ が発火するので、
// 組版を MathJax.startup.promise に連ねて重ならないようにする。
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"], ["$", "$"]],
    displayMath: [["\\[", "\\]"], ["$$", "$$"]],
    processEscapes: true,
    processEnvironments: true,
  },
  startup: {
    typeset: false,
  },
};

document$.subscribe(() => {
  MathJax.startup.promise = MathJax.startup.promise
    .then(() => {
      MathJax.startup.output.clearCache();
      MathJax.typesetClear();
      MathJax.texReset();
      // 組版するのは arithmatex の要素とノートブックの Markdown セルだけ (他の $ には触れない)。
      const targets = document.querySelectorAll(".arithmatex, .jp-MarkdownOutput");
      return MathJax.typesetPromise([...targets]);
    })
    .catch((err) => console.error("MathJax typeset failed:", err));
});
