// MathJax 3, served from this site (book.py copies it in): no CDN.
// Two kinds of math reach the page:
//  - docs/ pages: pymdownx.arithmatex wraps it as \( \) / \[ \] in span/div.arithmatex;
//  - chapter pages: Jupyter markdown keeps $...$ and $$...$$ inside .jp-RenderedMarkdown.
// MathJax scans the whole page but skips <pre>/<code> (code cells, printed output) and the
// classes below: mkdocs-jupyter's hidden copy-to-clipboard text, and code-cell outputs (where
// a `$` is data, not math) except for math the build rendered there (span.arithmatex).
// (Material's usual ignoreHtmlClass ".*|" would also skip the <p> inside a notebook's
// markdown cell, leaving its math raw.)
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"], ["$", "$"]],
    displayMath: [["\\[", "\\]"], ["$$", "$$"]],
    processEscapes: true,
    processEnvironments: true
  },
  options: {
    ignoreHtmlClass: "clipboard-copy-txt|jp-OutputArea-output",
    processHtmlClass: "arithmatex"
  }
};

// Material's instant navigation swaps the page without reloading scripts: typeset again.
// On the first load MathJax typesets the page itself once it has started.
document$.subscribe(() => {
  if (!window.MathJax || !MathJax.startup || !MathJax.startup.promise) return;
  MathJax.startup.promise = MathJax.startup.promise.then(() => {
    MathJax.startup.output.clearCache();
    MathJax.typesetClear();
    MathJax.texReset();
    return MathJax.typesetPromise();
  });
});
